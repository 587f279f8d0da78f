"""Targets and baselines for the deviation agent, and the idempotent upsert of its alerts.

Clauses 6.2 (targets), 6.5 (baselines, restated never in place: the current one is the head of
each subject's restatement chain) and 9.1 b (alerts). An alert row is keyed by its deterministic
id; a step replaces the stored one only if it is later in the alert's life, so a replayed or
reordered step never winds an alert back, and each change of state is audited once (7.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from accounting.alerting import AlertState
from stream.alerts import Alert
from stream.records import ms_to_iso

Subject = tuple[str, str]  # (subject_kind, subject_id)


@dataclass(frozen=True, slots=True)
class TargetRow:
    target_id: int
    subject_kind: str
    subject_id: str
    period_kind: str  # 'year' | 'month' | 'day', of the park's local calendar
    period_start: date
    period_end: date  # exclusive
    method: str
    absolute_tco2e: float | None
    intensity: float | None
    intensity_unit: str | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class BaselineRow:
    baseline_id: int
    subject_kind: str
    subject_id: str
    method: str  # 'base_year' | 'regression'
    base_year: int | None
    regression: dict[str, Any] | None
    period_kind: str
    value_tco2e: float  # expected tCO2e per period_kind period, without drivers
    factor_versions: list[str]
    reason: str | None  # the 6.5 trigger of a restatement
    note: str
    recalculated_from: int | None
    effective: date
    created_at: datetime
    created_by: str


# (kind, id) pairs arrive as two parallel arrays: one parameter each, whatever their number.
_TARGETS = """
SELECT target_id, subject_kind, subject_id, period_kind, period_start, period_end, method,
       absolute_tco2e, intensity, intensity_unit, created_at, created_by
FROM target
WHERE (subject_kind, subject_id) IN (SELECT * FROM unnest(%(kinds)s::text[], %(ids)s::text[]))
  AND (%(lo)s::date IS NULL OR period_end > %(lo)s::date)
  AND (%(hi)s::date IS NULL OR period_start < %(hi)s::date)
ORDER BY subject_kind, subject_id, period_start, period_kind, method
"""
_BASELINES = """
SELECT baseline_id, subject_kind, subject_id, method, base_year, regression, period_kind,
       value_tco2e, factor_versions, reason, note, recalculated_from, effective, created_at,
       created_by
FROM baseline b
WHERE (subject_kind, subject_id) IN (SELECT * FROM unnest(%(kinds)s::text[], %(ids)s::text[]))
  AND NOT EXISTS (SELECT 1 FROM baseline r WHERE r.recalculated_from = b.baseline_id)
"""


def _subjects(subjects: Iterable[Subject]) -> dict[str, Any]:
    pairs = list(dict.fromkeys(subjects))
    return {"kinds": [k for k, _ in pairs], "ids": [i for _, i in pairs]}


def read_targets(
    conn: psycopg.Connection[Any],
    *,
    subjects: Iterable[Subject],
    overlapping: tuple[date, date] | None = None,
) -> list[TargetRow]:
    """The targets of ``subjects``; with ``overlapping``, only periods overlapping [start, end)."""
    lo, hi = overlapping or (None, None)
    with conn.cursor(row_factory=class_row(TargetRow)) as cur:
        cur.execute(_TARGETS, {**_subjects(subjects), "lo": lo, "hi": hi})
        return cur.fetchall()


def read_baselines(
    conn: psycopg.Connection[Any], *, subjects: Iterable[Subject]
) -> dict[Subject, BaselineRow]:
    """The current baseline of each subject that has one: the one no restatement replaced."""
    with conn.cursor(row_factory=class_row(BaselineRow)) as cur:
        cur.execute(_BASELINES, _subjects(subjects))
        return {(row.subject_kind, row.subject_id): row for row in cur.fetchall()}


# A step supersedes the stored row when it is later in the alert's life: a later window, or the
# same window further along RAISED -> UPDATED -> RESOLVED. Equal steps (replays) change nothing.
_UPSERT = """
INSERT INTO alert AS a (alert_id, rule, subject_kind, subject_id, enterprise_id, width_s,
    first_window_start, window_start, window_end, measured, expected, unit, tolerance, cause,
    message, state, first_raised_at, last_updated_at, resolved_at)
VALUES (%(alert_id)s, %(rule)s, %(subject_kind)s, %(subject_id)s, %(enterprise_id)s, %(width_s)s,
    %(first_window_start)s, %(window_start)s, %(window_end)s, %(measured)s, %(expected)s,
    %(unit)s, %(tolerance)s, %(cause)s, %(message)s, %(state)s, %(raised_at)s, %(raised_at)s,
    CASE WHEN %(state)s = 'RESOLVED' THEN %(raised_at)s::timestamptz END)
ON CONFLICT (alert_id) DO UPDATE SET
    window_start = excluded.window_start, window_end = excluded.window_end,
    measured = excluded.measured, expected = excluded.expected, unit = excluded.unit,
    tolerance = excluded.tolerance, cause = excluded.cause, message = excluded.message,
    state = excluded.state, resolved_at = excluded.resolved_at,
    last_updated_at = greatest(a.first_raised_at, excluded.last_updated_at)
WHERE (excluded.window_start, array_position(%(order)s::text[], excluded.state))
    > (a.window_start, array_position(%(order)s::text[], a.state))
RETURNING (SELECT state FROM alert WHERE alert_id = %(alert_id)s) AS before, a.state
"""
_ORDER = [s.value for s in (AlertState.RAISED, AlertState.UPDATED, AlertState.RESOLVED)]


def upsert_alerts(
    conn: psycopg.Connection[Any], *, alerts: Sequence[Alert], actor: str = "deviation-agent"
) -> int:
    """Store each alert step; returns how many rows it inserted or moved forward (0 on replay).

    A change of state (a new alert, or RAISED/UPDATED -> RESOLVED) is written to the audit log
    in the same transaction; UPDATED steps only refresh the figures.
    """
    changed = 0
    with conn.transaction():
        for alert in alerts:
            row = conn.execute(_UPSERT, _params(alert)).fetchone()
            if row is None:
                continue
            changed += 1
            before, after = row
            if before != after and (before is None or after == AlertState.RESOLVED):
                conn.execute(
                    "INSERT INTO audit_log (actor, action, entity, entity_id, before, after)"
                    " VALUES (%s, %s, 'alert', %s, %s, %s)",
                    (
                        actor,
                        "raise" if before is None else "resolve",
                        alert.alert_id,
                        None if before is None else Jsonb({"state": before}),
                        Jsonb({"state": after, "message": alert.message}),
                    ),
                )
    return changed


def _params(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule.value,
        "subject_kind": alert.subject_kind.value,
        "subject_id": alert.subject_id,
        "enterprise_id": alert.enterprise_id,
        "width_s": alert.width_s,
        "first_window_start": ms_to_iso(alert.first_window_start_ms),
        "window_start": ms_to_iso(alert.window_start_ms),
        "window_end": ms_to_iso(alert.window_end_ms),
        "measured": alert.measured,
        "expected": alert.expected,
        "unit": alert.unit,
        "tolerance": alert.tolerance,
        "cause": alert.cause.value,
        "message": alert.message,
        "state": alert.state.value,
        "raised_at": ms_to_iso(alert.raised_at_ms),
        "order": _ORDER,
    }
