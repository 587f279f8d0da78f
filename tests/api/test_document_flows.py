"""The document version's state machine (clauses 5.2, 7.3), as a pure function: the table of
transitions, what each target needs, and the rules approval and the carbon policy add."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.documents import flows
from api.documents.enums import DocumentKind, VersionState

S = VersionState
AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DRAFT = flows.VersionFacts(
    state=S.DRAFT,
    kind=DocumentKind.PROCEDURE,
    author="Wang Fang",
    file_stored=True,
    issued_version=None,
)


def request(to: VersionState) -> flows.TransitionRequest:
    fields = {S.APPROVED: {"approver": "Li Qiang"}, S.WITHDRAWN: {"reason": "obsolete"}}
    return flows.TransitionRequest(to=to, **fields.get(to, {}))


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_the_transitions_of_the_table_are_made(current: S, target: S) -> None:
    facts = replace(DRAFT, state=current)
    if target in flows.TRANSITIONS[current]:
        assert flows.plan(facts, request(target), actor="k", at=AT)["state"] is target
    else:
        with pytest.raises(flows.IllegalTransition) as raised:
            flows.plan(facts, request(target), actor="k", at=AT)
        assert raised.value.allowed == [s.value for s in flows.TRANSITIONS[current]]


def test_a_withdrawn_version_is_final_and_an_issued_one_only_withdrawn() -> None:
    assert flows.TRANSITIONS[S.WITHDRAWN] == ()
    assert flows.TRANSITIONS[S.ISSUED] == (S.WITHDRAWN,)
    assert S.ISSUED not in flows.TRANSITIONS[S.DRAFT]  # approval comes first


def test_approval_records_the_approver_time_and_key() -> None:
    columns = flows.plan(DRAFT, request(S.APPROVED), actor="key:x(office)", at=AT)
    assert columns == {
        "state": S.APPROVED,
        "approver": "Li Qiang",
        "approved_at": AT,
        "approved_by": "key:x(office)",
    }


@pytest.mark.parametrize("approver", ["Wang Fang", "  wang fang ", "WANG FANG"])
def test_the_author_does_not_approve_their_own_version(approver: str) -> None:
    with pytest.raises(flows.NotReady, match="other than the author"):
        flows.plan(
            DRAFT, flows.TransitionRequest(to=S.APPROVED, approver=approver), actor="k", at=AT
        )


def test_a_version_is_approved_only_with_its_file_stored() -> None:
    with pytest.raises(flows.NotReady, match="upload"):
        flows.plan(replace(DRAFT, file_stored=False), request(S.APPROVED), actor="k", at=AT)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (flows.TransitionRequest(to=S.APPROVED), "needs approver"),
        (flows.TransitionRequest(to=S.WITHDRAWN), "needs reason"),
        (flows.TransitionRequest(to=S.APPROVED, approver="Li", reason="x"), "does not take"),
    ],
)
def test_each_target_takes_exactly_its_fields(given: flows.TransitionRequest, message: str) -> None:
    with pytest.raises(flows.FieldsError, match=message):
        flows.plan(DRAFT, given, actor="k", at=AT)


def test_the_carbon_policy_in_force_is_replaced_never_withdrawn() -> None:
    policy = replace(DRAFT, kind=DocumentKind.CARBON_POLICY, state=S.ISSUED, issued_version=1)
    with pytest.raises(flows.NotReady, match="replaced by issuing a new version"):
        flows.plan(policy, request(S.WITHDRAWN), actor="k", at=AT)
    # An issued procedure may be withdrawn without a successor.
    procedure = replace(policy, kind=DocumentKind.PROCEDURE)
    assert flows.plan(procedure, request(S.WITHDRAWN), actor="k", at=AT)["state"] is S.WITHDRAWN


def test_a_second_carbon_policy_is_not_issued_while_one_is_in_force() -> None:
    approved = replace(DRAFT, kind=DocumentKind.CARBON_POLICY, state=S.APPROVED, other_policy=7)
    with pytest.raises(flows.NotReady, match="document 7"):
        flows.plan(approved, request(S.ISSUED), actor="k", at=AT)
    alone = replace(approved, other_policy=None)
    assert flows.plan(alone, request(S.ISSUED), actor="k", at=AT)["state"] is S.ISSUED
