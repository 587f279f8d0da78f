"""What one closed window measured and what was expected of it: the deviation rules' inputs.

The emissions agent fills ``WindowFigures`` from a window result (clauses 6.3.1, 8.4); the
deviation agent fills ``Expectation`` from targets (6.2, prorated with ``accounting.prorating``),
baselines (6.5) and intensity targets (6.4). Both are checked on construction so a rule never
compares figures that cannot be compared; ``Thresholds`` say how far is "marked" (9.1 b).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from accounting.categories import SourceCategory
from accounting.intensity import OutputUnit


class SubjectKind(StrEnum):
    """What a window is about (baseline.SubjectKind groups meters; windows name single ones)."""

    PARK = "park"
    ENTERPRISE = "enterprise"
    METER = "meter"


class DeviationError(ValueError):
    """Ill-formed figures, expectations or thresholds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowFigures:
    """One closed window of one subject, as the emissions agent computed it.

    ``source_category`` is None for a subject's total over categories or an activity-only meter.
    ``completeness`` is the share of expected readings present (1.0 when none were expected).
    ``rejected_readings`` counts in-scope readings quarantined by validation; readings naming an
    unknown or out-of-boundary meter count apart, in ``out_of_scope_readings``, and readings a
    gateway was not granted to send (UNAUTHORIZED_SOURCE) in ``unauthorized_readings``.
    ``flags`` is the OR of the readings' ``accounting.reasons`` bits. ``factor_missing`` says
    some activity had no emission factor (the agent sets it for aggregates; a meter window
    shows it by itself).
    """

    subject_kind: SubjectKind
    subject_id: str
    enterprise_id: str | None
    source_category: SourceCategory | None
    width_s: int
    window_start_ms: int
    window_end_ms: int
    activity: float
    activity_unit: str
    tco2e: float
    completeness: float
    accepted_readings: float
    rejected_readings: float
    flags: int = 0
    output: float | None = None  # production or output value in the window
    output_unit: OutputUnit | None = None
    factor_versions: tuple[str, ...] = ()
    factor_missing: bool = False
    out_of_scope_readings: int = 0
    unauthorized_readings: int = 0
    calibration_due_ms: int | None = None  # meter subjects: the registry's due date, UTC ms

    def __post_init__(self) -> None:
        if self.window_end_ms - self.window_start_ms != self.width_s * 1000 or self.width_s <= 0:
            raise DeviationError(f"{self.subject_id}: window bounds do not span {self.width_s} s")
        if not 0.0 <= self.completeness <= 1.0:
            raise DeviationError(f"{self.subject_id}: completeness {self.completeness} not 0..1")
        counts = (self.accepted_readings, self.rejected_readings, self.out_of_scope_readings)
        if min(*counts, self.unauthorized_readings) < 0:
            raise DeviationError(f"{self.subject_id}: negative reading count")
        if (self.output is None) != (self.output_unit is None):
            raise DeviationError(f"{self.subject_id}: output and output unit go together")
        if not np.isfinite(self.tco2e):
            raise DeviationError(f"{self.subject_id}: tCO2e {self.tco2e} is not finite")

    @property
    def lacks_factor(self) -> bool:
        emitting = self.source_category is not None and self.activity > 0
        return self.factor_missing or (emitting and not self.factor_versions)

    @classmethod
    def unknown_meter(
        cls, meter_id: str, *, width_s: int, window_start_ms: int, readings: int
    ) -> WindowFigures:
        """Figures for a meter the registry does not know: nothing expected, nothing counted."""
        return cls(
            subject_kind=SubjectKind.METER,
            subject_id=meter_id,
            enterprise_id=None,
            source_category=None,
            width_s=width_s,
            window_start_ms=window_start_ms,
            window_end_ms=window_start_ms + width_s * 1000,
            activity=0.0,
            activity_unit="",
            tco2e=0.0,
            completeness=1.0,
            accepted_readings=0,
            rejected_readings=0,
            out_of_scope_readings=readings,
        )

    @classmethod
    def unauthorized_source(
        cls,
        meter_id: str,
        *,
        enterprise_id: str | None,
        width_s: int,
        window_start_ms: int,
        readings: int,
    ) -> WindowFigures:
        """Figures for readings of a registered meter sent by a gateway not granted it: they
        are kept apart (quarantined), so nothing is expected or counted for the meter here."""
        return cls(
            subject_kind=SubjectKind.METER,
            subject_id=meter_id,
            enterprise_id=enterprise_id,
            source_category=None,
            width_s=width_s,
            window_start_ms=window_start_ms,
            window_end_ms=window_start_ms + width_s * 1000,
            activity=0.0,
            activity_unit="",
            tco2e=0.0,
            completeness=1.0,
            accepted_readings=0,
            rejected_readings=0,
            unauthorized_readings=readings,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """What was expected of one window; None where the subject has no such expectation."""

    target_tco2e: float | None = None  # an absolute target prorated to the window
    baseline_tco2e: float | None = None  # the baseline's expected tCO2e for the window
    intensity_target: float | None = None  # tCO2e per intensity_unit
    intensity_unit: OutputUnit | None = None
    baseline_factor_versions: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if (self.intensity_target is None) != (self.intensity_unit is None):
            raise DeviationError("an intensity target and its unit go together")


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """When a deviation is "marked" (9.1 b). Defaults are starting points a park tunes."""

    # Within 5 % of a target is within the noise of class 1-2 meters plus linear prorating.
    target_tolerance: float = 0.05
    # A base-year baseline ignores output and weather, so it scatters more than a target.
    baseline_tolerance: float = 0.10
    intensity_tolerance: float = 0.05
    # One missing reading in a 15-minute window of 1-minute readings (14/15) does not alert.
    min_completeness: float = 0.90
    max_failure_rate: float = 0.05
    # Below this many readings one rejection is a 50-100 % rate: completeness covers those.
    min_readings_for_rate: float = 4

    def __post_init__(self) -> None:
        tolerances = (self.target_tolerance, self.baseline_tolerance, self.intensity_tolerance)
        if min(tolerances) < 0 or not 0 <= self.min_completeness <= 1:
            raise DeviationError("tolerances must be >= 0 and min_completeness 0..1")
        if not 0 <= self.max_failure_rate <= 1 or self.min_readings_for_rate < 1:
            raise DeviationError("max_failure_rate must be 0..1, min_readings_for_rate >= 1")
