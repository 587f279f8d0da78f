"""Deviation rules (clause 9.1 b): window figures against targets, baselines and data quality.

Each rule compares one window of one subject with what was expected of it (a target prorated to
the window, 6.2; a baseline, 6.5; an intensity target, 6.4) or with a data-quality threshold
(8.4, 9.1 c), and a finding suggests a cause from exactly the five categories of 9.1 b.
``evaluate_batch`` runs every rule over many windows as numpy masks; ``evaluate`` is its
one-window case, so the two always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from accounting.instants import iso_utc
from accounting.intensity import intensity_batch
from accounting.reasons import Reason
from accounting.window_figures import (
    DeviationError,
    Expectation,
    SubjectKind,
    Thresholds,
    WindowFigures,
)

_DAY_MS = 86_400_000
# Default of the worker setting ``alert_horizon_s``: see :func:`within_alert_horizon`.
DEFAULT_ALERT_HORIZON_MS = 2 * _DAY_MS


def within_alert_horizon(window_end_ms: int, now_ms: int, horizon_ms: int) -> bool:
    """Whether a window is evaluated for deviations at all (clause 9.1 b is an operational
    check of the current period).

    A window that ended more than ``horizon_ms`` before now belongs to the past: history
    imported for the inventory (GB/T 32150 6.3.1) or recomputed for a base year. Its figures
    count in every query, report and inventory, but it is not evaluated: no alert is raised,
    none is resolved and nobody is paged for a past that no one on duty can act on. Quality
    problems of history stay visible where they belong, in the quarantine (``/v1/quality``) and
    in the completeness of the windows themselves.
    """
    return window_end_ms > now_ms - horizon_ms


class CauseCategory(StrEnum):
    """The cause categories of clause 9.1 b, exactly these five."""

    ACCOUNTING_SCOPE = "accounting_scope_deviation"
    METHODOLOGY = "methodology_missing_or_misused"
    DATA_MISSING = "data_missing"
    UNRELIABLE_MEASUREMENT = "unreliable_measurement_or_statistics"
    OTHER = "other"


class Rule(StrEnum):
    EMISSIONS_ABOVE_TARGET = "EMISSIONS_ABOVE_TARGET"
    EMISSIONS_ABOVE_BASELINE = "EMISSIONS_ABOVE_BASELINE"
    INTENSITY_ABOVE_TARGET = "INTENSITY_ABOVE_TARGET"
    COMPLETENESS_LOW = "COMPLETENESS_LOW"
    VALIDATION_FAILURE_RATE_HIGH = "VALIDATION_FAILURE_RATE_HIGH"
    CALIBRATION_OVERDUE = "CALIBRATION_OVERDUE"
    UNKNOWN_METER = "UNKNOWN_METER"
    # Beyond the list: the emissions agent stores a window whose factor it could not
    # resolve with tCO2e 0 and no factor version. No "above" rule can see that, so it has its own.
    EMISSION_FACTOR_MISSING = "EMISSION_FACTOR_MISSING"
    # Readings of a registered meter from a gateway the registry does not let send it: data
    # from outside the controlled sources of the boundary (4.3, 8.4), a scope deviation.
    UNAUTHORIZED_SOURCE = "UNAUTHORIZED_SOURCE"


# The cause each rule suggests on its own. Data-quality rules name their cause directly: an
# unknown or out-of-boundary meter is outside the declared accounting scope (4.3); a window short
# of readings is data missing; rejected readings and overdue calibration (9.1 c) make the
# measurement unreliable; an unresolved factor is a method missing (6.3.1). A performance rule
# defaults to OTHER - with sound data the deviation is real (operations, output, weather) - and
# ``evaluate_batch`` refines it from the window's data quality, first match wins:
#   1. out-of-scope readings in the window        -> ACCOUNTING_SCOPE  (totals not on the boundary)
#   2. a factor missing, or (baseline rule only)
#      factor versions the baseline did not use   -> METHODOLOGY       (6.5 c: restate first)
#   3. completeness below minimum or a GAP flag   -> DATA_MISSING
#   4. failure rate above maximum, or STALE,
#      CALIBRATION_OVERDUE, ACCURACY_CLASS_... flag -> UNRELIABLE_MEASUREMENT
#   5. otherwise                                  -> OTHER
# Scope comes first because nothing is comparable on the wrong boundary; a wrong factor scales
# every figure whatever the data quality, so method comes before the data checks.
DEFAULT_CAUSE: dict[Rule, CauseCategory] = {
    Rule.EMISSIONS_ABOVE_TARGET: CauseCategory.OTHER,
    Rule.EMISSIONS_ABOVE_BASELINE: CauseCategory.OTHER,
    Rule.INTENSITY_ABOVE_TARGET: CauseCategory.OTHER,
    Rule.COMPLETENESS_LOW: CauseCategory.DATA_MISSING,
    Rule.VALIDATION_FAILURE_RATE_HIGH: CauseCategory.UNRELIABLE_MEASUREMENT,
    Rule.CALIBRATION_OVERDUE: CauseCategory.UNRELIABLE_MEASUREMENT,
    Rule.UNKNOWN_METER: CauseCategory.ACCOUNTING_SCOPE,
    Rule.EMISSION_FACTOR_MISSING: CauseCategory.METHODOLOGY,
    Rule.UNAUTHORIZED_SOURCE: CauseCategory.ACCOUNTING_SCOPE,
}
UNRELIABLE_FLAGS = Reason.STALE | Reason.CALIBRATION_OVERDUE | Reason.ACCURACY_CLASS_INSUFFICIENT


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One rule that holds for one window: measured against expected, in ``unit``."""

    rule: Rule
    subject_kind: SubjectKind
    subject_id: str
    enterprise_id: str | None
    width_s: int
    window_start_ms: int
    window_end_ms: int
    measured: float
    expected: float
    unit: str
    tolerance: float  # fraction of |expected| allowed above it before the rule holds
    cause: CauseCategory
    message: str


DEFAULT_THRESHOLDS = Thresholds()
_CAUSES = tuple(CauseCategory)
_TEXT = {
    Rule.EMISSIONS_ABOVE_TARGET: "emissions above target",
    Rule.EMISSIONS_ABOVE_BASELINE: "emissions above baseline",
    Rule.INTENSITY_ABOVE_TARGET: "intensity above target",
    Rule.COMPLETENESS_LOW: "completeness below minimum",
    Rule.VALIDATION_FAILURE_RATE_HIGH: "validation failure rate above maximum",
    Rule.CALIBRATION_OVERDUE: "meter calibration overdue",
    Rule.UNKNOWN_METER: "readings from meters outside the registry or boundary",
    Rule.EMISSION_FACTOR_MISSING: "activity without an emission factor",
    Rule.UNAUTHORIZED_SOURCE: "readings from a gateway not granted the meter",
}


class _Check(NamedTuple):
    holds: NDArray[np.bool_]
    measured: NDArray[np.float64]
    expected: NDArray[np.float64] | float
    units: Sequence[str] | str
    tolerance: float = 0.0
    causes: NDArray[np.intp] | None = None  # index into CauseCategory; None: the rule's default


def evaluate(
    figures: WindowFigures, expectation: Expectation, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Finding]:
    """The findings of one window, in ``Rule`` order."""
    return evaluate_batch([figures], [expectation], thresholds)


def evaluate_batch(
    figures: Sequence[WindowFigures],
    expectations: Sequence[Expectation],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """The findings of many windows (``expectations[i]`` is of ``figures[i]``), ordered by window
    then rule."""
    if len(figures) != len(expectations):
        raise DeviationError(f"{len(figures)} windows but {len(expectations)} expectations")
    for f, e in zip(figures, expectations, strict=True):
        if f.output_unit is not None and e.intensity_unit not in (None, f.output_unit):
            raise DeviationError(
                f"{f.subject_id}: output in {f.output_unit}, target per {e.intensity_unit}"
            )
    if not figures:
        return []
    found = [
        (i, n, _finding(rule, figures[i], check, i))
        for n, (rule, check) in enumerate(_checks(figures, expectations, thresholds).items())
        for i in np.flatnonzero(check.holds).tolist()
    ]
    found.sort(key=lambda hit: (hit[0], hit[1]))
    return [finding for _, _, finding in found]


def _checks(
    f: Sequence[WindowFigures], e: Sequence[Expectation], t: Thresholds
) -> dict[Rule, _Check]:
    n = len(f)
    tco2e = np.array([x.tco2e for x in f])
    accepted = np.array([x.accepted_readings for x in f], dtype=np.float64)
    rejected = np.array([x.rejected_readings for x in f], dtype=np.float64)
    completeness = np.array([x.completeness for x in f])
    flags = np.array([x.flags for x in f], dtype=np.int64)
    out_of_scope = np.array([x.out_of_scope_readings for x in f], dtype=np.float64)
    unauthorized = np.array([x.unauthorized_readings for x in f], dtype=np.float64)
    lacks_factor = np.array([x.lacks_factor for x in f], dtype=np.bool_)
    # Factor versions the baseline was not computed with: clause 6.5 c) asks for a restatement.
    foreign = np.array(
        [
            y.baseline_factor_versions is not None
            and not set(x.factor_versions) <= set(y.baseline_factor_versions)
            for x, y in zip(f, e, strict=True)
        ],
        dtype=np.bool_,
    )
    total = accepted + rejected
    rate = np.divide(rejected, total, out=np.zeros(n), where=total > 0)
    low_completeness = completeness < t.min_completeness
    high_rate = (total >= t.min_readings_for_rate) & (rate > t.max_failure_rate)
    days_late = (
        np.array([x.window_end_ms for x in f]) - _opt(x.calibration_due_ms for x in f)
    ) / _DAY_MS
    overdue = ((flags & Reason.CALIBRATION_OVERDUE) != 0) | (days_late > 0)

    scope = out_of_scope > 0
    missing = low_completeness | ((flags & Reason.GAP) != 0)
    unreliable = high_rate | ((flags & int(UNRELIABLE_FLAGS)) != 0)

    def cause(method: NDArray[np.bool_]) -> NDArray[np.intp]:
        # The decision table above, first match wins; CauseCategory is declared in its order.
        picked = np.select([scope, method, missing, unreliable], [0, 1, 2, 3], default=4)
        return np.asarray(picked, dtype=np.intp)

    def above(
        measured: NDArray[np.float64], expected: NDArray[np.float64], tol: float
    ) -> NDArray[np.bool_]:
        # Tolerance on |expected| so a net-removal (negative) baseline is not made stricter;
        # NaN (no expectation) compares False: the rule does not apply.
        return np.asarray(measured > expected + tol * np.abs(expected), dtype=np.bool_)

    target, baseline = _opt(y.target_tco2e for y in e), _opt(y.baseline_tco2e for y in e)
    ratio = intensity_batch(tco2e, _opt(x.output for x in f))
    i_target = _opt(y.intensity_target for y in e)
    ttol, btol, itol = t.target_tolerance, t.baseline_tolerance, t.intensity_tolerance
    per_output = [f"tCO2e/{x.output_unit}" for x in f]
    late = np.nan_to_num(np.maximum(days_late, 0.0))
    activity, activity_units = np.array([x.activity for x in f]), [x.activity_unit for x in f]
    return {
        Rule.EMISSIONS_ABOVE_TARGET: _Check(
            above(tco2e, target, ttol), tco2e, target, "tCO2e", ttol, cause(lacks_factor)
        ),
        Rule.EMISSIONS_ABOVE_BASELINE: _Check(
            above(tco2e, baseline, btol),
            tco2e,
            baseline,
            "tCO2e",
            btol,
            cause(lacks_factor | foreign),
        ),
        Rule.INTENSITY_ABOVE_TARGET: _Check(
            above(ratio, i_target, itol), ratio, i_target, per_output, itol, cause(lacks_factor)
        ),
        Rule.COMPLETENESS_LOW: _Check(
            low_completeness, completeness, t.min_completeness, "fraction"
        ),
        Rule.VALIDATION_FAILURE_RATE_HIGH: _Check(high_rate, rate, t.max_failure_rate, "fraction"),
        Rule.CALIBRATION_OVERDUE: _Check(overdue, late, 0.0, "d past due"),
        Rule.UNKNOWN_METER: _Check(scope, out_of_scope, 0.0, "readings"),
        Rule.EMISSION_FACTOR_MISSING: _Check(lacks_factor, activity, 0.0, activity_units),
        Rule.UNAUTHORIZED_SOURCE: _Check(unauthorized > 0, unauthorized, 0.0, "readings"),
    }


def _opt(values: Iterable[float | None]) -> NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _finding(rule: Rule, f: WindowFigures, check: _Check, i: int) -> Finding:
    measured = float(check.measured[i])
    expected = float(np.broadcast_to(check.expected, check.holds.shape)[i])
    unit = check.units if isinstance(check.units, str) else check.units[i]
    cause = DEFAULT_CAUSE[rule] if check.causes is None else _CAUSES[int(check.causes[i])]
    allowance = f" (+{check.tolerance:.0%} tolerance)" if check.tolerance else ""
    message = (
        f"{f.subject_kind} {f.subject_id} {_iso(f.window_start_ms)}..{_iso(f.window_end_ms)}: "
        f"{_TEXT[rule]}: measured {measured:.4g} {unit}, expected {expected:.4g} {unit}"
        f"{allowance}; suggested cause: {cause.value.replace('_', ' ')}"
    )
    return Finding(
        rule=rule,
        subject_kind=f.subject_kind,
        subject_id=f.subject_id,
        enterprise_id=f.enterprise_id,
        width_s=f.width_s,
        window_start_ms=f.window_start_ms,
        window_end_ms=f.window_end_ms,
        measured=measured,
        expected=expected,
        unit=unit,
        tolerance=check.tolerance,
        cause=cause,
        message=message,
    )


def _iso(ms: int) -> str:
    return iso_utc(ms, millis=False)
