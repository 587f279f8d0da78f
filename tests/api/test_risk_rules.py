"""The risk register's pure rules (clauses 6.1, 6.3.5): the 5 x 5 score and what an admission
decision on a two-high project may be."""

from __future__ import annotations

import pytest

from api.risks import rules
from api.risks.enums import Decision, RiskCategory, RiskKind


@pytest.mark.parametrize(
    ("likelihood", "consequence", "score"), [(1, 1, 1), (2, 3, 6), (5, 4, 20), (5, 5, 25)]
)
def test_the_score_is_likelihood_times_consequence(
    likelihood: int, consequence: int, score: int
) -> None:
    assert rules.score(likelihood, consequence) == score


@pytest.mark.parametrize(("likelihood", "consequence"), [(0, 3), (3, 6), (-1, 1)])
def test_ratings_outside_one_to_five_have_no_score(likelihood: int, consequence: int) -> None:
    with pytest.raises(ValueError, match="1-5"):
        rules.score(likelihood, consequence)


def test_an_opportunity_is_category_e_and_a_risk_one_of_a_to_d() -> None:
    assert rules.category_fits(RiskKind.OPPORTUNITY, RiskCategory.OPPORTUNITY)
    assert not rules.category_fits(RiskKind.OPPORTUNITY, RiskCategory.FINANCIAL)
    assert not rules.category_fits(RiskKind.RISK, RiskCategory.OPPORTUNITY)
    assert all(
        rules.category_fits(RiskKind.RISK, c) for c in RiskCategory if c.value != "opportunity"
    )


def test_a_project_missing_a_criterion_is_not_admitted_unconditionally() -> None:
    with pytest.raises(rules.DecisionError, match="energy efficiency benchmark"):
        rules.check_decision(Decision.ADMIT, unmet=["energy efficiency benchmark"], conditions=None)
    rules.check_decision(Decision.ADMIT, unmet=[], conditions=None)
    rules.check_decision(Decision.REFUSE, unmet=["x"], conditions=None)
    rules.check_decision(
        Decision.ADMIT_WITH_CONDITIONS, unmet=["x"], conditions="buy green power for 30 %"
    )


def test_conditions_come_with_admit_with_conditions_only() -> None:
    with pytest.raises(rules.DecisionError):
        rules.check_decision(Decision.ADMIT_WITH_CONDITIONS, unmet=[], conditions=None)
    with pytest.raises(rules.DecisionError):
        rules.check_decision(Decision.REFUSE, unmet=[], conditions="something")
