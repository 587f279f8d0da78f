"""The states of an internal audit and the types of its findings (clause 9.3)."""

from __future__ import annotations

from enum import StrEnum


class AuditStatus(StrEnum):
    """An audit is planned in its year's programme, carried out, and closed with its report."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"  # the report is kept; the audit and its findings are fixed
    CANCELLED = "cancelled"


class FindingType(StrEnum):
    NONCONFORMITY = "nonconformity"  # opens a corrective-action ticket (10.1)
    OBSERVATION = "observation"
    OPPORTUNITY_FOR_IMPROVEMENT = "opportunity_for_improvement"
