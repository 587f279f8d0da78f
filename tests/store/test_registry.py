from __future__ import annotations

from datetime import date

import psycopg
import pytest

from accounting.regions import RegionLevel
from store.registry import (
    FactorContext,
    Meter,
    RegistryError,
    add_enterprise,
    add_meter,
    add_park,
    add_site,
    enterprise_contexts,
    get_meter,
    inventory_starts_ms,
    registry_version,
    set_park_factor_settings,
    set_park_inventory_start,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def enterprise(db: psycopg.Connection, unique: str) -> str:
    add_park(db, park_id=f"park-{unique}", name="Test park", actor="test")
    add_enterprise(
        db, enterprise_id=f"ent-{unique}", park_id=f"park-{unique}", name="Steelworks", actor="test"
    )
    return f"ent-{unique}"


def _meter(meter_id: str, enterprise_id: str, **changes: object) -> Meter:
    fields: dict[str, object] = {
        "meter_id": meter_id,
        "enterprise_id": enterprise_id,
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
        "multiplier": 200.0,
        "rollover": 99_999_999.0,
        "accuracy_class": "0.5S",
        "calibration_due": date(2027, 6, 30),
        "factor_key": "grid.cn.national",
    }
    fields.update(changes)
    return Meter(**fields)  # type: ignore[arg-type]


def test_meter_round_trips_and_its_creation_is_audited(
    db: psycopg.Connection, enterprise: str, unique: str
) -> None:
    meter = _meter(f"E-{unique}", enterprise)
    add_meter(db, meter=meter, actor="alice", reason="commissioned")
    assert get_meter(db, meter.meter_id) == meter
    audit = db.execute(
        "SELECT actor, action, after->>'multiplier', reason FROM audit_log "
        "WHERE entity = 'meter' AND entity_id = %s",
        (meter.meter_id,),
    ).fetchall()
    assert audit == [("alice", "create", "200.0", "commissioned")]


def test_meter_of_an_unknown_enterprise_is_refused_with_a_clear_error(
    db: psycopg.Connection, unique: str
) -> None:
    with pytest.raises(RegistryError, match=rf"meter E-{unique}: unknown enterprise"):
        add_meter(db, meter=_meter(f"E-{unique}", "no-such-enterprise"), actor="test")
    assert get_meter(db, f"E-{unique}") is None


def test_negative_multiplier_is_refused_before_and_by_the_database(
    db: psycopg.Connection, enterprise: str, unique: str
) -> None:
    with pytest.raises(RegistryError, match="multiplier must be > 0"):
        add_meter(db, meter=_meter(f"E-{unique}", enterprise, multiplier=-40.0), actor="test")
    with pytest.raises(psycopg.errors.CheckViolation, match="meter_multiplier_check"):
        db.execute(
            "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind, "
            "source_category, multiplier) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative', "
            "'purchased_electricity', -40)",
            (f"E2-{unique}", enterprise),
        )


def test_impossible_registry_values_are_refused_by_rule_name(
    db: psycopg.Connection, enterprise: str, unique: str
) -> None:
    cases = {
        "meter_carrier_check": {"carrier": "moonlight"},
        "meter_register_kind_check": {"register_kind": "sometimes"},
        "meter_check": {"range_min": 10.0, "range_max": 1.0},
        "meter_rollover_check": {"rollover": 0.0},
    }
    for n, (rule, change) in enumerate(cases.items()):
        with pytest.raises(RegistryError, match=rule):
            add_meter(db, meter=_meter(f"E{n}-{unique}", enterprise, **change), actor="test")


def test_site_of_another_enterprise_is_refused(
    db: psycopg.Connection, enterprise: str, unique: str
) -> None:
    add_enterprise(
        db,
        enterprise_id=f"other-{unique}",
        park_id=f"park-{unique}",
        name="Chemicals",
        actor="test",
    )
    add_site(
        db, site_id=f"site-{unique}", enterprise_id=f"other-{unique}", name="Plant 2", actor="test"
    )
    with pytest.raises(RegistryError, match="does not belong to enterprise"):
        add_meter(
            db, meter=_meter(f"E-{unique}", enterprise, site_id=f"site-{unique}"), actor="test"
        )


def test_enterprise_of_an_unknown_park_is_refused(db: psycopg.Connection, unique: str) -> None:
    with pytest.raises(RegistryError, match="unknown park"):
        add_enterprise(db, enterprise_id=f"e-{unique}", park_id="nowhere", name="x", actor="t")


def test_park_factor_settings_reach_the_worker_context_and_are_audited(
    db: psycopg.Connection, enterprise: str, unique: str
) -> None:
    park = f"park-{unique}"
    # The defaults of migration 0016: the regional grid level, electricity at its equal value.
    assert enterprise_contexts(db)[enterprise] == FactorContext("CN", "Asia/Shanghai")
    before = registry_version(db)
    set_park_factor_settings(
        db, park_id=park, actor="steward", region="CN-YN", grid_level=RegionLevel.PROVINCE
    )
    assert enterprise_contexts(db)[enterprise] == FactorContext(
        "CN-YN", "Asia/Shanghai", RegionLevel.PROVINCE
    )
    assert registry_version(db) != before  # the worker reloads the park's settings
    audit = db.execute(
        "SELECT actor, before, after FROM audit_log WHERE entity = 'park' AND entity_id = %s"
        " AND action = 'update'",
        (park,),
    ).fetchall()
    assert audit == [
        (
            "steward",
            {"region": "CN", "grid_level": "grid"},
            {"region": "CN-YN", "grid_level": "province"},
        )
    ]
    with pytest.raises(RegistryError, match="unknown region code 'CN-XX'"):
        set_park_factor_settings(db, park_id=park, actor="steward", region="CN-XX")
    with pytest.raises(RegistryError, match="tce_electricity_convention"):
        set_park_factor_settings(
            db, park_id=park, actor="steward", tce_electricity_convention="guess"
        )


def test_a_parks_inventory_start_bounds_its_meters_history_from_local_midnight_audited(
    db: psycopg.Connection, enterprise: str, unique: str
) -> None:
    park = f"park-{unique}"
    add_meter(db, meter=_meter(f"M-{unique}", enterprise), actor="test")
    assert f"M-{unique}" not in inventory_starts_ms(db)  # no start: no bound
    before = registry_version(db)

    changed = set_park_inventory_start(
        db, park_id=park, start=date(2025, 1, 1), actor="carbon-office", reason="base year 2025"
    )

    assert changed
    # 2025-01-01 00:00 in Asia/Shanghai (UTC+8) is 2024-12-31T16:00Z.
    assert inventory_starts_ms(db)[f"M-{unique}"] == 1_735_660_800_000
    assert registry_version(db) != before  # the worker reloads it with the registry
    assert not set_park_inventory_start(db, park_id=park, start=date(2025, 1, 1), actor="x")
    set_park_inventory_start(db, park_id=park, start=None, actor="carbon-office")
    audit = db.execute(
        "SELECT actor, before, after, reason FROM audit_log WHERE entity = 'park'"
        " AND entity_id = %s AND action = 'update' ORDER BY id",
        (park,),
    ).fetchall()
    assert audit == [
        (
            "carbon-office",
            {"inventory_start": None},
            {"inventory_start": "2025-01-01"},
            "base year 2025",
        ),
        ("carbon-office", {"inventory_start": "2025-01-01"}, {"inventory_start": None}, ""),
    ]
    with pytest.raises(RegistryError, match="park nowhere: not found"):
        set_park_inventory_start(db, park_id="nowhere", start=date(2025, 1, 1), actor="x")
