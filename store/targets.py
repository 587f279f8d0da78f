"""Targets and baselines for the deviation agent (its alerts are stored by ``store.alerts``).

Clauses 6.2 (targets), 6.5 (baselines, restated never in place: the current one is the head of
each subject's restatement chain) and 9.1 b (alerts). An alert row is keyed by its deterministic
id; a step replaces the stored one only if it is later in the alert's life, so a replayed or
reordered step never winds an alert back, and each change of state is audited once (7.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

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
