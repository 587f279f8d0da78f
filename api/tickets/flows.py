"""The corrective-action workflow as an explicit state machine (clauses 9.4, 10.1).

``TRANSITIONS`` is the whole workflow: react and contain (10.1 a), find the cause from the five
categories of 9.1 b and check for similar nonconformities (10.1 b), act (10.1 c), review the
action's effectiveness (10.1 d) and close - or go back to the cause when the review finds the
action did not work. A false positive is dismissed with a reason before any cause work starts.
A preventive ticket (9.4: a potential nonconformity) has nothing to contain: from open it goes
straight to its cause (``PREVENTIVE_TRANSITIONS``) and then the same way as a corrective one.
``plan`` is pure: it checks one requested transition against the table and the fields the
target state needs, and returns the columns to write; ``service.transition`` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accounting.deviation import CauseCategory
from api.tickets.enums import TicketKind, TicketState

S = TicketState

TRANSITIONS: Mapping[TicketState, tuple[TicketState, ...]] = {
    S.OPEN: (S.CONTAINED, S.DISMISSED),
    S.CONTAINED: (S.CAUSE_IDENTIFIED, S.DISMISSED),
    S.CAUSE_IDENTIFIED: (S.ACTION_IN_PROGRESS,),
    S.ACTION_IN_PROGRESS: (S.EFFECTIVENESS_CHECK,),
    # A failed review sends the ticket back to the cause (10.1 d-e: the action did not remove it).
    S.EFFECTIVENESS_CHECK: (S.CLOSED, S.CAUSE_IDENTIFIED),
    S.CLOSED: (),
    S.DISMISSED: (),
}
PREVENTIVE_TRANSITIONS: Mapping[TicketState, tuple[TicketState, ...]] = {
    **TRANSITIONS,
    S.OPEN: (S.CAUSE_IDENTIFIED, S.DISMISSED),
}


def transitions(kind: TicketKind) -> Mapping[TicketState, tuple[TicketState, ...]]:
    """The workflow of a ticket of ``kind``."""
    return PREVENTIVE_TRANSITIONS if kind is TicketKind.PREVENTIVE else TRANSITIONS


# Actions are decided once the cause is known and may be added while they are carried out.
ACTION_STATES = frozenset({S.CAUSE_IDENTIFIED, S.ACTION_IN_PROGRESS})

_CAUSE_FIELDS = ("cause_category", "root_cause", "similar_nonconformities")
# The fields each transition needs, by (from, to); none other is accepted.
_NEEDS: Mapping[tuple[TicketState, TicketState], tuple[str, ...]] = {
    (S.OPEN, S.CONTAINED): ("containment",),
    (S.OPEN, S.DISMISSED): ("reason",),
    (S.CONTAINED, S.DISMISSED): ("reason",),
    (S.CONTAINED, S.CAUSE_IDENTIFIED): _CAUSE_FIELDS,
    (S.OPEN, S.CAUSE_IDENTIFIED): _CAUSE_FIELDS,  # preventive tickets only
    (S.CAUSE_IDENTIFIED, S.ACTION_IN_PROGRESS): (),
    (S.ACTION_IN_PROGRESS, S.EFFECTIVENESS_CHECK): (),
    (S.EFFECTIVENESS_CHECK, S.CLOSED): ("effectiveness_review",),
    (S.EFFECTIVENESS_CHECK, S.CAUSE_IDENTIFIED): ("effectiveness_review", *_CAUSE_FIELDS),
}
_FIELDS = ("containment", "reason", "effectiveness_review", *_CAUSE_FIELDS)


class IllegalTransition(Exception):  # noqa: N818 - reads as the condition it reports
    """The table has no such transition from the ticket's state."""

    def __init__(
        self, current: TicketState, target: TicketState, kind: TicketKind = TicketKind.CORRECTIVE
    ) -> None:
        self.current, self.target = current, target
        self.allowed = allowed(current, kind)
        super().__init__(f"a ticket in state {current} cannot move to {target}")


class NotReady(Exception):  # noqa: N818
    """The transition is in the table but the ticket does not meet its precondition yet."""

    def __init__(
        self, detail: str, current: TicketState, kind: TicketKind = TicketKind.CORRECTIVE
    ) -> None:
        super().__init__(detail)
        self.allowed = allowed(current, kind)


class MissingFieldsError(ValueError):
    """The request lacks a field the target state needs, or carries one it does not take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionRequest:
    to: TicketState
    containment: str | None = None
    reason: str | None = None  # why a ticket is dismissed
    cause_category: CauseCategory | None = None
    root_cause: str | None = None
    similar_nonconformities: str | None = None
    effectiveness_review: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketFacts:
    """What the precondition of a transition looks at."""

    state: TicketState
    kind: TicketKind = TicketKind.CORRECTIVE
    pending_action_ids: tuple[int, ...] = ()  # actions not done yet
    effectiveness_failures: int = 0


@dataclass(frozen=True, slots=True)
class Change:
    previous: TicketState
    target: TicketState
    columns: dict[str, Any]  # ticket columns to set
    detail: dict[str, Any] = field(default_factory=dict)  # what the history records


def allowed(state: TicketState, kind: TicketKind = TicketKind.CORRECTIVE) -> list[str]:
    return [s.value for s in transitions(kind)[state]]


def plan(facts: TicketFacts, request: TransitionRequest, *, at: datetime) -> Change:
    """The change one transition makes, or the reason it cannot be made."""
    previous, target = facts.state, request.to
    if target not in transitions(facts.kind)[previous]:
        raise IllegalTransition(previous, target, facts.kind)
    needs = _NEEDS[(previous, target)]
    given = {name: getattr(request, name) for name in _FIELDS}
    missing = [n for n in needs if given[n] is None or given[n] == ""]
    extra = [n for n, v in given.items() if v is not None and n not in needs]
    if missing or extra:
        raise MissingFieldsError(
            f"{previous} -> {target} needs {list(needs)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; not taken here {extra}" if extra else "")
        )
    detail: dict[str, Any] = {n: given[n] for n in needs}
    columns: dict[str, Any] = {"state": target.value, f"{target.value}_at": at}
    match previous, target:
        case (S.OPEN, S.CONTAINED):
            columns["containment"] = request.containment
        case (_, S.DISMISSED):
            columns["dismissal_reason"] = request.reason
        case (S.EFFECTIVENESS_CHECK, S.CAUSE_IDENTIFIED):
            columns |= _cause(request)
            columns["effectiveness_review"] = request.effectiveness_review
            columns["effectiveness_failures"] = facts.effectiveness_failures + 1
            detail["effective"] = False
        case (_, S.CAUSE_IDENTIFIED):
            columns |= _cause(request)
        case (S.CAUSE_IDENTIFIED, S.ACTION_IN_PROGRESS):
            if not facts.pending_action_ids:
                raise NotReady(
                    "add at least one corrective action (owner, due date) first",
                    previous,
                    facts.kind,
                )
            detail["actions"] = list(facts.pending_action_ids)
        case (S.ACTION_IN_PROGRESS, S.EFFECTIVENESS_CHECK):
            if facts.pending_action_ids:
                raise NotReady(
                    f"actions not done yet: {list(facts.pending_action_ids)}; mark them done first",
                    previous,
                    facts.kind,
                )
        case (S.EFFECTIVENESS_CHECK, S.CLOSED):
            columns["effectiveness_review"] = request.effectiveness_review
            detail["effective"] = True
    return Change(previous, target, columns, detail)


def _cause(request: TransitionRequest) -> dict[str, Any]:
    assert request.cause_category is not None  # checked by _NEEDS
    return {
        "cause_category": request.cause_category.value,
        "root_cause": request.root_cause,
        "similar_nonconformities": request.similar_nonconformities,
    }
