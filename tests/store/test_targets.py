"""Targets, baselines and alerts in the real database (clauses 6.2, 6.5, 7.3, 9.1 b)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import psycopg
import pytest

from accounting.alerting import AlertState
from accounting.deviation import CauseCategory, Rule
from accounting.window_figures import SubjectKind
from contracts.alerts import Alert, alert_id
from store.alerts import upsert_alerts
from store.targets import read_baselines, read_targets

pytestmark = pytest.mark.integration

T0 = 1_718_000_000_000 - 1_718_000_000_000 % 900_000
W = 900_000


def add_target(db: psycopg.Connection[Any], subject: str, **columns: Any) -> int:
    row: dict[str, Any] = {
        "subject_kind": "enterprise",
        "subject_id": subject,
        "period_kind": "year",
        "period_start": date(2024, 1, 1),
        "absolute_tco2e": 1200.0,
        "created_by": "alice",
    }
    row.update(columns)
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    found = db.execute(
        f"INSERT INTO target ({names}) VALUES ({marks}) RETURNING target_id",
        list(row.values()),
    ).fetchone()
    assert found is not None
    return int(found[0])


def add_baseline(db: psycopg.Connection[Any], subject: str, **columns: Any) -> int:
    row: dict[str, Any] = {
        "subject_kind": "enterprise",
        "subject_id": subject,
        "method": "base_year",
        "base_year": 2020,
        "value_tco2e": 1500.0,
        "factor_versions": ["grid.cn:2020"],
        "effective": date(2021, 1, 1),
        "created_by": "alice",
    }
    row.update(columns)
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    found = db.execute(
        f"INSERT INTO baseline ({names}) VALUES ({marks}) RETURNING baseline_id",
        list(row.values()),
    ).fetchone()
    assert found is not None
    return int(found[0])


def test_targets_of_the_asked_subjects_come_back_with_their_period_end(
    db: psycopg.Connection[Any], unique: str
) -> None:
    ent, other = f"ent-{unique}", f"other-{unique}"
    add_target(db, ent)
    add_target(
        db,
        ent,
        period_kind="month",
        period_start=date(2024, 2, 1),
        absolute_tco2e=None,
        intensity=0.8,
        intensity_unit="t product",
    )
    add_target(db, other)
    rows = read_targets(db, subjects=[("enterprise", ent)])
    assert [(r.period_kind, r.period_start, r.period_end) for r in rows] == [
        ("year", date(2024, 1, 1), date(2025, 1, 1)),
        ("month", date(2024, 2, 1), date(2024, 3, 1)),
    ]
    assert (rows[1].intensity, rows[1].intensity_unit, rows[1].absolute_tco2e) == (
        0.8,
        "t product",
        None,
    )
    march = read_targets(
        db, subjects=[("enterprise", ent)], overlapping=(date(2024, 3, 1), date(2024, 3, 2))
    )
    assert [r.period_kind for r in march] == ["year"]
    assert read_targets(db, subjects=[]) == []


@pytest.mark.parametrize(
    ("columns", "constraint"),
    [
        ({"period_kind": "month", "period_start": date(2024, 2, 10)}, "target_period_aligned"),
        ({"period_start": date(2024, 3, 1)}, "target_period_aligned"),
        ({"absolute_tco2e": None}, "target_has_a_limit"),
        ({"intensity": 0.5}, "target_intensity_unit"),
        ({"subject_kind": "site"}, "target_subject_kind_check"),
        ({"absolute_tco2e": -1.0}, "target_absolute_tco2e_check"),
        ({"intensity": 0.5, "intensity_unit": "kWh"}, "target_intensity_unit_check"),
    ],
)
def test_an_ill_formed_target_is_refused_by_its_named_rule(
    db: psycopg.Connection[Any], unique: str, columns: dict[str, Any], constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        add_target(db, f"ent-{unique}", **columns)


def test_the_current_baseline_is_the_head_of_its_restatement_chain(
    db: psycopg.Connection[Any], unique: str
) -> None:
    ent = f"ent-{unique}"
    first = add_baseline(db, ent)
    second = add_baseline(
        db,
        ent,
        value_tco2e=1450.0,
        factor_versions=["grid.cn:2022"],
        reason="factors_or_method",
        note="grid factor 2022 published",
        recalculated_from=first,
    )
    regression = add_baseline(
        db,
        f"reg-{unique}",
        method="regression",
        base_year=None,
        regression=psycopg.types.json.Jsonb({"intercept": 10.0, "slopes": {"t": 0.3}}),
        period_kind="month",
        value_tco2e=40.0,
    )
    current = read_baselines(db, subjects=[("enterprise", ent), ("enterprise", f"reg-{unique}")])
    assert current[("enterprise", ent)].baseline_id == second
    assert current[("enterprise", ent)].recalculated_from == first
    assert current[("enterprise", ent)].factor_versions == ["grid.cn:2022"]
    assert current[("enterprise", f"reg-{unique}")].baseline_id == regression
    assert current[("enterprise", f"reg-{unique}")].regression == {
        "intercept": 10.0,
        "slopes": {"t": 0.3},
    }


def test_baseline_restatements_are_controlled(db: psycopg.Connection[Any], unique: str) -> None:
    ent = f"ent-{unique}"
    first = add_baseline(db, ent)
    with pytest.raises(psycopg.errors.CheckViolation, match="baseline_restatement_reason"):
        add_baseline(db, ent, recalculated_from=first)  # no reason given
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="baseline_restates_same_subject"):
        add_baseline(db, f"x-{unique}", reason="static_factors", note="n", recalculated_from=first)
    add_baseline(db, ent, reason="static_factors", note="plant closed", recalculated_from=first)
    with pytest.raises(psycopg.errors.UniqueViolation, match="baseline_restated_once"):
        add_baseline(db, ent, reason="static_factors", note="again", recalculated_from=first)
    with pytest.raises(psycopg.errors.CheckViolation, match="baseline_method_params"):
        add_baseline(db, ent, method="regression", base_year=None)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="never changed in place"):
        db.execute("UPDATE baseline SET value_tco2e = 1 WHERE baseline_id = %s", (first,))


def alert(subject: str, state: AlertState = AlertState.RAISED, k: int = 0) -> Alert:
    return Alert(
        alert_id=alert_id(Rule.COMPLETENESS_LOW, SubjectKind.METER, subject, 900, T0),
        rule=Rule.COMPLETENESS_LOW,
        subject_kind=SubjectKind.METER,
        subject_id=subject,
        enterprise_id="ent-1",
        width_s=900,
        first_window_start_ms=T0,
        window_start_ms=T0 + k * W,
        window_end_ms=T0 + (k + 1) * W,
        measured=0.5 + k / 100,
        expected=0.9,
        unit="fraction",
        tolerance=0.0,
        cause=CauseCategory.DATA_MISSING,
        message=f"completeness low, window {k}",
        state=state,
        raised_at_ms=T0 + (k + 1) * W + 1000,
    )


def stored(db: psycopg.Connection[Any], a: Alert) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT state, measured, first_raised_at = %s::timestamptz, resolved_at IS NOT NULL"
        " FROM alert WHERE alert_id = %s",
        ("2024-06-10T06:15:01Z", a.alert_id),
    ).fetchone()
    assert row is not None
    return tuple(row)


def audit(db: psycopg.Connection[Any], a: Alert) -> list[str]:
    rows = db.execute(
        "SELECT action FROM audit_log WHERE entity = 'alert' AND entity_id = %s ORDER BY id",
        (a.alert_id,),
    ).fetchall()
    return [r[0] for r in rows]


def test_alert_upserts_are_idempotent_and_a_replay_never_winds_an_alert_back(
    db: psycopg.Connection[Any], unique: str
) -> None:
    subject = f"m-{unique}"
    steps = [
        alert(subject),
        alert(subject, AlertState.UPDATED, 1),
        alert(subject, AlertState.RESOLVED, 2),
    ]
    assert upsert_alerts(db, alerts=steps[:1]) == 1
    assert upsert_alerts(db, alerts=steps[:1]) == 0
    assert stored(db, steps[0]) == ("RAISED", 0.5, True, False)
    assert upsert_alerts(db, alerts=steps) == 2
    assert stored(db, steps[0]) == ("RESOLVED", 0.52, True, True)
    assert upsert_alerts(db, alerts=steps) == 0  # the whole life replayed
    assert stored(db, steps[0]) == ("RESOLVED", 0.52, True, True)
    assert audit(db, steps[0]) == ["raise", "resolve"]


def test_an_alert_row_outside_the_standards_categories_is_refused(
    db: psycopg.Connection[Any], unique: str
) -> None:
    bad = dataclasses.replace(alert(f"m-{unique}"), cause=CauseCategory.OTHER)
    upsert_alerts(db, alerts=[bad])
    for column, value, constraint in [
        ("cause", "bad luck", "alert_cause_check"),
        ("rule", "EMISSIONS_TOO_HIGH", "alert_rule_check"),
        ("state", "OPEN", "alert_state_check"),
    ]:
        with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
            db.execute(
                f"UPDATE alert SET {column} = %s WHERE alert_id = %s",
                (value, bad.alert_id),
            )
    with pytest.raises(psycopg.errors.CheckViolation, match="alert_resolved_at"):
        db.execute("UPDATE alert SET state = 'RESOLVED' WHERE alert_id = %s", (bad.alert_id,))
