"""How a competence is acquired and how it was evaluated (clause 7.2)."""

from __future__ import annotations

from enum import StrEnum


class AcquiredBy(StrEnum):
    TRAINING = "training"  # 7.2 a: the training plan
    EDUCATION = "education"
    EXPERIENCE = "experience"


class Result(StrEnum):
    """The evaluation of an attendee (7.2 c: assessed, not only attended)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_EVALUATED = "not_evaluated"


class Method(StrEnum):
    WRITTEN_TEST = "written_test"
    PRACTICAL_TEST = "practical_test"
    INTERVIEW = "interview"
    OBSERVATION = "observation"


class GapStatus(StrEnum):
    """Why a required competence is not shown: never trained, or trained without a pass."""

    NO_TRAINING = "no_training"
    NOT_EVALUATED = "not_evaluated"
    FAILED = "failed"
