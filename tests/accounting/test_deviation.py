"""Deviation rules of clause 9.1 b: each rule's trigger, its suggested cause, and the batch path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from accounting.categories import SourceCategory
from accounting.deviation import (
    DEFAULT_ALERT_HORIZON_MS,
    DEFAULT_CAUSE,
    CauseCategory,
    Finding,
    Rule,
    evaluate,
    evaluate_batch,
    within_alert_horizon,
)
from accounting.intensity import OutputUnit
from accounting.reasons import Reason
from accounting.window_figures import (
    DeviationError,
    Expectation,
    SubjectKind,
    Thresholds,
    WindowFigures,
)

T0 = int(datetime(2024, 6, 10, 6, 0, tzinfo=UTC).timestamp()) * 1000
DAY_MS = 86_400_000
NONE = Expectation()


def window(**changes: Any) -> WindowFigures:
    fields: dict[str, Any] = {
        "subject_kind": SubjectKind.ENTERPRISE,
        "subject_id": "ent-1",
        "enterprise_id": "ent-1",
        "source_category": SourceCategory.PURCHASED_ELECTRICITY,
        "width_s": 900,
        "window_start_ms": T0,
        "window_end_ms": T0 + 900_000,
        "activity": 1000.0,
        "activity_unit": "kWh",
        "tco2e": 0.5,
        "completeness": 1.0,
        "accepted_readings": 15,
        "rejected_readings": 0,
        "factor_versions": ("grid.cn:2023",),
    }
    fields.update(changes)
    return WindowFigures(**fields)


def rules(findings: list[Finding]) -> list[Rule]:
    return [f.rule for f in findings]


def only(rule: Rule, figures: WindowFigures, expectation: Expectation = NONE) -> Finding:
    findings = evaluate(figures, expectation)
    assert rules(findings) == [rule]
    return findings[0]


def test_a_clean_window_without_expectations_has_no_findings() -> None:
    assert evaluate(window(), NONE) == []


def test_cause_categories_are_exactly_the_five_of_clause_9_1_b() -> None:
    assert {c.value for c in CauseCategory} == {
        "accounting_scope_deviation",
        "methodology_missing_or_misused",
        "data_missing",
        "unreliable_measurement_or_statistics",
        "other",
    }
    assert set(DEFAULT_CAUSE) == set(Rule)


# -- each rule: one window that triggers it, one that must not ------------------------------------


def test_emissions_above_target_beyond_tolerance_alert_with_measured_and_expected() -> None:
    finding = only(Rule.EMISSIONS_ABOVE_TARGET, window(tco2e=0.5), Expectation(target_tco2e=0.4))
    assert (finding.measured, finding.expected, finding.unit) == (0.5, 0.4, "tCO2e")
    assert finding.tolerance == 0.05
    assert finding.cause is CauseCategory.OTHER
    assert finding.message.startswith("enterprise ent-1 2024-06-10T06:00:00Z..2024-06-10T06:15:00Z")
    assert "suggested cause: other" in finding.message


def test_emissions_exactly_at_target_plus_tolerance_do_not_alert() -> None:
    loose = Thresholds(target_tolerance=0.25)  # 0.5 x 1.25 = 0.625, exact in binary
    assert evaluate(window(tco2e=0.625), Expectation(target_tco2e=0.5), loose) == []
    assert rules(evaluate(window(tco2e=0.626), Expectation(target_tco2e=0.5), loose)) == [
        Rule.EMISSIONS_ABOVE_TARGET
    ]


def test_emissions_above_baseline_alert_only_beyond_the_baseline_tolerance() -> None:
    only(Rule.EMISSIONS_ABOVE_BASELINE, window(tco2e=0.56), Expectation(baseline_tco2e=0.5))
    assert evaluate(window(tco2e=0.54), Expectation(baseline_tco2e=0.5)) == []  # within 10 %


def test_a_net_removal_baseline_is_not_made_stricter_by_its_sign() -> None:
    # Baseline -1.0 tCO2e (a sink), 10 % tolerance on |baseline|: the limit is -0.9.
    assert evaluate(window(tco2e=-0.95), Expectation(baseline_tco2e=-1.0)) == []
    only(Rule.EMISSIONS_ABOVE_BASELINE, window(tco2e=-0.85), Expectation(baseline_tco2e=-1.0))


def test_intensity_above_target_alerts_in_tco2e_per_output_unit() -> None:
    figures = window(tco2e=0.5, output=2.0, output_unit=OutputUnit.TONNE_PRODUCT)  # 0.25 t/t
    target = Expectation(intensity_target=0.2, intensity_unit=OutputUnit.TONNE_PRODUCT)
    finding = only(Rule.INTENSITY_ABOVE_TARGET, figures, target)
    assert (finding.measured, finding.expected) == (0.25, 0.2)
    assert finding.unit == "tCO2e/t product"


def test_intensity_at_target_or_without_output_does_not_alert() -> None:
    target = Expectation(intensity_target=0.25, intensity_unit=OutputUnit.TONNE_PRODUCT)
    with_output = window(tco2e=0.5, output=2.0, output_unit=OutputUnit.TONNE_PRODUCT)
    assert evaluate(with_output, target) == []
    assert evaluate(window(tco2e=0.5), target) == []  # no output: no intensity (not infinite)
    no_output = window(tco2e=0.5, output=0.0, output_unit=OutputUnit.TONNE_PRODUCT)
    assert evaluate(no_output, target) == []


def test_intensity_target_in_another_output_unit_is_refused() -> None:
    figures = window(output=2.0, output_unit=OutputUnit.TONNE_PRODUCT)
    target = Expectation(intensity_target=0.2, intensity_unit=OutputUnit.CNY_10K)
    with pytest.raises(DeviationError, match="target per 10\\^4 CNY"):
        evaluate(figures, target)


def test_completeness_below_minimum_alerts_as_data_missing() -> None:
    finding = only(Rule.COMPLETENESS_LOW, window(completeness=0.8))
    assert (finding.measured, finding.expected, finding.unit) == (0.8, 0.9, "fraction")
    assert finding.cause is CauseCategory.DATA_MISSING


def test_completeness_at_the_minimum_does_not_alert() -> None:
    assert evaluate(window(completeness=0.9), NONE) == []


def test_validation_failure_rate_above_maximum_alerts_as_unreliable_measurement() -> None:
    finding = only(
        Rule.VALIDATION_FAILURE_RATE_HIGH, window(accepted_readings=18, rejected_readings=2)
    )
    assert (finding.measured, finding.expected) == (0.1, 0.05)
    assert finding.cause is CauseCategory.UNRELIABLE_MEASUREMENT


def test_failure_rate_at_maximum_or_over_too_few_readings_does_not_alert() -> None:
    assert evaluate(window(accepted_readings=19, rejected_readings=1), NONE) == []
    assert evaluate(window(accepted_readings=1, rejected_readings=1), NONE) == []  # 2 < 4


def test_calibration_overdue_alerts_with_days_past_the_due_date() -> None:
    figures = window(calibration_due_ms=T0 + 900_000 - 2 * DAY_MS)
    finding = only(Rule.CALIBRATION_OVERDUE, figures)
    assert (finding.measured, finding.unit) == (2.0, "d past due")
    assert finding.cause is CauseCategory.UNRELIABLE_MEASUREMENT
    flagged = only(Rule.CALIBRATION_OVERDUE, window(flags=int(Reason.CALIBRATION_OVERDUE)))
    assert flagged.measured == 0.0  # due date not given: the validation flag alone


def test_calibration_due_in_the_future_does_not_alert() -> None:
    assert evaluate(window(calibration_due_ms=T0 + DAY_MS), NONE) == []


def test_unknown_meter_alerts_as_a_scope_deviation_and_nothing_else() -> None:
    figures = WindowFigures.unknown_meter("nowhere-1", width_s=900, window_start_ms=T0, readings=3)
    finding = only(Rule.UNKNOWN_METER, figures)
    assert (finding.measured, finding.expected, finding.unit) == (3.0, 0.0, "readings")
    assert finding.cause is CauseCategory.ACCOUNTING_SCOPE
    assert finding.enterprise_id is None


def test_a_window_without_out_of_scope_readings_has_no_unknown_meter_alert() -> None:
    assert Rule.UNKNOWN_METER not in rules(evaluate(window(out_of_scope_readings=0), NONE))


def test_activity_without_an_emission_factor_alerts_as_methodology_missing() -> None:
    finding = only(Rule.EMISSION_FACTOR_MISSING, window(tco2e=0.0, factor_versions=()))
    assert (finding.measured, finding.unit) == (1000.0, "kWh")
    assert finding.cause is CauseCategory.METHODOLOGY


def test_an_activity_only_meter_needs_no_emission_factor() -> None:
    water = window(source_category=None, tco2e=0.0, factor_versions=(), activity_unit="m3")
    assert evaluate(water, NONE) == []


# -- the cause decision table of the performance rules ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({}, CauseCategory.OTHER),
        ({"out_of_scope_readings": 2}, CauseCategory.ACCOUNTING_SCOPE),
        ({"factor_missing": True}, CauseCategory.METHODOLOGY),
        ({"completeness": 0.5}, CauseCategory.DATA_MISSING),
        ({"flags": int(Reason.GAP)}, CauseCategory.DATA_MISSING),
        ({"flags": int(Reason.STALE)}, CauseCategory.UNRELIABLE_MEASUREMENT),
        ({"flags": int(Reason.ACCURACY_CLASS_INSUFFICIENT)}, CauseCategory.UNRELIABLE_MEASUREMENT),
        ({"accepted_readings": 10, "rejected_readings": 5}, CauseCategory.UNRELIABLE_MEASUREMENT),
        ({"flags": int(Reason.ROLLOVER | Reason.INTERPOLATED)}, CauseCategory.OTHER),
        # First match wins: scope before data missing, method before unreliable measurement.
        ({"out_of_scope_readings": 1, "completeness": 0.5}, CauseCategory.ACCOUNTING_SCOPE),
        ({"factor_missing": True, "flags": int(Reason.STALE)}, CauseCategory.METHODOLOGY),
        ({"completeness": 0.5, "flags": int(Reason.STALE)}, CauseCategory.DATA_MISSING),
    ],
)
def test_emissions_above_target_suggest_the_cause_the_window_quality_points_to(
    changes: dict[str, Any], cause: CauseCategory
) -> None:
    findings = evaluate(window(tco2e=1.0, **changes), Expectation(target_tco2e=0.5))
    above = [f for f in findings if f.rule is Rule.EMISSIONS_ABOVE_TARGET]
    assert [f.cause for f in above] == [cause]


def test_factor_versions_the_baseline_did_not_use_point_to_methodology_for_the_baseline_only() -> (
    None
):
    figures = window(tco2e=1.0, factor_versions=("grid.cn:2024",))
    expectation = Expectation(
        target_tco2e=0.5, baseline_tco2e=0.5, baseline_factor_versions=("grid.cn:2023",)
    )
    causes = {f.rule: f.cause for f in evaluate(figures, expectation)}
    assert causes == {
        Rule.EMISSIONS_ABOVE_TARGET: CauseCategory.OTHER,
        Rule.EMISSIONS_ABOVE_BASELINE: CauseCategory.METHODOLOGY,  # 6.5 c: restate first
    }
    same = evaluate(window(tco2e=1.0), expectation)
    assert {f.cause for f in same} == {CauseCategory.OTHER}


# -- the batch path and the contracts --------------------------------------------------------


def test_batch_findings_equal_one_window_at_a_time_ordered_by_window_then_rule() -> None:
    figures = [
        window(tco2e=1.0, completeness=0.5),
        window(),
        WindowFigures.unknown_meter("x", width_s=900, window_start_ms=T0, readings=1),
        window(subject_id="ent-2", accepted_readings=5, rejected_readings=5),
    ]
    expectations = [Expectation(target_tco2e=0.5, baseline_tco2e=0.9), NONE, NONE, NONE]
    batch = evaluate_batch(figures, expectations)
    one_by_one = [f for x, e in zip(figures, expectations, strict=True) for f in evaluate(x, e)]
    assert batch == one_by_one
    assert rules(batch) == [
        Rule.EMISSIONS_ABOVE_TARGET,
        Rule.EMISSIONS_ABOVE_BASELINE,
        Rule.COMPLETENESS_LOW,
        Rule.UNKNOWN_METER,
        Rule.VALIDATION_FAILURE_RATE_HIGH,
    ]


def test_batch_of_nothing_is_nothing_and_mismatched_lengths_are_refused() -> None:
    assert evaluate_batch([], []) == []
    with pytest.raises(DeviationError, match="2 windows but 1 expectations"):
        evaluate_batch([window(), window()], [NONE])


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"window_end_ms": T0 + 60_000}, "do not span 900 s"),
        ({"completeness": 1.5}, "completeness 1.5 not 0..1"),
        ({"rejected_readings": -1}, "negative reading count"),
        ({"output": 3.0}, "output and output unit go together"),
        ({"tco2e": float("nan")}, "not finite"),
    ],
)
def test_ill_formed_window_figures_are_refused(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(DeviationError, match=match):
        window(**changes)


def test_ill_formed_expectations_and_thresholds_are_refused() -> None:
    with pytest.raises(DeviationError, match="intensity target and its unit"):
        Expectation(intensity_target=0.2)
    with pytest.raises(DeviationError, match="tolerances must be >= 0"):
        Thresholds(target_tolerance=-0.1)
    with pytest.raises(DeviationError, match="min_readings_for_rate >= 1"):
        Thresholds(min_readings_for_rate=0)


def test_an_unauthorized_source_alerts_as_a_scope_deviation_of_the_meters_enterprise() -> None:
    figures = WindowFigures.unauthorized_source(
        "m-b", enterprise_id="ent-b", width_s=900, window_start_ms=T0, readings=2
    )
    finding = only(Rule.UNAUTHORIZED_SOURCE, figures)
    assert (finding.measured, finding.expected, finding.unit) == (2.0, 0.0, "readings")
    assert finding.cause is CauseCategory.ACCOUNTING_SCOPE
    assert finding.enterprise_id == "ent-b"
    assert Rule.UNAUTHORIZED_SOURCE not in rules(evaluate(window(), NONE))


_NOW = 1_790_000_000_000
_DAY_MS = 86_400_000


def test_deviations_are_evaluated_only_for_windows_ending_within_the_alert_horizon() -> None:
    horizon = DEFAULT_ALERT_HORIZON_MS
    assert within_alert_horizon(_NOW, _NOW, horizon)
    assert within_alert_horizon(_NOW - horizon + 1, _NOW, horizon)
    assert not within_alert_horizon(_NOW - horizon, _NOW, horizon)
    assert not within_alert_horizon(_NOW - 273 * _DAY_MS, _NOW, horizon)
