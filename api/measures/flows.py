"""The reduction-measure workflow as an explicit state machine (clauses 6.2.2, 6.3).

``TRANSITIONS`` is the whole workflow: a proposed measure is approved, carried out and
implemented (with the date it went live, from which its savings are measured), then verified
once a measurement-and-verification record exists; until it is implemented it may be cancelled
with a reason. ``plan`` is pure: it checks one requested transition against the table and the
fields the target state needs, and returns the columns to write; ``service.transition`` applies
it with its audit record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from api.measures.enums import MeasureState

S = MeasureState

TRANSITIONS: Mapping[MeasureState, tuple[MeasureState, ...]] = {
    S.PROPOSED: (S.APPROVED, S.CANCELLED),
    S.APPROVED: (S.IN_PROGRESS, S.CANCELLED),
    S.IN_PROGRESS: (S.IMPLEMENTED, S.CANCELLED),
    S.IMPLEMENTED: (S.VERIFIED,),
    S.VERIFIED: (),
    S.CANCELLED: (),
}
# The fields each target state needs; none other is accepted (``note`` goes anywhere).
_NEEDS: Mapping[MeasureState, tuple[str, ...]] = {
    S.APPROVED: (),
    S.IN_PROGRESS: (),
    S.IMPLEMENTED: ("implemented_on",),
    S.VERIFIED: (),
    S.CANCELLED: ("reason",),
}
_FIELDS = ("implemented_on", "reason")


class IllegalTransition(Exception):  # noqa: N818 - reads as the condition it reports
    """The table has no such transition from the measure's state."""

    def __init__(self, current: MeasureState, target: MeasureState) -> None:
        self.current, self.target = current, target
        self.allowed = allowed(current)
        super().__init__(f"a measure in state {current} cannot move to {target}")


class NotReady(Exception):  # noqa: N818
    """The transition is in the table but the measure does not meet its precondition yet."""

    def __init__(self, detail: str, current: MeasureState) -> None:
        super().__init__(detail)
        self.allowed = allowed(current)


class MissingFieldsError(ValueError):
    """The request lacks a field the target state needs, carries one it does not take, or a
    field's value is impossible (an implementation date in the future)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionRequest:
    to: MeasureState
    implemented_on: date | None = None
    reason: str | None = None  # why a measure is cancelled
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasureFacts:
    state: MeasureState
    verifications: int = 0  # M&V records stored for the measure


@dataclass(frozen=True, slots=True)
class Change:
    previous: MeasureState
    target: MeasureState
    columns: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


def allowed(state: MeasureState) -> list[str]:
    return [s.value for s in TRANSITIONS[state]]


def plan(facts: MeasureFacts, request: TransitionRequest, *, at: datetime, today: date) -> Change:
    """The change one transition makes, or the reason it cannot be made; ``today`` is the
    park's local date (an implementation date may not lie after it)."""
    previous, target = facts.state, request.to
    if target not in TRANSITIONS[previous]:
        raise IllegalTransition(previous, target)
    needs = _NEEDS[target]
    given = {name: getattr(request, name) for name in _FIELDS}
    missing = [n for n in needs if given[n] is None or given[n] == ""]
    extra = [n for n, v in given.items() if v is not None and n not in needs]
    if missing or extra:
        raise MissingFieldsError(
            f"{previous} -> {target} needs {list(needs)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; not taken here {extra}" if extra else "")
        )
    columns: dict[str, Any] = {"status": target.value, f"{target.value}_at": at}
    detail: dict[str, Any] = {n: given[n] for n in needs}
    match target:
        case S.IMPLEMENTED:
            assert request.implemented_on is not None  # checked by _NEEDS
            if request.implemented_on > today:
                raise MissingFieldsError(
                    f"implemented_on {request.implemented_on} is after today ({today})"
                )
            columns["implemented_on"] = request.implemented_on
        case S.CANCELLED:
            columns["cancel_reason"] = request.reason
        case S.VERIFIED:
            if facts.verifications == 0:
                raise NotReady(
                    "record a measurement and verification first (POST .../verifications)",
                    previous,
                )
            detail["verifications"] = facts.verifications
    if request.note:
        detail["note"] = request.note
    return Change(previous, target, columns, detail)
