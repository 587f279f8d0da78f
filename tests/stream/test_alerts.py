"""The ``alerts`` topic record: round trip, deterministic ids, and strict decoding."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from accounting.alerting import AlertState, AlertTracker
from accounting.deviation import CauseCategory, Rule, evaluate
from accounting.window_figures import Expectation, SubjectKind, WindowFigures
from contracts.alerts import (
    Alert,
    AlertDecodeError,
    alert_from_event,
    alert_id,
    alert_key,
    decode_alert,
    encode_alert,
)

T0 = 1_718_000_000_000 - 1_718_000_000_000 % 900_000


def raised(k: int = 0, subject: str = "nowhere-7") -> Alert:
    figures = WindowFigures.unknown_meter(
        subject, width_s=900, window_start_ms=T0 + k * 900_000, readings=4
    )
    (event,) = AlertTracker().observe(figures, evaluate(figures, Expectation()))
    return alert_from_event(event, raised_at_ms=figures.window_end_ms + 1_234)


def test_an_alert_round_trips_through_its_wire_form() -> None:
    alert = raised()
    assert alert.state is AlertState.RAISED
    assert alert.cause is CauseCategory.ACCOUNTING_SCOPE
    assert alert.enterprise_id is None
    assert decode_alert(encode_alert(alert)) == alert
    with_enterprise = dataclasses.replace(alert, enterprise_id="ent-1", measured=2)
    assert decode_alert(encode_alert(with_enterprise)) == with_enterprise


def test_window_times_are_iso_8601_utc_on_the_wire() -> None:
    wire = orjson.loads(encode_alert(raised()))
    assert wire["window_start"] == "2024-06-10T06:00:00.000Z"
    assert wire["raised_at"] == "2024-06-10T06:15:01.234Z"
    assert wire["rule"] == "UNKNOWN_METER"
    assert wire["cause"] == "accounting_scope_deviation"


def test_alert_ids_are_the_same_on_replay_and_differ_per_rule_subject_and_first_window() -> None:
    assert raised().alert_id == raised().alert_id
    assert raised().alert_id != raised(k=1).alert_id
    assert raised().alert_id != raised(subject="nowhere-8").alert_id
    meter = SubjectKind.METER
    assert alert_id(Rule.UNKNOWN_METER, meter, "m", 900, T0) != alert_id(
        Rule.COMPLETENESS_LOW, meter, "m", 900, T0
    )


def test_every_step_of_one_alert_shares_its_id_and_is_keyed_by_subject() -> None:
    tracker = AlertTracker()
    steps = []
    for k, low in enumerate([True, True, False]):
        figures = WindowFigures(
            subject_kind=SubjectKind.METER,
            subject_id="m-1",
            enterprise_id="ent-1",
            source_category=None,
            width_s=900,
            window_start_ms=T0 + k * 900_000,
            window_end_ms=T0 + (k + 1) * 900_000,
            activity=1.0,
            activity_unit="kWh",
            tco2e=0.0,
            completeness=0.5 if low else 1.0,
            accepted_readings=7,
            rejected_readings=0,
        )
        for event in tracker.observe(figures, evaluate(figures, Expectation())):
            steps.append(alert_from_event(event, raised_at_ms=figures.window_end_ms))
    assert [a.state for a in steps] == [AlertState.RAISED, AlertState.UPDATED, AlertState.RESOLVED]
    assert len({a.alert_id for a in steps}) == 1
    assert {alert_key(a) for a in steps} == {b"meter:m-1"}


def mutated(**changes: Any) -> bytes:
    wire = orjson.loads(encode_alert(raised()))
    for key, value in changes.items():
        if value is ...:
            del wire[key]
        else:
            wire[key] = value
    return orjson.dumps(wire)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"{not json", "alert is not JSON"),
        (b"[1, 2]", "alert must be a JSON object, got list"),
        (mutated(v=2), "unsupported alert version 2"),
        (mutated(measured=...), r"missing \['measured'\]"),
        (mutated(colour="red"), r"unknown \['colour'\]"),
        (mutated(rule="EMISSIONS_TOO_HIGH"), "alert field rule is invalid: 'EMISSIONS_TOO_HIGH'"),
        (mutated(cause="bad luck"), "alert field cause is invalid"),
        (mutated(state="OPEN"), "alert field state is invalid"),
        (mutated(subject_kind="site"), "alert field subject_kind is invalid"),
        (mutated(measured="3.0"), "alert field measured is invalid: '3.0'"),
        (mutated(expected=True), "alert field expected is invalid: True"),
        (mutated(width_s=0), "alert field width_s is invalid: 0"),
        (mutated(window_start="2024-06-10T06:00:00"), "alert field window_start is invalid"),
        (mutated(raised_at=17), "alert field raised_at is invalid: 17"),
        (mutated(alert_id="alert-1"), "alert field alert_id is invalid"),
        (mutated(message=""), "alert field message is invalid"),
        (mutated(enterprise_id=5), "enterprise_id must be a non-empty string or null"),
        (mutated(window_end="2024-06-10T05:00:00.000Z"), "first_start <= start < end"),
    ],
)
def test_a_bad_alert_message_is_refused_with_the_reason(raw: bytes, match: str) -> None:
    with pytest.raises(AlertDecodeError, match=match):
        decode_alert(raw)


def test_decode_errors_are_value_errors_for_callers_that_catch_those() -> None:
    assert issubclass(AlertDecodeError, ValueError)
