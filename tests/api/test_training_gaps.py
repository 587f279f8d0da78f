"""The competence gap of clause 7.2 as a pure function: who holds a role whose required
competence no passed evaluation of theirs shows."""

from __future__ import annotations

from datetime import date

from api.training import gaps
from api.training.enums import GapStatus, Result

PARK = "p1"
DATA_CLERK = gaps.Holder(PARK, "steel", "Zhao Lei", "data clerk")
OTHER_CLERK = gaps.Holder(PARK, "glass", "Sun Li", "Data  Clerk")  # case and blanks differ
ENGINEER = gaps.Holder(PARK, "steel", "Zhou Min", "energy engineer")
ACCOUNTING = gaps.Requirement(1, PARK, None, "data clerk", "GHG accounting (GB/T 32150)")
METERING = gaps.Requirement(2, PARK, "steel", "data clerk", "GB 17167 metering")


def evaluation(holder: gaps.Holder, competence: str, result: Result, day: int) -> gaps.Evaluation:
    return gaps.Evaluation(
        PARK, holder.enterprise_id, holder.person, competence, result, date(2026, 3, day)
    )


def statuses(found: list[gaps.Gap]) -> list[tuple[str, str, GapStatus]]:
    return [(g.holder.person, g.requirement.competence, g.status) for g in found]


def test_a_park_level_requirement_applies_to_the_role_in_every_enterprise() -> None:
    found = gaps.find([DATA_CLERK, OTHER_CLERK, ENGINEER], [ACCOUNTING], [])
    assert statuses(found) == [
        ("Zhao Lei", ACCOUNTING.competence, GapStatus.NO_TRAINING),
        ("Sun Li", ACCOUNTING.competence, GapStatus.NO_TRAINING),
    ]


def test_an_enterprise_requirement_applies_to_its_own_people_only() -> None:
    found = gaps.find([DATA_CLERK, OTHER_CLERK], [METERING], [])
    assert statuses(found) == [("Zhao Lei", METERING.competence, GapStatus.NO_TRAINING)]


def test_a_passed_evaluation_closes_the_gap_even_after_a_failed_one() -> None:
    failed = evaluation(DATA_CLERK, "ghg accounting (gb/t 32150)", Result.FAILED, 1)
    passed = evaluation(DATA_CLERK, ACCOUNTING.competence, Result.PASSED, 2)
    retaken_and_failed = evaluation(DATA_CLERK, ACCOUNTING.competence, Result.FAILED, 20)
    assert gaps.find([DATA_CLERK], [ACCOUNTING], [failed, passed, retaken_and_failed]) == []


def test_training_without_a_pass_is_a_gap_with_its_latest_result() -> None:
    first = evaluation(DATA_CLERK, ACCOUNTING.competence, Result.NOT_EVALUATED, 1)
    second = evaluation(DATA_CLERK, ACCOUNTING.competence, Result.FAILED, 9)
    [gap] = gaps.find([DATA_CLERK], [ACCOUNTING], [second, first])
    assert (gap.status, gap.last_trained_on) == (GapStatus.FAILED, date(2026, 3, 9))


def test_another_persons_pass_or_another_enterprises_namesake_does_not_count() -> None:
    namesake = gaps.Holder(PARK, "glass", "Zhao Lei", "data clerk")
    passed_elsewhere = evaluation(namesake, ACCOUNTING.competence, Result.PASSED, 3)
    passed_by_other = evaluation(OTHER_CLERK, ACCOUNTING.competence, Result.PASSED, 3)
    found = gaps.find([DATA_CLERK], [ACCOUNTING], [passed_elsewhere, passed_by_other])
    assert statuses(found) == [("Zhao Lei", ACCOUNTING.competence, GapStatus.NO_TRAINING)]
