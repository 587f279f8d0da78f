"""The reduction-measure workflow (clauses 6.2.2, 6.3): the transition table and its
preconditions, checked on the pure ``plan`` with an injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.measures import flows
from api.measures.enums import MeasureState as S
from api.measures.flows import MeasureFacts, TransitionRequest

AT = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
TODAY = date(2026, 5, 4)


def _plan(state: S, to: S, *, verifications: int = 0, **fields: object) -> flows.Change:
    request = TransitionRequest(to=to, **fields)  # type: ignore[arg-type]
    return flows.plan(
        MeasureFacts(state=state, verifications=verifications), request, at=AT, today=TODAY
    )


def test_the_happy_path_runs_from_proposed_to_verified_each_step_with_its_time() -> None:
    assert _plan(S.PROPOSED, S.APPROVED).columns == {"status": "approved", "approved_at": AT}
    assert _plan(S.APPROVED, S.IN_PROGRESS).columns == {
        "status": "in_progress",
        "in_progress_at": AT,
    }
    done = _plan(S.IN_PROGRESS, S.IMPLEMENTED, implemented_on=date(2026, 4, 1))
    assert done.columns == {
        "status": "implemented",
        "implemented_at": AT,
        "implemented_on": date(2026, 4, 1),
    }
    verified = _plan(S.IMPLEMENTED, S.VERIFIED, verifications=1)
    assert verified.columns == {"status": "verified", "verified_at": AT}
    assert verified.detail == {"verifications": 1}


@pytest.mark.parametrize(
    ("state", "to"),
    [
        (S.PROPOSED, S.IN_PROGRESS),  # not approved yet
        (S.PROPOSED, S.IMPLEMENTED),
        (S.APPROVED, S.VERIFIED),
        (S.IMPLEMENTED, S.CANCELLED),  # once live, its savings are verified, not cancelled
        (S.VERIFIED, S.PROPOSED),
        (S.CANCELLED, S.APPROVED),
    ],
)
def test_a_move_off_the_table_is_illegal_and_names_the_allowed_ones(state: S, to: S) -> None:
    with pytest.raises(flows.IllegalTransition) as caught:
        _plan(state, to, reason="x") if to is S.CANCELLED else _plan(state, to)
    assert caught.value.allowed == [s.value for s in flows.TRANSITIONS[state]]


def test_a_measure_is_verified_only_once_an_mv_record_exists() -> None:
    with pytest.raises(flows.NotReady, match="measurement and verification"):
        _plan(S.IMPLEMENTED, S.VERIFIED)


def test_implementation_needs_its_date_and_not_one_in_the_future() -> None:
    with pytest.raises(flows.MissingFieldsError, match="missing \\['implemented_on'\\]"):
        _plan(S.IN_PROGRESS, S.IMPLEMENTED)
    with pytest.raises(flows.MissingFieldsError, match="after today"):
        _plan(S.IN_PROGRESS, S.IMPLEMENTED, implemented_on=date(2026, 5, 5))


def test_cancelling_needs_a_reason_and_other_moves_take_none() -> None:
    with pytest.raises(flows.MissingFieldsError, match="missing \\['reason'\\]"):
        _plan(S.APPROVED, S.CANCELLED)
    assert _plan(S.APPROVED, S.CANCELLED, reason="budget cut").columns["cancel_reason"] == (
        "budget cut"
    )
    with pytest.raises(flows.MissingFieldsError, match="not taken here \\['reason'\\]"):
        _plan(S.PROPOSED, S.APPROVED, reason="x")


def test_a_note_goes_with_any_move_into_the_audit_detail() -> None:
    assert _plan(S.PROPOSED, S.APPROVED, note="board minutes 12").detail == {
        "note": "board minutes 12"
    }
