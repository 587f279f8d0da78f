"""The demo park: seeding is idempotent and matches the simulators; `up` starts real commands."""

from __future__ import annotations

import calendar
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.queries import performance
from config.settings import StackSettings
from deploy import demo
from deploy.platform import Child, PlatformError, default_children, start_children, stop_children
from ingest.config import GatewayConfig
from simulators.modbus_farm import ModbusFarm, make_park
from simulators.opcua_server import ParkOpcUaServer
from store.registry import get_meter

pytestmark = pytest.mark.integration


def _audit_count(db: psycopg.Connection[Any], entity: str, ids: list[str]) -> dict[str, int]:
    rows = db.execute(
        "SELECT entity_id, count(*) FROM audit_log WHERE entity = %s AND entity_id = ANY(%s)"
        " GROUP BY entity_id",
        (entity, ids),
    ).fetchall()
    return {str(i): int(n) for i, n in rows}


def test_seeding_twice_gives_the_same_rows_and_audits_each_once(
    db: psycopg.Connection[Any],
) -> None:
    demo.seed(db)
    meters = [m.meter_id for m in demo.demo_meters()]
    before = db.execute("SELECT count(*) FROM meter").fetchone()
    again = demo.seed(db)
    assert set(again.created.values()) == {0}
    assert again.existing == {
        "park": 1,
        "enterprise": 3,
        "site": 6,
        "meter": len(meters),
        "target": 3,  # today's day, month and year
        "baseline": 1,
    }
    assert db.execute("SELECT count(*) FROM meter").fetchone() == before
    assert _audit_count(db, "meter", meters) == dict.fromkeys(meters, 1)
    sites = [s for e in demo.ENTERPRISES for s, _ in e.sites]
    assert _audit_count(db, "site", sites) == dict.fromkeys(sites, 1)
    assert _audit_count(db, "park", ["demo"]) == {"demo": 1}
    park = db.execute("SELECT region, timezone FROM park WHERE park_id = 'demo'").fetchone()
    assert park == ("CN", "Asia/Shanghai")


def test_the_demo_park_has_a_target_for_its_day_month_and_year_and_a_baseline(
    db: psycopg.Connection[Any],
) -> None:
    today = date(2028, 2, 10)  # February of a leap year: 29 days, a year of 366
    demo.seed(db, today=today)
    rows = db.execute(
        "SELECT period_kind, period_start, absolute_tco2e, method FROM target"
        " WHERE subject_kind = 'park' AND subject_id = 'demo' AND period_start >= '2028-01-01'"
        " AND period_start < '2029-01-01' ORDER BY period_kind",
    ).fetchall()
    assert rows == [
        ("day", today, 28.8, "location_based"),  # 1.2 t an hour x 24 h
        ("month", date(2028, 2, 1), 835.2, "location_based"),  # x 29 x 24 h
        ("year", date(2028, 1, 1), 10540.8, "location_based"),  # x 366 x 24 h
    ]
    [(base_year, value, method)] = db.execute(
        "SELECT base_year, value_tco2e, method FROM baseline"
        " WHERE subject_kind = 'park' AND subject_id = 'demo'"
    ).fetchall()
    hours = 24 * (366 if calendar.isleap(base_year) else 365)
    assert (method, value) == ("base_year", round(1.3 * hours, 1))
    assert demo.seed(db, today=today).created == dict.fromkeys(
        ("park", "enterprise", "site", "meter", "target", "baseline"), 0
    )


async def test_the_demo_park_shows_progress_against_its_targets_from_the_first_hour(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    """What the live page reads for "Today against target": a row per target in force now
    (day, month, year), each with the park's baseline."""
    demo.seed(db)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await performance.progress_rows(
            conn,
            as_of=datetime.now(UTC),
            enterprises=None,
            subject_kind="park",
            subject_id=demo.PARK_ID,
            limit=10,
            offset=0,
        )
    assert sorted(r[3] for r in rows) == ["day", "month", "year"]
    assert all(r[15] == "base_year" for r in rows)  # the baseline's method beside each


async def test_every_modbus_point_the_gateway_reads_has_its_registry_row(
    db: psycopg.Connection[Any],
) -> None:
    demo.seed(db)
    park = make_park(demo.MODBUS_METERS, prefix=demo.MODBUS_PREFIX)
    farm = ModbusFarm(park)  # any free ports: only the written config matters here
    await farm.start()
    try:
        doc = farm.gateway_config("gw-test")
    finally:
        await farm.stop()
    GatewayConfig.model_validate(doc)
    carriers = {"electricity": "electricity", "gas": "natural_gas", "steam": "steam",
                "water": "water", "production": "production_output"}  # fmt: skip
    seen = 0
    for device in doc["modbus_devices"]:
        ct = farm.meters[device["name"]].ct_ratio
        carrier = farm.meters[device["name"]].carrier
        for point in device["points"]:
            meter = get_meter(db, point["meter_id"])
            assert meter is not None, point["meter_id"]
            assert (meter.carrier, meter.unit, meter.register_kind) == (
                carriers[carrier],
                point["unit"],
                point["kind"],
            )
            assert meter.expected_interval_s == demo.INTERVAL_S
            # The CT ratio counts exactly once, at the gateway or in the registry.
            on_ct_side = point["unit"] in ("kWh", "kvarh", "kW", "kvar", "A")
            applied = point.get("multiplier", 1.0) * meter.multiplier
            assert applied == pytest.approx(ct if on_ct_side else 1.0), point["meter_id"]
            seen += 1
    assert seen == len(demo.modbus_meters())


def test_every_opcua_point_has_its_registry_row_with_the_ct_ratio(
    db: psycopg.Connection[Any],
) -> None:
    demo.seed(db)
    server = ParkOpcUaServer(demo.opcua_park(), port=demo.OPCUA_PORT)
    entry = server.gateway_entry("park-opcua", interval_ms=demo.INTERVAL_S * 1000)
    config = demo.opcua_gateway_config(
        entry, buffer_path="b.sqlite3", metrics_port=0, kafka_bootstrap="127.0.0.1:9092"
    )
    GatewayConfig.model_validate(config)
    for sim in server.park.points:
        meter = get_meter(db, sim.meter_id)
        assert meter is not None, sim.meter_id
        assert (meter.unit, meter.register_kind) == (sim.unit, sim.kind)
        assert meter.multiplier == (sim.ct_ratio if sim.cumulative else 1.0)
    assert {p["meter_id"] for p in entry["points"]} == {m.meter_id for m in demo.opcua_meters()}


def test_hand_checked_rows(db: psycopg.Connection[Any]) -> None:
    demo.seed(db)
    kwh = get_meter(db, "SIM-0000.kwh_imp")
    assert kwh is not None
    # make_park: meter 0 is electricity behind CT ratio 120, which the gateway applies.
    assert (kwh.enterprise_id, kwh.site_id) == ("demo-steel", "demo-steel-melt")
    assert (kwh.carrier, kwh.unit, kwh.register_kind) == ("electricity", "kWh", "cumulative")
    assert kwh.multiplier == 1.0
    assert kwh.rollover == pytest.approx(2**32 * 0.01 * 120)  # uint32 of 0.01 kWh, x CT
    assert (kwh.accuracy_class, kwh.accuracy_category) == ("0.5S", "user_class_II")
    assert (kwh.metering_level, kwh.source_category) == ("unit", "purchased_electricity")
    assert kwh.expected_interval_s == demo.INTERVAL_S
    volts = get_meter(db, "SIM-0000.v_l1")
    assert volts is not None
    assert (volts.unit, volts.register_kind, volts.source_category, volts.rollover) == (
        "V",
        "instantaneous",
        "activity_only",
        None,
    )
    gas_m3 = get_meter(db, "SIM-0006.m3")  # m3 at metering conditions: not yet accountable
    assert gas_m3 is not None
    assert (gas_m3.carrier, gas_m3.source_category) == ("natural_gas", "activity_only")
    steam = get_meter(db, "SIM-0007.t")
    assert steam is not None
    assert (steam.carrier, steam.unit, steam.source_category) == ("steam", "t", "purchased_heat")
    ua_kwh = get_meter(db, "E-00001")  # OPC UA, secondary side: the registry applies CT 20
    assert ua_kwh is not None
    assert (ua_kwh.unit, ua_kwh.multiplier, ua_kwh.source_category) == (
        "kWh",
        20.0,
        "purchased_electricity",
    )
    ua_gas = get_meter(db, "G-00002")
    assert ua_gas is not None
    assert (ua_gas.carrier, ua_gas.unit, ua_gas.source_category) == (
        "natural_gas",
        "Nm3",
        "stationary_combustion",
    )


def test_up_starts_real_parkcarbon_subcommands(tmp_path: Path) -> None:
    children = default_children(StackSettings(state_dir=tmp_path))
    assert [c.name for c in children][:1] == ["worker"]
    for child in children:
        # Click parses every option before the eager --help: an unknown one fails here.
        result = subprocess.run(
            [*child.argv, "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"{child.argv}: {result.stderr}"
        assert "Usage:" in result.stdout
    writers = {c.writes for c in children if c.writes}
    assert {c.needs for c in children if c.needs} <= writers  # every gateway's config is written


def _sh(name: str, script: str, log: Path, **files: Path) -> Child:
    return Child(name, ["sh", "-c", script], log, **files)


def test_a_child_starts_only_after_the_file_it_needs(tmp_path: Path) -> None:
    config, seen = tmp_path / "gw.yaml", tmp_path / "seen"
    config.write_text("stale")  # from a last run: removed before the writer starts
    # Like the simulators, the writer renames a complete file into place.
    writer = _sh(
        "sim",
        f"sleep 0.5; echo new > {config}.tmp; mv {config}.tmp {config}; sleep 30",
        tmp_path / "a",
        writes=config,
    )
    # The reader renames its copy too, so the test never sees a half-written one.
    reader = _sh(
        "gw",
        f"cat {config} > {seen}.tmp; mv {seen}.tmp {seen}; sleep 30",
        tmp_path / "b",
        needs=config,
    )
    try:
        start_children([writer, reader], file_wait_s=10)
        assert reader.proc is not None
        deadline = time.monotonic() + 10
        while not seen.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert seen.read_text() == "new\n"
    finally:
        stop_children([writer, reader])


def test_a_writer_that_dies_fails_the_start_with_its_log(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    writer = _sh("sim", "echo port in use; exit 3", tmp_path / "a", writes=config)
    reader = _sh("gw", "sleep 30", tmp_path / "b", needs=config)
    try:
        with pytest.raises(PlatformError, match="sim exited with 3") as err:
            start_children([writer, reader], file_wait_s=10)
        assert "port in use" in str(err.value)
        assert reader.proc is None
    finally:
        stop_children([writer, reader])
