"""Gateway grants in the real worker (``stream.authorization``, migration 0014): in a park with
registered gateways, a gateway's reading of a meter it was not granted is quarantined as
UNAUTHORIZED_SOURCE with its gateway and reason, nothing of it counted; a park without
registrations accepts every gateway as before; EMS pushes are not gateway traffic."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from contracts.topics import Topic
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker
from tests.stream.test_worker import _produce, _wait_rows

pytestmark = pytest.mark.integration

QUARTER_MS = 900_000
HOUR_MS = 3_600_000
# On an hour: a batch's two readings fall in one hour, so one alert counts both.
T0 = (int(time.time() * 1000) // HOUR_MS - 2) * HOUR_MS


def park_with_two_enterprises(db: psycopg.Connection, tag: str) -> tuple[str, str, str]:
    """A park; enterprise A with meter ``A-<tag>``, enterprise B with meter ``B-<tag>``."""
    park = f"p-{tag}"
    add_park(db, park_id=park, name="park", actor="test")
    for side in ("A", "B"):
        add_enterprise(db, enterprise_id=f"e{side}-{tag}", park_id=park, name=side, actor="test")
        add_meter(
            db,
            actor="test",
            meter=Meter(
                meter_id=f"{side}-{tag}",
                enterprise_id=f"e{side}-{tag}",
                carrier="electricity",
                unit="kWh",
                register_kind="cumulative",
                source_category="purchased_electricity",
            ),
        )
    return park, f"A-{tag}", f"B-{tag}"


def register_gateway(
    db: psycopg.Connection, gateway_id: str, park: str, enterprises: list[str]
) -> None:
    db.execute(
        "INSERT INTO gateway (gateway_id, park_id, enterprise_ids) VALUES (%s, %s, %s)",
        (gateway_id, park, enterprises),
    )


def batch(gateway_id: str, meters: list[str], source: Source = Source.MODBUS) -> bytes:
    """Two readings of each meter, 15 minutes apart, from one gateway poll."""
    readings = tuple(
        RawReading(m, T0 + i * QUARTER_MS, 10.0 + i, "kWh", i) for m in meters for i in range(2)
    )
    return encode_batch(ReadingBatch(source, gateway_id, f"{gateway_id}/dev", readings))


def outcome(db: psycopg.Connection, meter: str) -> tuple[int, list[tuple[str, str]]]:
    """(stored readings, [(reason, gateway_id)] of quarantined ones) of one meter."""
    stored = db.execute("SELECT count(*) FROM reading WHERE meter_id = %s", (meter,)).fetchone()
    rejected = db.execute(
        "SELECT reason, gateway_id FROM rejected_reading WHERE meter_id = %s ORDER BY ts",
        (meter,),
    ).fetchall()
    assert stored is not None
    return int(stored[0]), [(str(r), str(g)) for r, g in rejected]


async def test_an_unregistered_gateway_in_an_enforcing_park_is_refused_and_ems_is_not(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    park, meter_a, meter_b = park_with_two_enterprises(db, unique)
    register_gateway(db, f"gw-{unique}", park, [f"eA-{unique}"])
    await asyncio.sleep(0.3)
    rogue = batch(f"rogue-{unique}", [meter_a])
    pushed = batch(f"ems:{unique}", [meter_b], Source.EMS)
    topic = worker.topic(Topic.READINGS_RAW)
    await _produce(kafka_bootstrap, topic, f"rogue-{unique}", rogue)
    await _produce(kafka_bootstrap, topic, f"ems:{unique}", pushed)
    _wait_rows(db, "SELECT 1 FROM rejected_reading WHERE meter_id = %s", (meter_a,), 2)
    _wait_rows(db, "SELECT 1 FROM reading WHERE meter_id = %s", (meter_b,), 2)
    assert outcome(db, meter_a) == (0, [("UNAUTHORIZED_SOURCE", f"rogue-{unique}")] * 2)
    [detail] = db.execute(
        "SELECT DISTINCT detail FROM rejected_reading WHERE meter_id = %s", (meter_a,)
    ).fetchone() or [None]
    assert detail == (
        f"gateway rogue-{unique} is not registered; park {park} accepts meter {meter_a}"
        " only from a gateway granted it"
    )
    # An EMS push is the API's (its key's tenancy), not a gateway's: stored as before.
    assert outcome(db, meter_b) == (2, [])


async def test_a_park_without_gateway_registrations_accepts_any_gateway_as_before(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    _, meter_a, meter_b = park_with_two_enterprises(db, unique)
    # Another park enforcing grants changes nothing here.
    other, _, _ = park_with_two_enterprises(db, f"o{unique}")
    register_gateway(db, f"gw-o{unique}", other, [])
    await asyncio.sleep(0.3)
    message = batch(f"anything-{unique}", [meter_a, meter_b])
    await _produce(kafka_bootstrap, worker.topic(Topic.READINGS_RAW), "k", message)
    _wait_rows(db, "SELECT 1 FROM reading WHERE meter_id IN (%s, %s)", (meter_a, meter_b), 4)
    assert outcome(db, meter_a) == outcome(db, meter_b) == (2, [])
