"""Reduction measures: measurement and verification of savings, and opportunities ranked by
tCO2e at stake per unit cost (clauses 6.2.2, 6.3, 6.3.1 a).

M&V compares the affected meters' or enterprise's emissions after a measure went live with the
current baseline over the same length of time: each baseline figure (tCO2e per year, month or
day, as baselines are stored) is prorated to the verification period by the share of each
calendar period the verification period covers, so a whole calendar year of a yearly baseline
counts its full figure and 31 days of January 31/31 of a monthly one. The savings are that
figure minus the stored emissions of the same period; a negative figure is an increase.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

# Capex is ranked per 10^4 CNY (万元), the unit Chinese project appraisals state it in.
CAPEX_UNIT_CNY = 10_000


class PeriodKind(StrEnum):
    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class VerificationError(ValueError):
    """The figures cannot be verified as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class BaselineFigure:
    """One affected subject's current baseline: ``value_tco2e`` per ``period_kind`` period."""

    subject_id: str
    baseline_id: int
    period_kind: PeriodKind
    value_tco2e: float


@dataclass(frozen=True, slots=True)
class Verification:
    """The figures of one M&V record, all in tCO2e over ``[start, end)`` (local days)."""

    start: date
    end: date
    days: int
    baseline_tco2e: float  # the baselines prorated to the period
    actual_tco2e: float  # stored emissions of the affected subjects in the period
    verified_savings_tco2e: float  # baseline - actual; negative: emissions went up
    expected_savings_tco2e: float | None  # the measure's expected tCO2e/year, prorated
    realisation: float | None  # verified / expected; None without an expectation


def _next_start(day: date, kind: PeriodKind) -> date:
    """The first day of the calendar period after the one ``day`` lies in."""
    if kind is PeriodKind.YEAR:
        return date(day.year + 1, 1, 1)
    if kind is PeriodKind.MONTH:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date.fromordinal(day.toordinal() + 1)


def _period_start(day: date, kind: PeriodKind) -> date:
    if kind is PeriodKind.YEAR:
        return date(day.year, 1, 1)
    if kind is PeriodKind.MONTH:
        return date(day.year, day.month, 1)
    return day


def prorated(value: float, kind: PeriodKind, start: date, end: date) -> float:
    """``value`` per calendar ``kind`` period, over the local days ``[start, end)``: each
    period's figure times the share of its days the range covers."""
    if end <= start:
        raise VerificationError(f"the period {start} to {end} is empty: end must follow start")
    parts = []
    day = start
    while day < end:
        first, following = _period_start(day, kind), _next_start(day, kind)
        covered = (min(end, following) - day).days
        parts.append(value * covered / (following - first).days)
        day = following
    return math.fsum(parts)


def verify(
    baselines: Iterable[BaselineFigure],
    *,
    actual_tco2e: float,
    start: date,
    end: date,
    expected_tco2e_per_year: float | None = None,
) -> Verification:
    """Verified savings over ``[start, end)``: the baselines prorated to the period minus the
    stored emissions of the same period (clause 6.2.2 / 6.3 M&V)."""
    figures = list(baselines)
    if not figures:
        raise VerificationError("no baseline to verify against")
    baseline = math.fsum(prorated(b.value_tco2e, b.period_kind, start, end) for b in figures)
    savings = baseline - actual_tco2e
    expected = None
    if expected_tco2e_per_year is not None:
        expected = prorated(expected_tco2e_per_year, PeriodKind.YEAR, start, end)
    return Verification(
        start=start,
        end=end,
        days=(end - start).days,
        baseline_tco2e=baseline,
        actual_tco2e=actual_tco2e,
        verified_savings_tco2e=savings,
        expected_savings_tco2e=expected,
        realisation=savings / expected if expected else None,
    )


@dataclass(frozen=True, slots=True)
class Opportunity:
    measure_id: int
    expected_tco2e_per_year: float
    capex_cny: float | None  # None or 0: no capital cost stated


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    measure_id: int
    # tCO2e/year per 10^4 CNY of capex; None for measures without capex (ranked after)
    tco2e_per_year_per_10k_cny: float | None


def rank(opportunities: Iterable[Opportunity]) -> list[Ranked]:
    """Opportunities best first (clause 6.3.1 a): those with capex by tCO2e/year per 10^4 CNY,
    highest first; then those without capex (no cost stated, or zero: a ratio would be
    infinite or meaningless) by expected tCO2e/year, highest first. Ties: lower id first."""
    costed, uncosted = [], []
    for o in opportunities:
        units = (o.capex_cny or 0.0) / CAPEX_UNIT_CNY
        # A capex too small to state in 10^4 CNY (it rounds to 0 there) gives no finite ratio:
        # ranked with the uncosted measures rather than dividing by zero.
        ratio = o.expected_tco2e_per_year / units if units > 0 else math.inf
        if math.isfinite(ratio):
            costed.append((-ratio, o.measure_id, ratio))
        else:
            uncosted.append((-o.expected_tco2e_per_year, o.measure_id))
    ordered: list[tuple[int, float | None]] = [(m, r) for _, m, r in sorted(costed)]
    ordered += [(m, None) for _, m in sorted(uncosted)]
    return [Ranked(i, m, r) for i, (m, r) in enumerate(ordered, start=1)]
