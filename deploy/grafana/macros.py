"""What Grafana does to a panel's SQL before PostgreSQL sees it, done the same way here.

So the tests can run every panel's query against a real database exactly as Grafana would send
it. Three steps, in Grafana's order (Grafana 12, ``public/app/features/plugins/sql`` and
``pkg/tsdb/grafana-postgresql-datasource``):

1. The browser replaces template variables (``SqlDatasource.interpolateVariable``): a
   single-value variable goes in as its text with ``'`` doubled; a multi-value or include-All
   variable as ``'a','b'`` (each quoted, quotes doubled); All without a custom all value means
   every option. The panel's interval (``$__interval``, ``$__interval_ms``) is a scoped variable.
2. The backend's global substitutions (``sqleng.Interpolate``): ``$__interval_ms``,
   ``$__interval``, ``$__unixEpochFrom()``, ``$__unixEpochTo()``.
3. The PostgreSQL macro engine (``macros.go``): ``$__time``, ``$__timeEpoch``, ``$__timeFilter``,
   ``$__timeFrom``, ``$__timeTo``, ``$__timeGroup`` (``time_bucket`` when the datasource's
   ``timescaledb`` option is on, else ``floor(extract(epoch ...))``), ``$__timeGroupAlias``,
   ``$__unixEpochFilter``, ``$__unixEpochNanoFilter``, ``$__unixEpochNanoFrom/To``,
   ``$__unixEpochGroup(Alias)``; any other ``$name(...)`` is an error.

The interval is the browser's: the time range divided by the panel's max data points, rounded
to a "nice" step (``rangeutil.roundInterval``), and no smaller than the panel's min interval or,
without one, the datasource's (``1m`` unless configured).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown name, missing argument, bad interval)."""


@dataclass(frozen=True)
class Variable:
    """A dashboard variable's current value, with the flags that decide its quoting."""

    value: str | list[str]
    multi: bool = False
    include_all: bool = False


_VARIABLE = re.compile(r"\$(\w+)")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def interpolate_variables(sql: str, variables: dict[str, Variable]) -> str:
    """Step 1: ``$name`` of each dashboard variable, as the SQL datasources format it."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            return match.group(0)  # unknown names stay (Grafana's templateSrv does the same)
        var = variables[name]
        if isinstance(var.value, list):
            return ",".join(_quote_literal(v) for v in var.value)
        if var.multi or var.include_all:
            return _quote_literal(var.value)
        return var.value.replace("'", "''")

    return _VARIABLE.sub(replace, sql)


def round_interval_ms(interval_ms: float) -> int:
    """Grafana's ``rangeutil.roundInterval``."""
    steps = (
        (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
        (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
        (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000),
        (750000, 600000), (1050000, 900000), (1500000, 1200000), (2700000, 1800000),
        (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
        (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
        (1814400000, 604800000), (3628800000, 2592000000),
    )  # fmt: skip
    for below, rounded in steps:
        if interval_ms < below:
            return rounded
    return 31536000000


def parse_interval(text: str) -> timedelta:
    """``gtime.ParseInterval`` for the units the panels use (ms to weeks)."""
    match = _INTERVAL.match(text.strip().strip("'"))
    if match is None:
        raise MacroError(f"error parsing interval {text}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def format_interval(interval: timedelta) -> str:
    """``gtime.FormatInterval``: the largest whole unit, truncated."""
    ms = int(interval / timedelta(milliseconds=1))
    for unit_ms, suffix in (
        (365 * 86400000, "y"), (86400000, "d"), (3600000, "h"), (60000, "m"), (1000, "s"),
        (1, "ms"),
    ):  # fmt: skip
        if ms >= unit_ms:
            return f"{ms // unit_ms}{suffix}"
    return "1ms"


def panel_interval(
    time_from: datetime, time_to: datetime, max_data_points: int, min_interval: str | None
) -> timedelta:
    """The browser's ``calculateInterval`` with the panel's (or the datasource's) low limit."""
    span_ms = (time_to - time_from) / timedelta(milliseconds=1)
    interval_ms = round_interval_ms(span_ms / max_data_points)
    low = parse_interval(min_interval or "1m") / timedelta(milliseconds=1)
    return timedelta(milliseconds=max(interval_ms, low))


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form from 1e+06 and below 1e-04."""
    digits = Decimal(repr(float(value))).normalize()
    sign, mantissa, exponent = digits.as_tuple()
    assert isinstance(exponent, int)
    nd = len(mantissa)
    exp = nd + exponent - 1  # decimal exponent of the first digit
    if exp < -4 or exp >= 6:
        body = "".join(str(d) for d in mantissa)
        text = body[0] + ("." + body[1:] if nd > 1 else "")
        return f"{'-' if sign else ''}{text}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return format(digits, "f")


def rfc3339nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time: trailing zeros of the fraction dropped."""
    utc = moment.astimezone(UTC)
    text = utc.replace(tzinfo=None, microsecond=0).isoformat()  # four-digit years, as Go
    if utc.microsecond:
        text += ("." + f"{utc.microsecond:06d}").rstrip("0")
    return text + "Z"


def _unix(moment: datetime) -> int:
    return int(moment.timestamp() // 1)


def _unix_nano(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def interpolate_globals(
    sql: str, time_from: datetime, time_to: datetime, interval: timedelta
) -> str:
    """Step 2: ``sqleng.Interpolate``."""
    sql = sql.replace("$__interval_ms", str(int(interval / timedelta(milliseconds=1))))
    sql = sql.replace("$__interval", format_interval(interval))
    sql = sql.replace("$__unixEpochFrom()", str(_unix(time_from)))
    return sql.replace("$__unixEpochTo()", str(_unix(time_to)))


def _evaluate(
    name: str, args: list[str], time_from: datetime, time_to: datetime, timescaledb: bool
) -> str:
    def need_column() -> str:
        if not args or args == [""]:
            raise MacroError(f"missing time column argument for macro {name}")
        return args[0]

    match name:
        case "__time":
            return f'{need_column()} AS "time"'
        case "__timeEpoch":
            return f'extract(epoch from {need_column()}) as "time"'
        case "__timeFilter":
            col = need_column()
            return f"{col} BETWEEN '{rfc3339nano(time_from)}' AND '{rfc3339nano(time_to)}'"
        case "__timeFrom":
            return f"'{rfc3339nano(time_from)}'"
        case "__timeTo":
            return f"'{rfc3339nano(time_to)}'"
        case "__timeGroup" | "__unixEpochGroup":
            if len(args) < 2:
                raise MacroError(
                    f"macro {name} needs time column and interval and optional fill value"
                )
            seconds = parse_interval(args[1]).total_seconds()
            if name == "__timeGroup" and timescaledb:
                return f"time_bucket('{seconds:.3f}s',{args[0]})"
            if name == "__timeGroup":
                return (
                    f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"
                )
            return f"floor(({args[0]})/{go_float(seconds)})*{go_float(seconds)}"
        case "__timeGroupAlias" | "__unixEpochGroupAlias":
            inner = "__timeGroup" if name == "__timeGroupAlias" else "__unixEpochGroup"
            return _evaluate(inner, args, time_from, time_to, timescaledb) + ' AS "time"'
        case "__unixEpochFilter":
            col = need_column()
            return f"{col} >= {_unix(time_from)} AND {col} <= {_unix(time_to)}"
        case "__unixEpochNanoFilter":
            col = need_column()
            return f"{col} >= {_unix_nano(time_from)} AND {col} <= {_unix_nano(time_to)}"
        case "__unixEpochNanoFrom":
            return str(_unix_nano(time_from))
        case "__unixEpochNanoTo":
            return str(_unix_nano(time_to))
    raise MacroError(f'unknown macro "{name}"')


def interpolate_macros(
    sql: str, time_from: datetime, time_to: datetime, *, timescaledb: bool = False
) -> str:
    """Step 3: the PostgreSQL macro engine, including its pre-5.3 ``$__timeGroup,`` quirk."""
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup":
            # A ',' right after the macro means the old form, which aliased the column.
            index = original.find(match.group(0))
            if index >= 0:
                index += len(match.group(0))
                if len(original) > index and original[index] == ",":
                    name = "__timeGroupAlias"
        args = [a.strip(" ") for a in match.group(2).split(",")]
        return _evaluate(name, args, time_from, time_to, timescaledb)

    return _MACRO.sub(replace, sql)


def expand(
    sql: str,
    *,
    variables: dict[str, Variable],
    time_from: datetime,
    time_to: datetime,
    interval: timedelta,
    timescaledb: bool = False,
) -> str:
    """The SQL Grafana's PostgreSQL datasource would run for this panel target."""
    scoped = dict(variables)
    scoped["__interval"] = Variable(format_interval(interval))
    scoped["__interval_ms"] = Variable(str(int(interval / timedelta(milliseconds=1))))
    sql = interpolate_variables(sql, scoped)
    sql = interpolate_globals(sql, time_from, time_to, interval)
    return interpolate_macros(sql, time_from, time_to, timescaledb=timescaledb)
