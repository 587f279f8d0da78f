"""The rules of the risk register, pure (clauses 6.1, 6.3.5).

A risk or opportunity is scored likelihood x consequence, each rated 1 (rare, negligible) to
5 (almost certain, severe): the consequence/likelihood matrix that IEC 31010:2019 (in China
GB/T 27921) describes, on a 5 x 5 grid, so scores run 1 to 25 and rank the register.
An admission screening is decided once: ``admit`` only when every criterion applied is met,
``admit_with_conditions`` with the conditions, ``refuse`` otherwise allowed; each with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.risks.enums import Decision, RiskCategory, RiskKind

RATING = range(1, 6)


def score(likelihood: int, consequence: int) -> int:
    """The risk score, 1-25: likelihood x consequence, each rated 1-5."""
    if likelihood not in RATING or consequence not in RATING:
        raise ValueError(f"ratings are 1-5, not {likelihood} and {consequence}")
    return likelihood * consequence


def category_fits(kind: RiskKind, category: RiskCategory) -> bool:
    """An opportunity is category e) of 6.1.2; a risk one of a)-d)."""
    return (kind is RiskKind.OPPORTUNITY) == (category is RiskCategory.OPPORTUNITY)


class DecisionError(ValueError):
    """The decision does not follow from the criteria, or lacks what it needs."""


def check_decision(decision: Decision, *, unmet: Sequence[str], conditions: str | None) -> None:
    """Why ``decision`` cannot be recorded, or nothing. ``unmet``: the criteria not met."""
    if decision is Decision.ADMIT and unmet:
        raise DecisionError(
            f"a project that does not meet {list(unmet)} is not admitted unconditionally: "
            "admit it with conditions or refuse it"
        )
    if (decision is Decision.ADMIT_WITH_CONDITIONS) != (conditions is not None):
        raise DecisionError("conditions are given with admit_with_conditions, and only with it")
