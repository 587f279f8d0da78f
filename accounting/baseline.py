"""Carbon management baselines and their restatement (clause 6.5).

A baseline keeps its base-period activity per carrier, so it can be recalculated. It is either
a base-year total or an ISO 50001-style linear regression of emissions on relevant variables
(production ...). When factors or the method change (6.5 c), or the other 6.5 triggers occur,
``restate`` recalculates from the same activity and returns both figures with the reason:
a baseline is never changed in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, co2e_tonnes


class SubjectKind(StrEnum):
    PARK = "park"
    ENTERPRISE = "enterprise"
    METER_GROUP = "meter_group"


class BaselineMethod(StrEnum):
    BASE_YEAR = "base_year"  # total of the base period
    REGRESSION = "regression"  # tCO2e = intercept + sum(slope_i x driver_i), least squares


class RestatementReason(StrEnum):
    """The adjustment triggers of clause 6.5 a) to c)."""

    PERFORMANCE_PARAMETERS = "6.5 a) performance parameters no longer reflect performance"
    STATIC_FACTORS = "6.5 b) static factors changed significantly"
    FACTORS_OR_METHOD = "6.5 c) emission factors or accounting method changed"


class BaselineError(ValueError):
    """Inconsistent baseline data, factors or restatement request."""


@dataclass(frozen=True, eq=False)
class BaselineData:
    """Base-period activity (periods x carriers, canonical units) and drivers (periods x k)."""

    period_starts: tuple[date, ...]
    carriers: tuple[Carrier, ...]
    activity: NDArray[np.float64]
    drivers: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    driver_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n, m = len(self.period_starts), len(self.carriers)
        if n == 0 or self.activity.shape != (n, m):
            raise BaselineError(f"activity must be {n} periods x {m} carriers")
        if self.driver_names and self.drivers.shape != (n, len(self.driver_names)):
            raise BaselineError(f"drivers must be {n} periods x {len(self.driver_names)}")
        if np.any(self.activity < 0):
            raise BaselineError("base-period activity must not be negative")


@dataclass(frozen=True, eq=False)
class Baseline:
    subject: str
    kind: SubjectKind
    method: BaselineMethod
    data: BaselineData
    factors: tuple[ResolvedFactor, ...]  # one per carrier, same order
    emissions: NDArray[np.float64]  # tCO2e per base period
    total_tco2e: float
    intercept: float  # regression only; 0 for base year
    slopes: tuple[float, ...]  # tCO2e per unit of each driver
    r_squared: float | None

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(v for f in self.factors for v in f.versions)

    def expected(self, drivers: NDArray[np.float64]) -> NDArray[np.float64]:
        """Expected tCO2e per period: the regression at ``drivers`` (rows = periods), or the
        base period's mean per period for a base-year baseline (one value per row)."""
        if self.method is BaselineMethod.BASE_YEAR:
            return np.full(drivers.shape[0], self.total_tco2e / len(self.emissions))
        return np.asarray(self.intercept + drivers @ np.asarray(self.slopes), dtype=np.float64)


def build_baseline(
    subject: str,
    kind: SubjectKind,
    method: BaselineMethod,
    data: BaselineData,
    factors: tuple[ResolvedFactor, ...],
) -> Baseline:
    """Compute the baseline from base-period activity and one resolved factor per carrier."""
    carriers = tuple(f.carrier for f in factors)
    if carriers != data.carriers:
        raise BaselineError(f"factors are for {carriers}, activity for {data.carriers}")
    if len({f.gwp_set for f in factors}) > 1:
        raise BaselineError("a baseline uses one GWP set for all its factors")
    coefficients = np.array([f.tco2e_per_unit for f in factors])
    emissions = data.activity @ coefficients
    total = float(emissions.sum())
    if method is BaselineMethod.BASE_YEAR:
        return Baseline(subject, kind, method, data, factors, emissions, total, 0.0, (), None)
    n, k = data.drivers.shape
    if k == 0 or n <= k + 1:
        raise BaselineError(f"regression needs drivers and more than {k + 1} periods, has {n}")
    design = np.column_stack([np.ones(n), data.drivers])
    solution, _, rank, _ = np.linalg.lstsq(design, emissions, rcond=None)
    if rank < k + 1:
        raise BaselineError("drivers are collinear or constant: regression is not identifiable")
    residual = emissions - design @ solution
    spread = float(np.sum((emissions - emissions.mean()) ** 2))
    r2 = 1.0 - float(residual @ residual) / spread if spread > 0 else 1.0
    slopes = tuple(float(s) for s in solution[1:])
    return Baseline(
        subject, kind, method, data, factors, emissions, total, float(solution[0]), slopes, r2
    )


@dataclass(frozen=True, eq=False)
class Restatement:
    """A documented baseline adjustment: both figures, the reason and what changed (6.5, 7.3)."""

    subject: str
    reason: RestatementReason
    note: str
    effective: date
    previous: Baseline
    restated: Baseline
    versions_removed: tuple[str, ...]
    versions_added: tuple[str, ...]

    @property
    def delta_tco2e(self) -> float:
        return self.restated.total_tco2e - self.previous.total_tco2e


def restate(
    baseline: Baseline,
    *,
    reason: RestatementReason,
    note: str,
    effective: date,
    factors: tuple[ResolvedFactor, ...] | None = None,
    method: BaselineMethod | None = None,
) -> Restatement:
    """Recalculate ``baseline`` from its own activity with new factors and/or method."""
    if not note.strip():
        raise BaselineError("a restatement needs a note saying what changed and why")
    restated = build_baseline(
        baseline.subject,
        baseline.kind,
        method or baseline.method,
        baseline.data,
        factors if factors is not None else baseline.factors,
    )
    old, new = set(baseline.versions), set(restated.versions)
    changed = (
        old != new
        or restated.method is not baseline.method
        or {f.gwp_set for f in restated.factors} != {f.gwp_set for f in baseline.factors}
    )
    if reason is RestatementReason.FACTORS_OR_METHOD and not changed:
        raise BaselineError(
            f"{baseline.subject}: restatement for changed factors or method, but neither changed"
        )
    return Restatement(
        baseline.subject,
        reason,
        note,
        effective,
        baseline,
        restated,
        tuple(sorted(old - new)),
        tuple(sorted(new - old)),
    )


@dataclass(frozen=True, slots=True)
class StoredActivity:
    """A meter's stored activity on one UTC day of a base period: the sum of its hour windows
    there, in the canonical unit they hold, with the tCO2e and factor versions stored for them.
    The stream worker resolves a window's factor for its UTC day, so that is the grain."""

    meter_id: str
    day: date
    activity: float
    unit: str
    tco2e: float
    factor_versions: tuple[str, ...]  # emission factor rows and conversion parameters
    parameter_versions: tuple[str, ...] = ()  # the conversion parameters among them
    windows: int = 1


@dataclass(frozen=True, slots=True)
class Recalculation:
    """The base period's stored activity recomputed with the factors in force now (6.5 c)."""

    stored_tco2e: float  # as the windows hold it
    restated_tco2e: float
    versions_before: tuple[str, ...]  # sorted, distinct
    versions_after: tuple[str, ...]
    windows: int
    lacking_factor: tuple[str, ...]  # meter@day whose activity no factor covers now

    @property
    def delta_tco2e(self) -> float:
        return self.restated_tco2e - self.stored_tco2e


FactorOf = Callable[[StoredActivity], ResolvedFactor | None]


def recalculate(activity: Iterable[StoredActivity], factor_of: FactorOf) -> Recalculation:
    """Clause 6.5 c: recompute stored base-period activity with the factors ``factor_of`` gives
    (the stream worker's choice per meter and day; None: no CO2e, as the worker stores it).

    Each line's tCO2e is ``co2e.co2e_tonnes`` (the worker's own arithmetic); the activity is
    kept as stored, so the conversion parameters it was converted with stay among the versions.
    Totals are exact sums (``math.fsum``)."""
    lines = list(activity)
    if not lines:
        raise BaselineError("the base period has no stored activity to recalculate")
    before: set[str] = set()
    after: set[str] = set()
    stored: list[float] = []
    restated: list[float] = []
    lacking: list[str] = []
    for line in lines:
        if line.activity < 0 or line.windows < 1:
            raise BaselineError(f"{line.meter_id} {line.day}: activity must be stored windows")
        before.update(line.factor_versions)
        stored.append(line.tco2e)
        factor = factor_of(line)
        if factor is None:
            # Activity that had a factor and has none now: the worker would store it with
            # tCO2e 0 (methodology missing, 9.1 b), so the proposal names it.
            if line.activity > 0 and line.factor_versions != line.parameter_versions:
                lacking.append(f"{line.meter_id}@{line.day.isoformat()}")
            continue
        if factor.unit != line.unit:
            raise BaselineError(
                f"{line.meter_id} {line.day}: activity in {line.unit!r}, factor per {factor.unit!r}"
            )
        after.update((*factor.versions, *line.parameter_versions))
        restated.append(co2e_tonnes(line.activity, factor))
    return Recalculation(
        stored_tco2e=math.fsum(stored),
        restated_tco2e=math.fsum(restated),
        versions_before=tuple(sorted(before)),
        versions_after=tuple(sorted(after)),
        windows=sum(line.windows for line in lines),
        lacking_factor=tuple(sorted(set(lacking))),
    )


_PERIODS_PER_YEAR = {"year": 1, "month": 12}


def base_year_value(total_tco2e: float, *, period_kind: str, base_year: int) -> float:
    """A base-year baseline's figure: expected tCO2e per ``period_kind`` period (year, month or
    day), the base year's total spread evenly over its periods, as baselines are stored."""
    if period_kind == "day":
        periods = (date(base_year + 1, 1, 1) - date(base_year, 1, 1)).days
    elif period_kind in _PERIODS_PER_YEAR:
        periods = _PERIODS_PER_YEAR[period_kind]
    else:
        raise BaselineError(f"unknown period kind {period_kind!r}")
    return total_tco2e / periods


def restatement_due(
    recorded_versions: Iterable[str],
    recalculation: Recalculation,
    *,
    gwp_before: Iterable[str],
    gwp_after: str,
) -> bool:
    """Whether clause 6.5 c applies: the factor versions the baseline was computed with
    (``recorded_versions``; the stored windows' when it recorded none) are not those in force
    now, or the GWP set changes."""
    recorded = set(recorded_versions) or set(recalculation.versions_before)
    return recorded != set(recalculation.versions_after) or set(gwp_before) != {gwp_after}
