"""Boundaries, version states and file formats of a stored inventory."""

from __future__ import annotations

from enum import StrEnum


class Boundary(StrEnum):
    """The organisational boundary an inventory covers (GB/T 32150 clause 5.1)."""

    PARK = "park"  # every enterprise of the park and the park's own records
    ENTERPRISE = "enterprise"


class VersionState(StrEnum):
    """A version is current until a recomputation of its boundary and period supersedes it."""

    CURRENT = "current"
    SUPERSEDED = "superseded"


class InventoryFormat(StrEnum):
    JSON = "json"
    XLSX = "xlsx"
    HTML = "html"
