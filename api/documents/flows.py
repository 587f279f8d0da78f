"""A document version's life as an explicit state machine (clauses 5.2, 7.3).

A version is drafted with its file, approved by someone other than its author once the file is
stored, and issued; issuing withdraws the version it replaces (``superseded_by``), so a document
has one version in force at a time. Any version not in force may be withdrawn with a reason.
The issued carbon policy (5.2) is never withdrawn on its own: it is replaced by issuing a new
version, so the park keeps exactly one policy in force once it has issued one. ``plan`` is
pure: it checks one requested transition and returns the columns to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.documents.enums import DocumentKind, VersionState

S = VersionState

TRANSITIONS: Mapping[VersionState, tuple[VersionState, ...]] = {
    S.DRAFT: (S.APPROVED, S.WITHDRAWN),
    S.APPROVED: (S.ISSUED, S.WITHDRAWN),
    S.ISSUED: (S.WITHDRAWN,),
    S.WITHDRAWN: (),
}
# The field each target state needs; no other field is taken.
_NEEDS: Mapping[VersionState, str | None] = {
    S.APPROVED: "approver",
    S.ISSUED: None,
    S.WITHDRAWN: "reason",
}


class IllegalTransition(Exception):  # noqa: N818 - reads as the condition it reports
    def __init__(self, current: VersionState, target: VersionState) -> None:
        self.current, self.target = current, target
        self.allowed = allowed(current)
        super().__init__(f"a document version in state {current} cannot move to {target}")


class NotReady(Exception):  # noqa: N818
    """The transition is in the table, but the version or its document does not allow it now."""

    def __init__(self, detail: str, current: VersionState) -> None:
        super().__init__(detail)
        self.allowed = allowed(current)


class FieldsError(ValueError):
    """The request lacks the field its target needs, or carries one it does not take."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionFacts:
    state: VersionState
    kind: DocumentKind
    author: str
    file_stored: bool
    issued_version: int | None  # of the same document, if one is in force
    other_policy: int | None = None  # another carbon-policy document in force in the park


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionRequest:
    to: VersionState
    approver: str | None = None
    reason: str | None = None


def allowed(state: VersionState) -> list[str]:
    return [s.value for s in TRANSITIONS[state]]


def same_person(a: str, b: str) -> bool:
    """Names compared as people write them: case and surrounding blanks do not matter."""
    return a.strip().casefold() == b.strip().casefold()


def plan(
    facts: VersionFacts, request: TransitionRequest, *, actor: str, at: datetime
) -> dict[str, Any]:
    """The version columns one transition sets, or the error saying why it cannot be made."""
    current, target = facts.state, request.to
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    needs = _NEEDS[target]
    given = {"approver": request.approver, "reason": request.reason}
    if needs is not None and not given[needs]:
        raise FieldsError(f"-> {target} needs {needs}")
    extra = [n for n, v in given.items() if v is not None and n != needs]
    if extra:
        raise FieldsError(f"-> {target} does not take {extra}")
    match target:
        case S.APPROVED:
            assert request.approver is not None
            if not facts.file_stored:
                raise NotReady("upload the version's file before it is approved", current)
            # 7.3 review and approval: the author does not approve their own document.
            if same_person(request.approver, facts.author):
                raise NotReady("the approver must be someone other than the author", current)
            return {
                "state": target,
                "approver": request.approver,
                "approved_at": at,
                "approved_by": actor,
            }
        case S.ISSUED:
            if facts.other_policy is not None:
                raise NotReady(
                    f"the park's carbon policy in force is document {facts.other_policy}: "
                    "issue a new version of it instead (5.2: one policy at a time)",
                    current,
                )
            return {"state": target, "issued_at": at, "issued_by": actor}
        case _:
            if current is S.ISSUED and facts.kind is DocumentKind.CARBON_POLICY:
                raise NotReady(
                    "the carbon policy in force is replaced by issuing a new version, not "
                    "withdrawn (5.2: the park keeps one policy in force)",
                    current,
                )
            return {
                "state": target,
                "withdrawn_at": at,
                "withdrawn_by": actor,
                "withdrawal_reason": request.reason,
            }
