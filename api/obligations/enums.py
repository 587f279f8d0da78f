"""The kinds and states of compliance obligations (6.6) and of their evaluations (9.2)."""

from __future__ import annotations

from enum import StrEnum


class ObligationKind(StrEnum):
    """Legal requirements and the other requirements the park chooses to meet (6.6)."""

    LAW = "law"
    REGULATION = "regulation"
    STANDARD = "standard"  # a national or sector standard, e.g. GB 17167
    PERMIT = "permit"  # a permit or licence condition
    CONTRACT = "contract"
    VOLUNTARY_COMMITMENT = "voluntary_commitment"
    OTHER = "other"


class Applicability(StrEnum):
    """Whom the obligation binds: its owner as a whole (the park for a park-level record, the
    enterprise for an enterprise's), or the enterprises it names (park-level records only)."""

    ALL = "all"
    NAMED_ENTERPRISES = "named_enterprises"


class ObligationStatus(StrEnum):
    """Only obligations in force are due for evaluation (the reminder)."""

    IN_FORCE = "in_force"
    UPCOMING = "upcoming"  # published, not yet in force
    SUPERSEDED = "superseded"


class EvaluationResult(StrEnum):
    """The outcome of evaluating one obligation over one period (9.2)."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"  # opens a nonconformity ticket
    NOT_APPLICABLE = "not_applicable"
