"""States and kinds of the objectives, measures and calibration registers (clauses 6.2,
6.2.2, 6.3, 9.1 c)."""

from __future__ import annotations

from enum import StrEnum


class MeasureState(StrEnum):
    """Where a reduction measure stands (clauses 6.2.2, 6.3): decided, carried out, verified."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    VERIFIED = "verified"  # at least one M&V record shows what it saved
    CANCELLED = "cancelled"


# Measures not yet carried out: the opportunities the ranking orders (clause 6.3.1 a).
OPEN_STATES = frozenset({MeasureState.PROPOSED, MeasureState.APPROVED, MeasureState.IN_PROGRESS})


class ObjectiveStatus(StrEnum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    NOT_ACHIEVED = "not_achieved"
    WITHDRAWN = "withdrawn"


class CalibrationKind(StrEnum):
    """Events of a meter's calibration and maintenance log (clause 9.1 c, Annex A item 9)."""

    CALIBRATION = "calibration"  # 校准
    VERIFICATION = "verification"  # 检定: legal metrological verification
    REPAIR = "repair"
    REPLACEMENT_CHECK = "replacement_check"


# The kinds that issue a certificate and set the next due date.
CERTIFYING = frozenset({CalibrationKind.CALIBRATION, CalibrationKind.VERIFICATION})


class CalibrationResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a result, not a password
    FAIL = "fail"
    ADJUSTED = "adjusted"  # out of tolerance, adjusted, then within it


class MvSubject(StrEnum):
    """What an M&V record compares: the measure's meters, its enterprise, or the park."""

    METER = "meter"
    ENTERPRISE = "enterprise"
    PARK = "park"
