"""The kinds of a context issue (clause 4.1)."""

from __future__ import annotations

from enum import StrEnum


class Origin(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class Category(StrEnum):
    """Commonly used headings for the park's issues (policy to resources)."""

    POLICY = "policy"
    REGULATORY = "regulatory"
    ECONOMIC = "economic"
    SOCIAL = "social"
    TECHNOLOGICAL = "technological"
    ENVIRONMENTAL = "environmental"
    ORGANISATIONAL = "organisational"
    RESOURCES = "resources"
    OTHER = "other"


class Effect(StrEnum):
    """How the issue bears on achieving the intended outcomes of the carbon management system."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    MIXED = "mixed"
