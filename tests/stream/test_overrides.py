"""Park factor versions (``factor_override``) in the window computation.

Unit part: ``accounting.overrides.apply_overrides`` chains versions exactly as the API's
``GET /v1/factors`` shows them (``api.registry.versions.chain``), and the calculator uses the
version in force on the window's day. End to end: a real worker, an override of the national
grid factor for March 2019 (no packaged version covers 2019, so the test changes nothing any
other test sees: a version inside an open-ended one would end it for good), readings in that
month, windows = activity x the override value, naming the override's version.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from accounting.datafile import Evidence
from accounting.factors import load_catalogue
from accounting.gwp import GwpSet
from accounting.overrides import CONVERSION_PARAMETER, EMISSION_FACTOR, Override, apply_overrides
from accounting.window_co2e import EmissionCalculator
from accounting.windows import WindowKey, WindowSums
from api.registry.versions import Version, chain
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from stream.recompute import recompute, select_meters
from tests.conftest import RunningWorker
from tests.stream.test_worker import _wait_rows

QUARTER_MS = 900_000
HOUR_MS = 3_600_000


def _override(
    override_id: int,
    key: str,
    value: float,
    valid_from: date,
    valid_to: date | None = None,
    *,
    unit: str = "kgCO2/kWh",
    catalogue: str = EMISSION_FACTOR,
) -> Override:
    return Override(
        override_id=override_id,
        catalogue=catalogue,
        factor_key=key,
        value=value,
        unit=unit,
        valid_from=valid_from,
        valid_to=valid_to,
        source="test source",
        table="table 1",
        edition="2026",
        evidence=Evidence.UNVERIFIED,
    )


def _meter(meter_id: str = "E-1", **changes: object) -> Meter:
    fields: dict[str, object] = {
        "meter_id": meter_id,
        "enterprise_id": "e",
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
    }
    fields.update(changes)
    return Meter(**fields)  # type: ignore[arg-type]


def test_versions_chain_as_the_api_shows_them() -> None:
    key = "heat_default.heat"  # one packaged version, open-ended from 2013-10-15
    overrides = [
        _override(7, key, 0.12, date(2025, 1, 1), unit="tCO2/GJ"),
        _override(9, key, 0.10, date(2026, 1, 1), unit="tCO2/GJ"),
        _override(11, key, 0.09, date(2025, 6, 1), date(2025, 12, 31), unit="tCO2/GJ"),  # overlap
    ]
    factors = apply_overrides(overrides)
    assert factors.applied == (7, 9)
    assert [oid for oid, _ in factors.refused] == [11]
    mine = sorted(
        ((r.version, r.valid_from, r.valid_to) for r in factors.catalogue.rows if r.key == key),
        key=lambda v: v[1],
    )
    packaged = [
        Version(r.version, r.valid_from, r.valid_to) for r in load_catalogue().rows if r.key == key
    ]
    api = chain(packaged, [Version(o.version, o.valid_from, o.valid_to) for o in overrides[:2]])
    assert mine == [(v.label, v.valid_from, v.effective_to) for v in api]
    assert mine == [
        ("heat_default.heat@2013-10-15", date(2013, 10, 15), date(2024, 12, 31)),
        ("heat_default.heat@2025-01-01", date(2025, 1, 1), date(2025, 12, 31)),
        ("heat_default.heat@2026-01-01", date(2026, 1, 1), None),
    ]


def test_a_row_that_does_not_fit_its_key_is_refused_not_fatal() -> None:
    factors = apply_overrides(
        [
            _override(1, "no.such.key", 1.0, date(2020, 1, 1)),
            _override(2, "grid_avg.CN", 1.0, date(2019, 1, 1), unit="kgCO2/Nm3"),
        ]
    )
    assert factors.applied == ()
    assert [oid for oid, _ in factors.refused] == [1, 2]
    assert factors.catalogue == load_catalogue()


def test_the_window_uses_the_version_in_force_on_its_day() -> None:
    factors = apply_overrides(
        [_override(3, "grid_avg.CN", 0.6, date(2019, 3, 1), date(2019, 12, 31))]
    )
    assert factors.applied == (3,)
    calc = EmissionCalculator(
        region="CN", gwp_set=GwpSet.AR5, catalogue=factors.catalogue, parameters=factors.parameters
    )
    day = datetime(2019, 3, 5, 8, tzinfo=UTC)
    result = calc.result(WindowSums(WindowKey("E-1", 3600, day), 100.0, 4.0, 0, False), _meter())
    assert result.tco2e == pytest.approx(100 * 0.6 / 1000, rel=1e-12)
    assert result.factor_versions == ("grid_avg.CN@2019-03-01",)
    # The override ends before the packaged 2021 version starts: 2021 is unchanged.
    later = datetime(2021, 5, 1, tzinfo=UTC)
    result = calc.result(WindowSums(WindowKey("E-1", 3600, later), 100.0, 4.0, 0, False), _meter())
    assert result.factor_versions == ("grid_avg.CN@2021-01-01",)


def test_a_conversion_parameter_version_changes_the_activity_and_is_named() -> None:
    factors = apply_overrides(
        [
            _override(
                4,
                "enthalpy.steam.default",
                2800.0,
                date(2025, 1, 1),
                unit="kJ/kg",
                catalogue=CONVERSION_PARAMETER,
            )
        ]
    )
    calc = EmissionCalculator(
        region="CN", gwp_set=GwpSet.AR5, catalogue=factors.catalogue, parameters=factors.parameters
    )
    steam = _meter("S-1", carrier="steam", unit="t", source_category="purchased_heat")
    day = datetime(2026, 3, 1, tzinfo=UTC)
    result = calc.result(WindowSums(WindowKey("S-1", 3600, day), 10.0, 4.0, 0, False), steam)
    gj = 10.0 * (2800.0 - 83.74) / 1000  # tonnes x (h - h_feedwater) x 10^-3
    assert (result.activity, result.activity_unit) == (pytest.approx(gj, rel=1e-12), "GJ")
    assert result.tco2e == pytest.approx(gj * 0.11, rel=1e-12)
    assert "enthalpy.steam.default@2025-01-01" in result.factor_versions
    assert "enthalpy.water.reference@2013-10-15" in result.factor_versions
    before = datetime(2024, 6, 1, tzinfo=UTC)  # the packaged enthalpy 2777.1, ended 2024-12-31
    old = calc.result(WindowSums(WindowKey("S-1", 3600, before), 10.0, 4.0, 0, False), steam)
    assert old.activity == pytest.approx(10.0 * (2777.1 - 83.74) / 1000, rel=1e-12)
    assert "enthalpy.steam.default@1997-01-01" in old.factor_versions


# -- end to end ----------------------------------------------------------------------------------

T0 = int(datetime(2019, 3, 10, 8, tzinfo=UTC).timestamp() * 1000)
OVERRIDE_T_PER_KWH = 0.6123 / 1000


def add_grid_override(
    db: psycopg.Connection, value: float, valid_from: date, valid_to: date
) -> None:
    db.execute(
        "INSERT INTO factor_override (catalogue, factor_key, gas, value, unit, valid_from,"
        " valid_to, source, source_table, edition, evidence, created_by) VALUES"
        " ('emission_factor', 'grid_avg.CN', 'CO2', %s, 'kgCO2/kWh', %s, %s, 'test source',"
        " 'table 1', 'test', 'unverified', 'test')",
        (value, valid_from, valid_to),
    )


async def produce_at(bootstrap: str, topic: str, key: str, value: bytes, at_ms: int) -> None:
    """One message with the given Kafka timestamp: the worker judges a reading's age against
    it, so readings of a past month are validated as if they had arrived then."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode(), timestamp_ms=at_ms)
    finally:
        await producer.stop()


def electricity_meter(
    db: psycopg.Connection, unique: str, multiplier: float = 1.0, name: str = "E"
) -> str:
    if db.execute("SELECT 1 FROM park WHERE park_id = %s", (f"p-{unique}",)).fetchone() is None:
        add_park(db, park_id=f"p-{unique}", name="park", actor="test")
        add_enterprise(
            db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test"
        )
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=f"{name}-{unique}",
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
            multiplier=multiplier,
            accuracy_class="0.5S",
        ),
    )
    time.sleep(0.5)  # longer than the worker's registry refresh interval
    return f"{name}-{unique}"


async def push_registers(
    worker: RunningWorker, bootstrap: str, unique: str, meter: str, start_ms: int, regs: list[float]
) -> None:
    """Quarter-hourly registers from ``start_ms``, as one message stamped just after them."""
    batch = ReadingBatch(
        Source.MODBUS,
        f"gw-{unique}",
        f"gw-{unique}/{meter}",
        tuple(
            RawReading(meter, start_ms + i * QUARTER_MS, v, "kWh", i) for i, v in enumerate(regs)
        ),
    )
    at = start_ms + (len(regs) - 1) * QUARTER_MS + 60_000
    key = f"gw-{unique}/{meter}"
    await produce_at(bootstrap, worker.topic(Topic.READINGS_RAW), key, encode_batch(batch), at)


@pytest.mark.integration
async def test_a_worker_computes_windows_with_the_park_version_and_names_it(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    add_grid_override(db, 0.6123, date(2019, 3, 1), date(2019, 3, 31))
    meter = electricity_meter(db, unique, multiplier=10.0)
    # Registers 100, 102, 105, 105, 109 kWh x CT 10: 20, 30, 0, 40 kWh per quarter, 90 in the hour.
    await push_registers(worker, kafka_bootstrap, unique, meter, T0, [100, 102, 105, 105, 109])
    quarters = _wait_rows(
        db,
        "SELECT tco2e, activity, factor_versions FROM emission_window"
        " WHERE meter_id = %s AND width_s = 900 ORDER BY window_start",
        (meter,),
        4,
    )
    assert [q[1] for q in quarters] == [20.0, 30.0, 0.0, 40.0]
    assert [q[0] for q in quarters] == pytest.approx(
        [kwh * OVERRIDE_T_PER_KWH for kwh in (20.0, 30.0, 0.0, 40.0)], rel=1e-12, abs=1e-15
    )
    assert {tuple(q[2]) for q in quarters} == {("grid_avg.CN@2019-03-01",)}
    hour = _wait_rows(
        db,
        "SELECT tco2e, factor_versions FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (meter,),
        1,
    )
    assert hour[0][0] == pytest.approx(90.0 * OVERRIDE_T_PER_KWH, rel=1e-12)
    assert hour[0][1] == ["grid_avg.CN@2019-03-01"]

    # A version added while the worker runs (it has computed windows with the March one):
    # windows computed after it use it for their days.
    add_grid_override(db, 0.7, date(2019, 4, 1), date(2019, 4, 30))
    april = electricity_meter(db, unique, name="A")
    april_t0 = int(datetime(2019, 4, 10, 8, tzinfo=UTC).timestamp() * 1000)
    await push_registers(worker, kafka_bootstrap, unique, april, april_t0, [0, 5, 10, 15, 20])
    hour = _wait_rows(
        db,
        "SELECT tco2e, factor_versions FROM emission_window WHERE meter_id = %s AND width_s = 3600",
        (april,),
        1,
    )
    assert hour[0][0] == pytest.approx(20.0 * 0.7 / 1000, rel=1e-12)
    assert hour[0][1] == ["grid_avg.CN@2019-04-01"]

    # `parkcarbon recompute` computes as the worker did: nothing it recomputes changes. The hour
    # of 2019 is far beyond the fine-window horizon (accounting/window_plan.py): its four
    # quarters and its hour are stored, no 1- or 5-minute windows.
    stored = _wait_rows(db, "SELECT 1 FROM emission_window WHERE meter_id = %s", (meter,), 5)
    assert len(stored) == 4 + 1
    summary = recompute(
        db,
        first=date(2019, 3, 10),
        last=date(2019, 3, 10),
        meters=select_meters(db, [meter], None),
        gwp_set=GwpSet.AR5,
    )
    assert (summary.windows, summary.changed) == (4 + 1, 0)
    assert summary.tco2e_after == pytest.approx(90.0 * OVERRIDE_T_PER_KWH, rel=1e-12)
