"""Which alerts share a cause (clauses 9.1 b, 10.1): the meters behind one stopped gateway make
one incident; a meter's own deviation stays alone."""

from __future__ import annotations

from accounting.deviation import Rule
from accounting.incidents import CommonCause, Member, common_cause, group

W = 1_718_002_800_000


def member(meter: str, gateway: str | None, *, rule: Rule = Rule.COMPLETENESS_LOW) -> Member:
    return Member(f"a-{meter}-{rule}", rule, W, "meter", meter, gateway, "park-1")


def test_the_meters_behind_each_stopped_gateway_make_one_incident_each() -> None:
    alerts = [member(f"m{i}", "gw-a" if i % 3 else "gw-b") for i in range(161)]
    groups = group(alerts)
    gw_a = (Rule.COMPLETENESS_LOW, CommonCause("gateway", "gw-a", "park-1"))
    gw_b = (Rule.COMPLETENESS_LOW, CommonCause("gateway", "gw-b", "park-1"))
    assert set(groups) == {gw_a, gw_b}
    assert len(groups[gw_a]) == 107 and len(groups[gw_b]) == 54
    assert groups[gw_b][0].subject_id == "m0"  # input order kept


def test_a_meters_own_deviation_and_a_meter_without_a_gateway_stand_alone() -> None:
    own = member("m1", "gw-a", rule=Rule.EMISSIONS_ABOVE_TARGET)
    unknown_way = member("m2", None)
    groups = group([own, unknown_way])
    assert groups == {own.alert_id: [own], unknown_way.alert_id: [unknown_way]}


def test_only_a_meter_of_a_known_park_has_a_common_cause() -> None:
    assert common_cause(Rule.COMPLETENESS_LOW, "meter", "gw-a", None) is None
    assert common_cause(Rule.COMPLETENESS_LOW, "enterprise", "gw-a", "p") is None
    assert common_cause(Rule.COMPLETENESS_LOW, "meter", "", "p") is None
    assert common_cause(Rule.COMPLETENESS_LOW, "meter", "gw-a", "p") == CommonCause(
        "gateway", "gw-a", "p"
    )
