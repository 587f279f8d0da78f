"""The corrective-action state machine on its own (clauses 9.4, 10.1): every pair of states is
either in the transition table, with exactly the fields it needs, or refused with the allowed
ones listed."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product
from typing import Any

import pytest

from accounting.deviation import CauseCategory
from api.tickets import flows
from api.tickets.enums import TicketKind, TicketState
from api.tickets.flows import TRANSITIONS, TicketFacts, TransitionRequest

S = TicketState
AT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
CAUSE: dict[str, Any] = {
    "cause_category": CauseCategory.DATA_MISSING,
    "root_cause": "gateway gw-02 lost its uplink for 40 minutes",
    "similar_nonconformities": "checked gw-01 and gw-03: none",
}
# The one complete request for each legal transition.
LEGAL: dict[tuple[TicketState, TicketState], dict[str, Any]] = {
    (S.OPEN, S.CONTAINED): {"containment": "switched SIM-0003 to the backup meter"},
    (S.OPEN, S.DISMISSED): {"reason": "false positive: test injection"},
    (S.CONTAINED, S.DISMISSED): {"reason": "false positive after review"},
    (S.CONTAINED, S.CAUSE_IDENTIFIED): CAUSE,
    (S.CAUSE_IDENTIFIED, S.ACTION_IN_PROGRESS): {},
    (S.ACTION_IN_PROGRESS, S.EFFECTIVENESS_CHECK): {},
    (S.EFFECTIVENESS_CHECK, S.CLOSED): {"effectiveness_review": "30 days without recurrence"},
    (S.EFFECTIVENESS_CHECK, S.CAUSE_IDENTIFIED): {
        **CAUSE,
        "effectiveness_review": "recurred after 2 days",
    },
}


def _facts(state: TicketState, pending: tuple[int, ...] = ()) -> TicketFacts:
    return TicketFacts(state=state, pending_action_ids=pending, effectiveness_failures=1)


def _ready(previous: TicketState) -> tuple[int, ...]:
    # Entering action_in_progress needs a pending action; leaving it needs none.
    return (7,) if previous is S.CAUSE_IDENTIFIED else ()


def test_the_table_is_the_workflow_of_the_issue() -> None:
    assert set(LEGAL) == {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert TRANSITIONS[S.CLOSED] == () and TRANSITIONS[S.DISMISSED] == ()


@pytest.mark.parametrize(("previous", "target"), sorted(LEGAL))
def test_each_legal_transition_sets_its_state_and_its_own_timestamp(
    previous: TicketState, target: TicketState
) -> None:
    change = flows.plan(
        _facts(previous, _ready(previous)),
        TransitionRequest(to=target, **LEGAL[(previous, target)]),
        at=AT,
    )
    assert (change.previous, change.target) == (previous, target)
    assert change.columns["state"] == target.value
    assert change.columns[f"{target.value}_at"] == AT


@pytest.mark.parametrize(
    ("previous", "target"),
    [(a, b) for a, b in product(S, S) if (a, b) not in LEGAL],
)
def test_each_illegal_transition_is_refused_listing_the_allowed_ones(
    previous: TicketState, target: TicketState
) -> None:
    with pytest.raises(flows.IllegalTransition) as caught:
        flows.plan(_facts(previous, (1,)), TransitionRequest(to=target, **CAUSE), at=AT)
    assert caught.value.allowed == [s.value for s in TRANSITIONS[previous]]


def test_a_cause_needs_its_category_root_cause_and_the_check_for_similar_ones() -> None:
    partial = {k: v for k, v in CAUSE.items() if k != "similar_nonconformities"}
    with pytest.raises(flows.MissingFieldsError, match=r"missing \['similar_nonconformities'\]"):
        flows.plan(_facts(S.CONTAINED), TransitionRequest(to=S.CAUSE_IDENTIFIED, **partial), at=AT)
    change = flows.plan(
        _facts(S.CONTAINED), TransitionRequest(to=S.CAUSE_IDENTIFIED, **CAUSE), at=AT
    )
    assert change.columns["cause_category"] == "data_missing"
    assert change.columns["similar_nonconformities"] == "checked gw-01 and gw-03: none"


def test_a_field_the_target_does_not_take_is_refused() -> None:
    with pytest.raises(flows.MissingFieldsError, match=r"not taken here \['reason'\]"):
        flows.plan(
            _facts(S.OPEN),
            TransitionRequest(to=S.CONTAINED, containment="isolated", reason="why not"),
            at=AT,
        )


def test_dismissal_needs_a_reason() -> None:
    with pytest.raises(flows.MissingFieldsError, match=r"missing \['reason'\]"):
        flows.plan(_facts(S.OPEN), TransitionRequest(to=S.DISMISSED), at=AT)


def test_actions_must_exist_before_work_starts_and_be_done_before_the_review() -> None:
    with pytest.raises(flows.NotReady, match="at least one corrective action") as caught:
        flows.plan(_facts(S.CAUSE_IDENTIFIED), TransitionRequest(to=S.ACTION_IN_PROGRESS), at=AT)
    assert caught.value.allowed == ["action_in_progress"]
    with pytest.raises(flows.NotReady, match=r"actions not done yet: \[3, 5\]"):
        flows.plan(
            _facts(S.ACTION_IN_PROGRESS, (3, 5)),
            TransitionRequest(to=S.EFFECTIVENESS_CHECK),
            at=AT,
        )


def test_a_failed_effectiveness_review_counts_and_returns_to_the_cause() -> None:
    request = TransitionRequest(
        to=S.CAUSE_IDENTIFIED, **LEGAL[(S.EFFECTIVENESS_CHECK, S.CAUSE_IDENTIFIED)]
    )
    change = flows.plan(_facts(S.EFFECTIVENESS_CHECK), request, at=AT)
    assert change.columns["effectiveness_failures"] == 2  # one before, in _facts
    assert change.detail["effective"] is False
    assert change.columns["effectiveness_review"] == "recurred after 2 days"


def test_closing_records_a_successful_review() -> None:
    request = TransitionRequest(to=S.CLOSED, effectiveness_review="30 days without recurrence")
    change = flows.plan(_facts(S.EFFECTIVENESS_CHECK), request, at=AT)
    assert change.detail == {
        "effectiveness_review": "30 days without recurrence",
        "effective": True,
    }
    assert change.columns["closed_at"] == AT


def test_a_preventive_ticket_goes_from_open_to_its_cause_and_a_corrective_one_cannot() -> None:
    """Clause 9.4: a potential nonconformity has nothing to contain."""
    preventive = TicketFacts(state=S.OPEN, kind=TicketKind.PREVENTIVE)
    change = flows.plan(preventive, TransitionRequest(to=S.CAUSE_IDENTIFIED, **CAUSE), at=AT)
    assert change.columns["state"] == "cause_identified"
    assert change.columns["cause_identified_at"] == AT
    with pytest.raises(flows.IllegalTransition) as refused:
        flows.plan(preventive, TransitionRequest(to=S.CONTAINED, containment="x"), at=AT)
    assert refused.value.allowed == ["cause_identified", "dismissed"]
    with pytest.raises(flows.IllegalTransition) as corrective:
        flows.plan(_facts(S.OPEN), TransitionRequest(to=S.CAUSE_IDENTIFIED, **CAUSE), at=AT)
    assert corrective.value.allowed == ["contained", "dismissed"]
