"""The competence gap of clause 7.2: each person whose role requires a competence that no
passed evaluation of theirs shows. Pure: it works on the rows the service reads.

A requirement of an enterprise applies to that enterprise's holders of the role; a park-level
one (no enterprise) to every holder of the role in the park. A person is named within an
enterprise (or as park staff); names and roles match whatever their case and blanks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from api.training.enums import GapStatus, Result


@dataclass(frozen=True, slots=True)
class Holder:
    park_id: str
    enterprise_id: str | None
    person: str
    role: str


@dataclass(frozen=True, slots=True)
class Requirement:
    requirement_id: int
    park_id: str
    enterprise_id: str | None
    role: str
    competence: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One attendee's result for one competence an event covered."""

    park_id: str
    enterprise_id: str | None
    person: str
    competence: str
    result: Result
    held_on: date


@dataclass(frozen=True, slots=True)
class Gap:
    holder: Holder
    requirement: Requirement
    status: GapStatus
    last_trained_on: date | None


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def find(
    holders: Iterable[Holder],
    requirements: Iterable[Requirement],
    evaluations: Iterable[Evaluation],
) -> list[Gap]:
    """Every (holder, requirement) without a passed evaluation, in holder then requirement
    order; the status says whether the person was trained (and failed or not evaluated)."""
    by_role: dict[tuple[str, str], list[Requirement]] = {}
    for req in requirements:
        by_role.setdefault((req.park_id, _key(req.role)), []).append(req)
    # (park, enterprise, person, competence) -> the latest result, a pass outranking the rest
    best: dict[tuple[str, str | None, str, str], Evaluation] = {}
    for ev in evaluations:
        key = (ev.park_id, ev.enterprise_id, _key(ev.person), _key(ev.competence))
        seen = best.get(key)
        if seen is None or _rank(ev) > _rank(seen):
            best[key] = ev
    found: list[Gap] = []
    for holder in holders:
        for req in by_role.get((holder.park_id, _key(holder.role)), []):
            if req.enterprise_id not in (None, holder.enterprise_id):
                continue
            key = (holder.park_id, holder.enterprise_id, _key(holder.person), _key(req.competence))
            latest = best.get(key)
            if latest is not None and latest.result is Result.PASSED:
                continue
            status = GapStatus.NO_TRAINING if latest is None else GapStatus(latest.result.value)
            found.append(Gap(holder, req, status, None if latest is None else latest.held_on))
    return found


def _rank(ev: Evaluation) -> tuple[bool, date]:
    return (ev.result is Result.PASSED, ev.held_on)
