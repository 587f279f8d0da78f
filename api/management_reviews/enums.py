"""States, output kinds and file formats of a management review (clause 9.5)."""

from __future__ import annotations

from enum import StrEnum


class ReviewState(StrEnum):
    """A draft gathers its inputs and records its outputs; a closed review never changes."""

    DRAFT = "draft"
    CLOSED = "closed"


class OutputKind(StrEnum):
    """The outputs clause 9.5.2 asks a review to record."""

    DECISION = "decision"  # on opportunities for improvement and changes to the system
    RESOURCE_NEED = "resource_need"
    OBJECTIVE_CHANGE = "objective_change"  # actions where objectives are not achieved


class ReviewFormat(StrEnum):
    JSON = "json"
    XLSX = "xlsx"
    HTML = "html"
