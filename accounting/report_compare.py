"""A period's emissions against targets (6.2), baselines (6.5) and output (intensity, 6.4),
for the inventory report (6.3.1) and the management review's "degree targets are met" (9.5).

Targets and baselines are set per local year, month or day. A report period that covers only
part of a target period is compared with the covered share of the limit, linearly in days (the
same rule as ``prorating``); an intensity limit is compared as it is. A regression baseline is
read at its stored ``value_tco2e`` (no drivers are metered), and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from accounting.intensity import OUTPUT_CARRIER, OutputUnit
from accounting.prorating import PeriodKind, period_end
from accounting.report import Breakdown
from accounting.report_period import ReportPeriod

PARK = "park"  # a subject_kind: the sum over every enterprise in the report

# (enterprise, local day) -> that day's figures; the park is the sum over enterprises.
Daily = Mapping[tuple[str, date], Breakdown]
# (enterprise, output unit, local day) -> output
DailyOutput = Mapping[tuple[str, str, date], float]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    target_id: int
    subject_kind: str  # 'park' | 'enterprise'
    subject_id: str
    period_kind: str
    period_start: date
    period_end: date  # exclusive
    method: str  # 'location_based' | 'market_based'
    absolute_tco2e: float | None
    intensity: float | None
    intensity_unit: str | None


@dataclass(frozen=True, slots=True)
class TargetResult:
    target_id: int
    subject_kind: str
    subject_id: str
    method: str
    kind: str  # 'absolute' | 'intensity'
    target_period: str
    limit: float
    unit: str
    covered_from: date
    covered_to: date  # inclusive
    covered_share: float  # of the target period's days
    limit_for_covered: float
    actual: float | None  # None: not available (no output, or no market-based figure)
    attainment: float | None  # actual / limit_for_covered
    within_limit: bool | None
    note: str


@dataclass(frozen=True, slots=True)
class BaselineSpec:
    baseline_id: int
    subject_kind: str
    subject_id: str
    method: str  # 'base_year' | 'regression'
    base_year: int | None
    period_kind: str
    value_tco2e: float
    factor_versions: tuple[str, ...]
    restated: bool
    effective: date


@dataclass(frozen=True, slots=True)
class BaselineResult:
    baseline_id: int
    subject_kind: str
    subject_id: str
    method: str
    base_year: int | None
    expected_tco2e: float  # the baseline over the report period
    actual_tco2e: float  # location-based
    change_tco2e: float
    change_share: float | None  # change / expected
    restated: bool
    factor_versions: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class IntensityResult:
    enterprise_id: str
    output: float
    output_unit: str
    location_tco2e: float
    market_tco2e: float | None
    location_intensity: float | None  # tCO2e per output unit; None where output is 0
    market_intensity: float | None


def _sum(daily: Daily, subject: str | None, first: date, end: date) -> tuple[float, float | None]:
    """Location and market tCO2e of one enterprise (all: ``subject`` None) in [first, end)."""
    location, market, known = 0.0, 0.0, True
    for (ent, day), row in daily.items():
        if first <= day < end and (subject is None or ent == subject):
            location += row.location_tco2e
            known = known and row.market_tco2e is not None
            market += row.market_tco2e or 0.0
    return location, market if known else None


def _output(outputs: DailyOutput, subject: str | None, unit: str, first: date, end: date) -> float:
    return sum(
        v
        for (ent, u, day), v in outputs.items()
        if u == unit and first <= day < end and (subject is None or ent == subject)
    )


def _subject(kind: str, subject_id: str) -> str | None:
    return None if kind == PARK else subject_id


def compare_target(
    target: TargetSpec, period: ReportPeriod, daily: Daily, outputs: DailyOutput
) -> TargetResult:
    """The target over the part of its period that the report covers."""
    first, end = max(target.period_start, period.start), min(target.period_end, period.end)
    share = (end - first).days / (target.period_end - target.period_start).days
    subject = _subject(target.subject_kind, target.subject_id)
    location, market = _sum(daily, subject, first, end)
    tco2e = market if target.method == "market_based" else location
    note = "" if share == 1 else f"limit prorated to {share:.4f} of the target period by days"
    if tco2e is None:
        note = "market-based emissions are not available for this period"
    if target.absolute_tco2e is not None:
        kind, unit, limit = "absolute", "tCO2e", target.absolute_tco2e
        covered_limit, actual = limit * share, tco2e
    else:
        kind, limit = "intensity", target.intensity or 0.0
        output_unit = target.intensity_unit or ""
        unit, covered_limit = f"tCO2e/{output_unit}", limit
        output = _output(outputs, subject, output_unit, first, end)
        actual = tco2e / output if tco2e is not None and output > 0 else None
        if output <= 0:
            note = f"no output in {output_unit} metered over the covered days: no intensity"
    return TargetResult(
        target_id=target.target_id,
        subject_kind=target.subject_kind,
        subject_id=target.subject_id,
        method=target.method,
        kind=kind,
        target_period=f"{target.period_kind} from {target.period_start.isoformat()}",
        limit=limit,
        unit=unit,
        covered_from=first,
        covered_to=end - timedelta(days=1),
        covered_share=share,
        limit_for_covered=covered_limit,
        actual=actual,
        attainment=_ratio(actual, covered_limit),
        within_limit=None if actual is None else actual <= covered_limit,
        note=note,
    )


def _ratio(actual: float | None, limit: float) -> float | None:
    if actual is None:
        return None
    if limit > 0:
        return actual / limit
    return 0.0 if actual == 0 else float("inf")


def baseline_expected(baseline: BaselineSpec, period: ReportPeriod) -> float:
    """The baseline's tCO2e over the period: each local calendar period by its covered days."""
    kind = PeriodKind(baseline.period_kind)
    day = period.start
    start = {PeriodKind.YEAR: date(day.year, 1, 1), PeriodKind.MONTH: day.replace(day=1)}.get(
        kind, day
    )
    total = 0.0
    while start < period.end:
        end = period_end(kind, start)
        covered = (min(end, period.end) - max(start, period.start)).days
        total += baseline.value_tco2e * covered / (end - start).days
        start = end
    return total


def compare_baseline(baseline: BaselineSpec, period: ReportPeriod, daily: Daily) -> BaselineResult:
    expected = baseline_expected(baseline, period)
    subject = _subject(baseline.subject_kind, baseline.subject_id)
    actual, _ = _sum(daily, subject, period.start, period.end)
    note = "location-based actual against the baseline"
    if baseline.method == "regression":
        note += "; regression read at its stored value (no driver data in the platform)"
    return BaselineResult(
        baseline_id=baseline.baseline_id,
        subject_kind=baseline.subject_kind,
        subject_id=baseline.subject_id,
        method=baseline.method,
        base_year=baseline.base_year,
        expected_tco2e=expected,
        actual_tco2e=actual,
        change_tco2e=actual - expected,
        change_share=(actual - expected) / expected if expected else None,
        restated=baseline.restated,
        factor_versions=baseline.factor_versions,
        note=note,
    )


def intensities(
    enterprises: tuple[Breakdown, ...], outputs: DailyOutput, period: ReportPeriod
) -> tuple[IntensityResult, ...]:
    """tCO2e per unit of output of each enterprise, for every output unit it meters (3.3.10)."""
    rows = []
    for ent in enterprises:
        for unit in OUTPUT_CARRIER:
            output = _output(outputs, ent.key, unit.value, period.start, period.end)
            if output == 0 and not _meters(outputs, ent.key, unit):
                continue
            rows.append(
                IntensityResult(
                    enterprise_id=ent.key,
                    output=output,
                    output_unit=unit.value,
                    location_tco2e=ent.location_tco2e,
                    market_tco2e=ent.market_tco2e,
                    location_intensity=ent.location_tco2e / output if output > 0 else None,
                    market_intensity=(
                        ent.market_tco2e / output
                        if output > 0 and ent.market_tco2e is not None
                        else None
                    ),
                )
            )
    return tuple(rows)


def _meters(outputs: DailyOutput, enterprise: str, unit: OutputUnit) -> bool:
    return any(ent == enterprise and u == unit.value for ent, u, _ in outputs)
