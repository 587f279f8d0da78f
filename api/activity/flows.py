"""The activity record's life as an explicit state machine (clauses 6.3.1 e, 7.3).

A record is entered as a draft, confirmed by someone who checked it against its evidence, and
only then counts in the inventory. A correction is a new version (the old one stays readable)
and sends the record back to draft, so a changed figure is confirmed again before it counts.
A withdrawn record keeps its versions and never counts again.
"""

from __future__ import annotations

from collections.abc import Mapping

from api.activity.enums import RecordEvent, RecordState

S, E = RecordState, RecordEvent

TRANSITIONS: Mapping[tuple[RecordState, RecordEvent], RecordState] = {
    (S.DRAFT, E.CONFIRM): S.CONFIRMED,
    (S.DRAFT, E.WITHDRAW): S.WITHDRAWN,
    (S.DRAFT, E.CORRECT): S.DRAFT,
    (S.CONFIRMED, E.WITHDRAW): S.WITHDRAWN,
    (S.CONFIRMED, E.CORRECT): S.DRAFT,
}
# What ``POST .../transitions`` asks for, by target state.
EVENT_FOR: Mapping[RecordState, RecordEvent] = {
    S.CONFIRMED: E.CONFIRM,
    S.WITHDRAWN: E.WITHDRAW,
}


class IllegalTransition(Exception):  # noqa: N818 - reads as the condition it reports
    def __init__(self, current: RecordState, event: RecordEvent) -> None:
        self.current, self.event = current, event
        self.allowed = allowed(current)
        super().__init__(f"a record in state {current} cannot {event}")


def allowed(state: RecordState) -> list[str]:
    """The events a record in ``state`` takes."""
    return [event.value for (s, event) in TRANSITIONS if s is state]


def target(state: RecordState, event: RecordEvent) -> RecordState:
    """The state ``event`` leads to from ``state``, or ``IllegalTransition``."""
    found = TRANSITIONS.get((state, event))
    if found is None:
        raise IllegalTransition(state, event)
    return found
