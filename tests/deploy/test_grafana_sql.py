"""Every panel's SQL, expanded as Grafana would, runs against the real database as the read-only
role and returns what its panel needs; a simulated park day gives every panel rows."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from accounting.i18n import Lang
from deploy.grafana import DATASOURCE_UID, READER_ROLE
from deploy.grafana import macros as m
from deploy.grafana.build import Generated, generate
from simulators.profiles import Carrier as Sim
from simulators.profiles import load_factor

pytestmark = pytest.mark.integration

TZ = "Asia/Shanghai"
KG_CO2_PER_KWH, T_CO2_PER_NM3 = 0.5703e-3, 2.1622e-3


@dataclass(frozen=True)
class Park:
    park_id: str
    enterprises: tuple[str, ...]
    now: datetime


def _meters(ent: str) -> list[tuple[str, str, str, str, str, Sim, float]]:
    """(meter id, carrier, unit, register kind, source category, profile, mean per hour)."""
    cum, inst, only = "cumulative", "instantaneous", "activity_only"
    return [
        (f"{ent}.E", "electricity", "kWh", cum, "purchased_electricity", Sim.ELECTRICITY, 800.0),
        (f"{ent}.G", "natural_gas", "Nm3", cum, "stationary_combustion", Sim.GAS, 120.0),
        (f"{ent}.P", "production_output", "t", cum, only, Sim.PRODUCTION, 4.0),
        (f"{ent}.KW", "electricity", "kW", inst, only, Sim.ELECTRICITY, 800.0),
    ]


def _fill(conn: psycopg.Connection[Any], u: str) -> Park:
    now = datetime.now(UTC)
    local_today = now.astimezone(ZoneInfo(TZ)).date()
    park = f"gf{u}"
    ents = tuple(f"gf{u}-{name}" for name in ("steel", "chem", "food"))
    conn.execute(
        "INSERT INTO park (park_id, name, timezone) VALUES (%s, %s, %s)", (park, f"Park {u}", TZ)
    )
    for ent in ents:
        conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, park, ent.split("-")[1].title() + f" {u}"),
        )
    steel, chem, food = ents
    due = {
        f"{steel}.G": local_today - timedelta(days=10),
        f"{chem}.E": local_today + timedelta(days=10),
    }
    hour0 = now.replace(minute=0, second=0, microsecond=0)
    windows, readings = [], []
    for ent in ents:
        for meter_id, carrier, unit, kind, category, sim, mean in _meters(ent):
            conn.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, expected_interval_s, calibration_due)"
                " VALUES (%s, %s, %s, %s, %s, %s, 300, %s)",
                (meter_id, ent, carrier, unit, kind, category, due.get(meter_id, date(2099, 1, 1))),
            )
            factor = {"electricity": KG_CO2_PER_KWH, "natural_gas": T_CO2_PER_NM3}
            # 48 hourly windows up to and including the current hour, 24 five-minute panes.
            for width, count in ((3600, 49), (300, 24)):
                step = timedelta(seconds=width)
                last = (
                    hour0
                    if width == 3600
                    else now.replace(second=0, microsecond=0)
                    - timedelta(minutes=now.minute % 5 + 5)
                )
                for i in range(count):
                    start = last - i * step
                    activity = mean * width / 3600 * load_factor(start.timestamp(), sim)
                    tco2e = activity * factor[carrier] if category != "activity_only" else 0.0
                    present = width / 300 * (0.6 if i % 11 == 3 else 0.98)
                    windows.append(
                        (meter_id, width, start, start + step, ent, category, activity,
                         unit, tco2e, present, width / 300, min(1.0, present / (width / 300)))
                    )  # fmt: skip
            silent = meter_id == f"{food}.KW"  # a stale meter: nothing for four hours
            for i in range(36):
                ts = now - timedelta(minutes=5 * i + (240 if silent else 0))
                flags = (1 << 19) if meter_id == f"{steel}.G" else (1 << 17 if i % 9 == 0 else 0)
                readings.append(
                    (meter_id, ts, 1000.0 + i, unit, flags, "modbus", "gw-gf", 1000 - i)
                )
    conn.execute(
        "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind, source_category,"
        " status, retired_at) VALUES (%s, %s, 'water', 'm3', 'cumulative', 'activity_only',"
        " 'retired', now())",
        (f"{food}.OLD", food),
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, activity, activity_unit, tco2e, readings_present,"
            " readings_expected, completeness) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            windows,
        )
        cur.executemany(
            "INSERT INTO reading (meter_id, ts, value, unit, flags, source, gateway_id, seq)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
            readings,
        )
        cur.executemany(
            "INSERT INTO rejected_reading (meter_id, ts, value, unit, source, gateway_id, seq,"
            " reason, rejected_at, dedupe_key) VALUES (%s,%s,1,'kWh','modbus','gw-gf',1,%s,%s,%s)",
            [
                (
                    mid,
                    now - timedelta(minutes=37 * i),
                    reason,
                    now - timedelta(minutes=37 * i),
                    f"gf{u}-{i}",
                )
                for i, (mid, reason) in enumerate(
                    [
                        (f"{steel}.E", "SPIKE"),
                        (f"{chem}.G", "NEGATIVE_DELTA"),
                        (f"gf{u}-ghost", "UNKNOWN_METER"),
                    ]
                    * 6
                )
            ],
        )
    month = local_today.replace(day=1)
    year = local_today.replace(month=1, day=1)
    targets = [
        ("park", park, "day", local_today, 40.0, None, None),
        ("park", park, "month", month, 1200.0, None, None),
        ("park", park, "year", year, 14000.0, None, None),
        ("enterprise", steel, "month", month, 500.0, 2.5, "t product"),
    ] + [("enterprise", ent, "year", year, 5000.0, 3.0, "t product") for ent in ents]
    for row in targets:
        conn.execute(
            "INSERT INTO target (subject_kind, subject_id, period_kind, period_start,"
            " absolute_tco2e, intensity, intensity_unit, created_by)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,'test')",
            row,
        )
    conn.execute(
        "INSERT INTO baseline (subject_kind, subject_id, method, base_year, period_kind,"
        " value_tco2e, effective, created_by) VALUES ('park', %s, 'base_year', %s, 'year',"
        " 15000, %s, 'test')",
        (park, year.year - 1, year.replace(year=year.year - 1)),
    )
    alerts = {}
    for key, (rule, kind, subject, ent, state) in {
        "target": ("EMISSIONS_ABOVE_TARGET", "enterprise", steel, steel, "RAISED"),
        "ghost": ("UNKNOWN_METER", "meter", f"gf{u}-ghost", None, "UPDATED"),
        "old": ("COMPLETENESS_LOW", "meter", f"{chem}.E", chem, "RESOLVED"),
    }.items():
        alerts[key] = uuid.uuid4()
        conn.execute(
            "INSERT INTO alert (alert_id, rule, subject_kind, subject_id, enterprise_id, width_s,"
            " first_window_start, window_start, window_end, measured, expected, unit, tolerance,"
            " cause, message, state, first_raised_at, last_updated_at, resolved_at)"
            " VALUES (%s,%s,%s,%s,%s,3600,%s,%s,%s,12,10,'tCO2e',0.05,'other','test',%s,%s,%s,%s)",
            (alerts[key], rule, kind, subject, ent, hour0 - timedelta(hours=3),
             hour0 - timedelta(hours=2), hour0 - timedelta(hours=1), state,
             now - timedelta(hours=3), now - timedelta(hours=1),
             now if state == "RESOLVED" else None),
        )  # fmt: skip
    cause = ("other", "a test root cause", "none found")
    tickets = [
        ("open", steel, now - timedelta(hours=5), None, (None, None, None)),
        ("action_in_progress", chem, now - timedelta(days=9), None, cause),
        ("closed", food, now - timedelta(days=3), now - timedelta(hours=2), cause),
    ]
    ids = []
    for i, (state, ent, opened, closed, (category, root, similar)) in enumerate(tickets):
        row = conn.execute(
            "INSERT INTO ticket (rule, subject_kind, subject_id, enterprise_id, state, title,"
            " suggested_cause, cause_category, root_cause, similar_nonconformities, opened_at,"
            " closed_at) VALUES (%s, 'enterprise', %s, %s, %s, %s, 'other', %s, %s, %s, %s, %s)"
            " RETURNING ticket_id",
            (f"EMISSIONS_ABOVE_TARGET_{i}", ent, ent, state, f"ticket {i} {u}", category, root,
             similar, opened, closed),
        ).fetchone()  # fmt: skip
        assert row is not None
        ids.append(row[0])
    conn.execute(
        "INSERT INTO ticket_action (ticket_id, description, owner, due_at, created_by)"
        " VALUES (%s, 'recalibrate the gas meter', 'ops', %s, 'test'),"
        "        (%s, 'check the CT ratio', 'ops', %s, 'test')",
        (ids[1], now - timedelta(days=1), ids[0], now + timedelta(days=3)),
    )
    return Park(park, ents, now)


@pytest.fixture(scope="module")
def park(database_url: str) -> Iterator[Park]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield _fill(conn, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def reader(database_url: str, park: Park) -> Iterator[psycopg.Connection[Any]]:
    """A session with only the Grafana role's privileges (migration 0011)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {READER_ROLE}")
        conn.execute("SET statement_timeout = '30s'")
        yield conn


def _panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _variables(model: dict[str, Any], park: Park, enterprises: list[str]) -> dict[str, m.Variable]:
    values: dict[str, m.Variable] = {}
    for var in model["templating"]["list"]:
        if var["name"] == "park":
            values["park"] = m.Variable(park.park_id, var["multi"], var["includeAll"])
        elif var["name"] == "enterprise":
            values["enterprise"] = m.Variable(list(enterprises), var["multi"], var["includeAll"])
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _check(
    dashboard: Generated, panel: dict[str, Any], target: dict[str, Any], columns: list[str],
    rows: list[tuple[Any, ...]], *, want_rows: bool,
) -> None:  # fmt: skip
    where = f"{dashboard.uid} / {panel['title']} / {target['refId']}"
    expected = dashboard.expectations[(panel["id"], target["refId"])]
    assert target["format"] == expected.format, where
    if want_rows and expected.rows:
        assert rows, f"{where}: no rows from the simulated day"
    if expected.format == "table":
        assert tuple(columns) == expected.columns, where
        return
    # A time series: a "time" column (timestamp or epoch seconds), ascending, never null;
    # every other column all numbers (values) or all text (the metric or labels); one value.
    assert "time" in columns, where
    t = columns.index("time")
    times = [row[t] for row in rows]
    assert all(isinstance(v, datetime) or _is_number(v) for v in times), where
    keys = [v.timestamp() if isinstance(v, datetime) else float(v) for v in times]
    assert keys == sorted(keys), f"{where}: rows must come in time order"
    numeric = 0
    for i, name in enumerate(columns):
        if i == t:
            continue
        values = [row[i] for row in rows if row[i] is not None]
        if all(_is_number(v) for v in values):
            numeric += 1
        else:
            assert all(isinstance(v, str) for v in values), f"{where}: column {name}"
    assert numeric >= 1, where


RANGES = (  # (span back from now, max data points of the panel)
    (timedelta(hours=24), 1000),
    (timedelta(days=7), 300),
    (timedelta(days=30), 1500),
)


# The languages share their SQL (tests/deploy/test_grafana.py checks it): run it once.
@pytest.mark.parametrize(
    "dashboard", [d for d in generate() if d.lang is Lang.EN], ids=lambda d: d.uid
)
def test_every_panel_query_runs_and_fits_its_panel(
    dashboard: Generated, park: Park, reader: psycopg.Connection[Any]
) -> None:
    selections = [list(park.enterprises), [park.enterprises[0]], list(park.enterprises[1:])]
    ran = 0
    for span, points in RANGES:
        time_to = park.now
        time_from = time_to - span
        for chosen in selections:
            variables = _variables(dashboard.model, park, chosen)
            default = chosen == selections[0] and span == timedelta(hours=24)
            for panel in _panels(dashboard.model):
                for target in panel.get("targets", []):
                    if target["datasource"]["uid"] != DATASOURCE_UID:
                        continue
                    interval = m.panel_interval(time_from, time_to, points, panel.get("interval"))
                    sql = m.expand(
                        target["rawSql"], variables=variables, time_from=time_from,
                        time_to=time_to, interval=interval,
                    )  # fmt: skip
                    assert "$" not in sql, sql
                    with reader.cursor() as cur:
                        cur.execute(sql.encode())
                        assert cur.description is not None
                        columns = [c.name for c in cur.description]
                        rows = cur.fetchall()
                    _check(dashboard, panel, target, columns, rows, want_rows=default)
                    ran += 1
    assert ran >= len(dashboard.expectations) * len(RANGES) * len(selections)


def test_variable_queries_list_the_park_and_its_enterprises(
    park: Park, reader: psycopg.Connection[Any]
) -> None:
    for dashboard in generate():
        for var in dashboard.model["templating"]["list"]:
            sql = m.interpolate_variables(var["query"], {"park": m.Variable(park.park_id)})
            with reader.cursor() as cur:
                cur.execute(sql.encode())
                assert cur.description is not None
                assert [c.name for c in cur.description] == ["__value", "__text"]
                values = {row[0] for row in cur.fetchall()}
            if var["name"] == "park":
                assert park.park_id in values
            else:
                assert values == set(park.enterprises)


def test_figures_follow_the_park_day(park: Park, reader: psycopg.Connection[Any]) -> None:
    """'CO2e today' is the sum of the hourly windows since the park's local midnight."""
    overview = next(d for d in generate() if d.uid == "parkcarbon-park-overview-en")
    panel = next(p for p in _panels(overview.model) if p.get("title") == "CO2e today")
    sql = m.expand(
        panel["targets"][0]["rawSql"], variables={"park": m.Variable(park.park_id)},
        time_from=park.now - timedelta(days=1), time_to=park.now, interval=timedelta(hours=1),
    )  # fmt: skip
    shown = reader.execute(sql.encode()).fetchone()
    midnight = datetime.combine(
        park.now.astimezone(ZoneInfo(TZ)).date(), datetime.min.time(), ZoneInfo(TZ)
    )
    expected = reader.execute(
        "SELECT sum(tco2e) FROM emission_window WHERE width_s = 3600 AND window_start >= %s"
        " AND enterprise_id = ANY(%s) AND source_category <> 'activity_only'",
        (midnight, list(park.enterprises)),
    ).fetchone()
    assert shown is not None and expected is not None
    assert math.isclose(shown[0], expected[0], rel_tol=1e-9)


def test_the_reader_cannot_write_or_read_secrets(reader: psycopg.Connection[Any]) -> None:
    for sql in ("SELECT * FROM api_key LIMIT 1", "SELECT * FROM webhook_endpoint LIMIT 1",
                "DELETE FROM alert WHERE false"):  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(sql)


def test_energy_in_tce_is_the_catalogue_coefficient_times_the_counted_activity(
    park: Park, reader: psycopg.Connection[Any]
) -> None:
    """GB/T 2589-2020 by hand: electricity at the park's default equal value 0.1229 kgce/kWh,
    natural gas 1.2143 kgce/Nm3; output and power (kW) meters are not energy."""
    overview = next(d for d in generate() if d.uid == "parkcarbon-park-overview-en")
    panel = next(
        p
        for p in _panels(overview.model)
        if p.get("title") == "Energy by enterprise and carrier (tce)"
    )
    time_from, time_to = park.now - timedelta(hours=24), park.now
    sql = m.expand(
        panel["targets"][0]["rawSql"], variables={"park": m.Variable(park.park_id)},
        time_from=time_from, time_to=time_to, interval=timedelta(hours=1),
    )  # fmt: skip
    shown = {(row[0], row[1]): row for row in reader.execute(sql.encode()).fetchall()}
    kgce = {"electricity": 0.1229, "natural_gas": 1.2143}
    for ent in park.enterprises:
        name = reader.execute(
            "SELECT name FROM enterprise WHERE enterprise_id = %s", (ent,)
        ).fetchone()
        assert name is not None
        for carrier, unit, meter in (("electricity", "kWh", "E"), ("natural_gas", "Nm3", "G")):
            activity = reader.execute(
                "SELECT sum(activity) FROM emission_window WHERE meter_id = %s AND width_s = 3600"
                " AND window_start >= %s AND window_start <= %s",
                (f"{ent}.{meter}", time_from, time_to),
            ).fetchone()
            assert activity is not None and activity[0] > 0
            _, _, shown_activity, shown_unit, tce = shown[(name[0], carrier)]
            assert shown_unit == unit
            assert math.isclose(shown_activity, activity[0], rel_tol=1e-9)
            assert math.isclose(tce, activity[0] * kgce[carrier] / 1000, rel_tol=1e-9)
    assert {carrier for _, carrier in shown} == {"electricity", "natural_gas"}
