"""The deviation stage (clause 9.1 b): closed hourly windows -> findings -> de-duplicated alerts.

Evaluates, for each computed hourly window: the meter's own figures (completeness, validation
failure rate, calibration, factor, and its targets/baselines if it has any); the enterprise's
hour once every active meter of the enterprise has its window for that hour; and, for readings
quarantined as UNKNOWN_METER or UNAUTHORIZED_SOURCE (a gateway not granted the meter,
``stream.authorization``), a scope-deviation finding. The rules are ``accounting.deviation``;
the alert life cycle is ``accounting.alerting``; alerts are stored idempotently by id and sent
to the ``alerts`` topic. Open alerts are reloaded from the database at start, so a restart
never raises a second alert for a condition that persists.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from accounting.alerting import AlertRecord, AlertTracker
from accounting.categories import SourceCategory
from accounting.deviation import (
    DEFAULT_ALERT_HORIZON_MS,
    DEFAULT_THRESHOLDS,
    CauseCategory,
    Finding,
    Rule,
    evaluate_batch,
    within_alert_horizon,
)
from accounting.intensity import OUTPUT_CARRIER, OutputUnit
from accounting.window_figures import Expectation, SubjectKind, Thresholds, WindowFigures
from accounting.windows import WindowResult
from contracts.alerts import Alert, alert_from_event
from store.alerts import upsert_alerts
from stream.expectations import expectations_for
from stream.registry import RegistryCache

HOUR_S = 3600
_PERIOD_RANK = {"day": 0, "month": 1, "year": 2}  # the finest period that covers a window wins
_ENTERPRISE_RULES = (
    Rule.EMISSIONS_ABOVE_TARGET,
    Rule.EMISSIONS_ABOVE_BASELINE,
    Rule.INTENSITY_ABOVE_TARGET,
    Rule.COMPLETENESS_LOW,
    Rule.EMISSION_FACTOR_MISSING,
)
# An unauthorized gateway's readings never enter the meter's window: that rule is judged on its
# own figures only, so a clean window of the meter does not clear it (the ticket closes it).
_METER_RULES = tuple(r for r in Rule if r is not Rule.UNAUTHORIZED_SOURCE)
_SCOPE_REASONS = ["UNKNOWN_METER", "UNAUTHORIZED_SOURCE"]  # not the meter's validation failures


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class DeviationStage:
    def __init__(
        self,
        database_url: str,
        registry: RegistryCache,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        *,
        horizon_ms: int = DEFAULT_ALERT_HORIZON_MS,
    ) -> None:
        self._url = database_url
        self._registry = registry
        self._thresholds = thresholds
        # Windows ending longer ago are not evaluated (``within_alert_horizon``): history.
        self._horizon_ms = horizon_ms
        self._conn: psycopg.Connection[Any] | None = None
        self.tracker: AlertTracker | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        return self._conn

    def evaluate(
        self,
        results: Sequence[WindowResult],
        unknown: Sequence[tuple[str, int]],
        now_ms: int,
        unauthorized: Sequence[tuple[str, int]] = (),
    ) -> list[Alert]:
        """Alerts caused by these window results and the (meter, ts_ms) of readings quarantined
        as UNKNOWN_METER (``unknown``) and as UNAUTHORIZED_SOURCE (``unauthorized``).

        Only hours that ended within the alert horizon of ``now_ms`` are evaluated; older ones
        (history imports, recomputed past periods) raise and resolve nothing. A database error
        is raised after the open-alert tracker is dropped (it may be ahead of what was stored):
        the next call reloads it from the database, so a retry raises the same alerts."""
        try:
            return self._evaluate(results, unknown, now_ms, unauthorized)
        except psycopg.OperationalError:
            self.tracker = None
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self._conn.close()
            self._conn = None
            raise

    def _evaluate(
        self,
        results: Sequence[WindowResult],
        unknown: Sequence[tuple[str, int]],
        now_ms: int,
        unauthorized: Sequence[tuple[str, int]],
    ) -> list[Alert]:
        conn = self._connection()
        if self.tracker is None:
            self.tracker = AlertTracker(records=_open_records(conn))

        def recent(start_ms: int) -> bool:
            return within_alert_horizon(start_ms + HOUR_S * 1000, now_ms, self._horizon_ms)

        hourly = [r for r in results if r.key.width_s == HOUR_S and recent(_ms(r.key.window_start))]
        unknown = [(m, t) for m, t in unknown if recent(t - t % (HOUR_S * 1000))]
        unauthorized = [(m, t) for m, t in unauthorized if recent(t - t % (HOUR_S * 1000))]
        figures: list[tuple[WindowFigures, tuple[Rule, ...]]] = []
        outputs: dict[int, dict[OutputUnit, float]] = {}  # an enterprise hour's output, by unit
        rejected = _rejected_counts(conn, hourly)
        for r in hourly:
            figures.append(
                (
                    self._meter_figures(r, rejected.get((r.key.meter_id, r.key.window_start), 0)),
                    _METER_RULES,
                )
            )
        for ent, start in sorted({(r.enterprise_id, r.key.window_start) for r in hourly}):
            found = self._enterprise_figures(conn, ent, start)
            if found is not None:
                outputs[len(figures)] = found[1]
                figures.append((found[0], _ENTERPRISE_RULES))
        for (meter_id, start_ms), n in sorted(_per_hour(unknown).items()):
            figures.append(
                (
                    WindowFigures.unknown_meter(
                        meter_id, width_s=HOUR_S, window_start_ms=start_ms, readings=n
                    ),
                    (Rule.UNKNOWN_METER,),
                )
            )
        for (meter_id, start_ms), n in sorted(_per_hour(unauthorized).items()):
            meter = self._registry.meters.get(meter_id)
            figures.append(
                (
                    WindowFigures.unauthorized_source(
                        meter_id,
                        enterprise_id=meter.enterprise_id if meter else None,
                        width_s=HOUR_S,
                        window_start_ms=start_ms,
                        readings=n,
                    ),
                    (Rule.UNAUTHORIZED_SOURCE,),
                )
            )
        if not figures:
            return []
        expectations = expectations_for(conn, [f for f, _ in figures])
        for i, output in outputs.items():
            figures[i] = _with_output(*figures[i], output, expectations[i])
        findings = evaluate_batch([f for f, _ in figures], expectations, self._thresholds)
        by_window: dict[tuple[str, str, int], list[Finding]] = defaultdict(list)
        for finding in findings:
            by_window[(finding.subject_kind, finding.subject_id, finding.window_start_ms)].append(
                finding
            )
        alerts = []
        for fig, rules in figures:
            mine = [
                f
                for f in by_window[(fig.subject_kind, fig.subject_id, fig.window_start_ms)]
                if f.rule in rules
            ]
            for event in self.tracker.observe(fig, mine, rules=rules):
                alerts.append(alert_from_event(event, raised_at_ms=now_ms))
        upsert_alerts(conn, alerts=alerts)
        return alerts

    def _meter_figures(self, r: WindowResult, rejected: int) -> WindowFigures:
        meter = self._registry.meters.get(r.key.meter_id)
        due = meter.calibration_due if meter else None
        category = (
            SourceCategory(r.source_category)
            if r.source_category in SourceCategory.__members__.values()
            else None
        )
        return WindowFigures(
            subject_kind=SubjectKind.METER,
            subject_id=r.key.meter_id,
            enterprise_id=r.enterprise_id,
            source_category=category,
            width_s=HOUR_S,
            window_start_ms=_ms(r.key.window_start),
            window_end_ms=_ms(r.window_end),
            activity=r.activity,
            activity_unit=r.activity_unit,
            tco2e=r.tco2e,
            completeness=r.completeness,
            accepted_readings=r.readings_present,
            rejected_readings=rejected,
            flags=r.flags,
            factor_versions=r.factor_versions,
            calibration_due_ms=(
                _ms(datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
                if due
                else None
            ),
        )

    def _enterprise_figures(
        self, conn: psycopg.Connection[Any], enterprise_id: str, start: datetime
    ) -> tuple[WindowFigures, dict[OutputUnit, float]] | None:
        """The enterprise's hour, once every meter's hour is in, and its output in each unit
        its output meters measured (the intensity denominators, clause 6.4)."""
        active = sum(1 for m in self._registry.meters.values() if m.enterprise_id == enterprise_id)
        row = conn.execute(
            # Every meter's hour must be in; the figures are the enterprise's total as the
            # boundary rule counts it (counted_window, docs/boundary.md).
            """SELECT (SELECT count(*) FROM emission_window
                       WHERE enterprise_id = %(e)s AND width_s = %(w)s AND window_start = %(s)s),
                      coalesce(sum(w.tco2e), 0), coalesce(sum(w.readings_present), 0),
                      coalesce(sum(w.readings_expected), 0), coalesce(bit_or(w.flags), 0),
                      coalesce(bool_or(cardinality(w.factor_versions) = 0 AND w.activity <> 0
                               AND w.source_category <> 'activity_only'), false),
                      sum(w.activity) FILTER (WHERE m.carrier = %(product)s),
                      sum(w.activity) FILTER (WHERE m.carrier = %(value)s)
               FROM counted_window w JOIN meter m USING (meter_id)
               WHERE w.enterprise_id = %(e)s AND w.width_s = %(w)s AND w.window_start = %(s)s""",
            {
                "e": enterprise_id,
                "w": HOUR_S,
                "s": start,
                "product": OUTPUT_CARRIER[OutputUnit.TONNE_PRODUCT].value,
                "value": OUTPUT_CARRIER[OutputUnit.CNY_10K].value,
            },
        ).fetchone()
        if row is None or row[0] < active:
            return None  # not every meter's hour is in yet
        _, tco2e, present, expected, flags, missing, product, value = row
        measured = {OutputUnit.TONNE_PRODUCT: product, OutputUnit.CNY_10K: value}
        figures = WindowFigures(
            subject_kind=SubjectKind.ENTERPRISE,
            subject_id=enterprise_id,
            enterprise_id=enterprise_id,
            source_category=None,
            width_s=HOUR_S,
            window_start_ms=_ms(start),
            window_end_ms=_ms(start) + HOUR_S * 1000,
            activity=0.0,
            activity_unit="",
            tco2e=float(tco2e),
            completeness=min(1.0, float(present) / float(expected)) if expected else 1.0,
            accepted_readings=float(present),
            rejected_readings=0.0,
            flags=int(flags),
            factor_missing=bool(missing),
        )
        return figures, {u: float(v) for u, v in measured.items() if v is not None}


def _with_output(
    figures: WindowFigures,
    rules: tuple[Rule, ...],
    output: Mapping[OutputUnit, float],
    expectation: Expectation,
) -> tuple[WindowFigures, tuple[Rule, ...]]:
    """An enterprise hour with the output its intensity limit is stated in (clause 6.4).

    An hour with no output in that unit (none metered, or a register that did not move) has no
    intensity: the rule is not evaluated there, so it neither raises nor resolves the alert -
    an intensity alert is resolved by an hour that produced within its limit, not by an idle
    one. Without an intensity limit the rule is evaluated and clear."""
    unit = expectation.intensity_unit
    if unit is None:
        return figures, rules
    amount = output.get(unit, 0.0)
    if amount <= 0:
        return figures, tuple(r for r in rules if r is not Rule.INTENSITY_ABOVE_TARGET)
    return dataclasses.replace(figures, output=amount, output_unit=unit), rules


def _per_hour(readings: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """How many of these (meter, ts_ms) readings fall in each (meter, hour start ms)."""
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for meter_id, ts_ms in readings:
        counts[(meter_id, ts_ms - ts_ms % (HOUR_S * 1000))] += 1
    return counts


def _rejected_counts(
    conn: psycopg.Connection[Any], hourly: Sequence[WindowResult]
) -> dict[tuple[str, datetime], int]:
    if not hourly:
        return {}
    rows = conn.execute(
        """SELECT k.meter_id, k.start, count(r.*)
           FROM unnest(%s::text[], %s::timestamptz[]) AS k(meter_id, start)
           LEFT JOIN rejected_reading r ON r.meter_id = k.meter_id AND r.ts >= k.start
                AND r.ts < k.start + interval '1 hour' AND r.reason <> ALL(%s)
           GROUP BY 1, 2""",
        ([r.key.meter_id for r in hourly], [r.key.window_start for r in hourly], _SCOPE_REASONS),
    ).fetchall()
    return {(m, s): int(n) for m, s, n in rows}


def _open_records(conn: psycopg.Connection[Any]) -> dict[str, AlertRecord]:
    """Open alerts from the database, as tracker records: a restart continues them."""
    from accounting.alerting import alert_key

    rows = conn.execute(
        """SELECT rule, subject_kind, subject_id, enterprise_id, width_s, first_window_start,
                  window_start, window_end, measured, expected, unit, tolerance, cause, message
           FROM alert WHERE state <> 'RESOLVED'"""
    ).fetchall()
    records = {}
    for (
        rule,
        kind,
        sid,
        ent,
        width,
        first,
        start,
        end,
        measured,
        expected,
        unit,
        tol,
        cause,
        message,
    ) in rows:
        finding = Finding(
            rule=Rule(rule),
            subject_kind=SubjectKind(kind),
            subject_id=sid,
            enterprise_id=ent,
            width_s=width,
            window_start_ms=_ms(start),
            window_end_ms=_ms(end),
            measured=measured,
            expected=expected,
            unit=unit,
            tolerance=tol,
            cause=CauseCategory(cause),
            message=message,
        )
        records[alert_key(Rule(rule), SubjectKind(kind), sid, width)] = AlertRecord(
            True, _ms(first), _ms(start), 0, finding
        )
    return records
