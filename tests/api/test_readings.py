"""EMS push ``POST /v1/readings``: strict input, per-reading outcomes, idempotency, tenancy, and
the batch contract on ``readings.raw`` (decoded with the stream's own ``decode_batch``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import AsyncConnection

from contracts.records import Source, decode_batch
from contracts.topics import Topic, topic_name
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, ApiServer

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Meters:
    a1: str  # enterprise A, kWh
    a2: str  # enterprise A, GJ
    retired: str  # enterprise A, retired an hour ago
    b1: str  # enterprise B, kWh


_CST = timezone(timedelta(hours=8))


def _cst(minutes_ago: int) -> str:
    """A recent time as an EMS in the park would send it (China Standard Time offset)."""
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return base.astimezone(_CST).isoformat()


_RAW = (
    b'{"readings": [{"meter_id": "M", "ts": "2026-01-05T08:00:00Z", "value": %s, "unit": "kWh"}]}'
)


@pytest.fixture
async def meters(api_server: ApiServer, unique: str) -> Meters:
    m = Meters(f"ems-a1-{unique}", f"ems-a2-{unique}", f"ems-ret-{unique}", f"ems-b1-{unique}")
    rows = [
        (m.a1, ENTERPRISE_A, "electricity", "kWh", "purchased_electricity"),
        (m.a2, ENTERPRISE_A, "heat", "GJ", "purchased_heat"),
        (m.retired, ENTERPRISE_A, "electricity", "kWh", "purchased_electricity"),
        (m.b1, ENTERPRISE_B, "electricity", "kWh", "purchased_electricity"),
    ]
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        for meter_id, ent, carrier, unit, category in rows:
            await conn.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category) VALUES (%s, %s, %s, %s, 'cumulative', %s)",
                (meter_id, ent, carrier, unit, category),
            )
        await conn.execute(
            "UPDATE meter SET status = 'retired', retired_at = now() - interval '1 hour'"
            " WHERE meter_id = %s",
            (m.retired,),
        )
    return m


async def _ems_rows(server: ApiServer, meter_ids: list[str]) -> list[tuple[str, float]]:
    async with await AsyncConnection.connect(server.database_url) as conn:
        cur = await conn.execute(
            "SELECT meter_id, value FROM ems_reading WHERE meter_id = ANY(%s)"
            " ORDER BY meter_id, ts",
            (meter_ids,),
        )
        return [(m, v) for m, v in await cur.fetchall()]


@pytest.fixture
async def raw_topic(api_server: ApiServer) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of the API's own readings.raw, positioned at its current end."""
    topic = topic_name(Topic.READINGS_RAW, api_server.settings.topic_prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=api_server.settings.kafka_bootstrap)
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in range(6)]  # the api_server fixture makes 6
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    for tp in parts:  # resolve the end offsets now, before the push
        await consumer.position(tp)
    yield consumer
    await consumer.stop()


async def _batches_for(consumer: AIOKafkaConsumer, meter_ids: set[str], want: int) -> list:  # type: ignore[type-arg]
    found = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum(len(b.readings) for _, b in found) < want:
        polled = await consumer.getmany(timeout_ms=500)
        for records in polled.values():
            for rec in records:
                decoded = decode_batch(rec.value)
                assert decoded.rejections == [], decoded.rejections
                assert decoded.batch is not None
                if {r.meter_id for r in decoded.batch.readings} & meter_ids:
                    found.append((rec.key, decoded.batch))
    return found


async def test_a_json_push_is_produced_as_one_ems_batch_per_enterprise_with_acks_before_202(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer, raw_topic: AIOKafkaConsumer
) -> None:
    readings = [
        {"meter_id": meters.a1, "ts": _cst(30), "value": 100.5, "unit": "kWh"},
        {"meter_id": meters.a1, "ts": _cst(45), "value": 100, "unit": "kWh"},  # earlier: sorted
        {"meter_id": meters.a2, "ts": _cst(30), "value": 7.25, "unit": "GJ"},
    ]
    r = await tenant_a.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 0, 0)
    assert [x["outcome"] for x in body["results"]] == ["accepted"] * 3
    assert [x["index"] for x in body["results"]] == [0, 1, 2]

    found = await _batches_for(raw_topic, {meters.a1, meters.a2}, 3)
    assert len(found) == 1, "one enterprise, one message"
    key, batch = found[0]
    assert key == f"ems/{ENTERPRISE_A}".encode() and batch.source_key == f"ems/{ENTERPRISE_A}"
    assert batch.source is Source.EMS and batch.gateway_id.startswith("ems:")
    got = [(x.meter_id, x.value, x.unit) for x in batch.readings]
    assert got == [(meters.a1, 100.0, "kWh"), (meters.a1, 100.5, "kWh"), (meters.a2, 7.25, "GJ")]
    a1 = [x for x in batch.readings if x.meter_id == meters.a1]
    assert a1[0].ts_ms < a1[1].ts_ms and a1[0].seq < a1[1].seq  # in time order, seq growing
    assert a1[1].ts_ms == int(datetime.fromisoformat(readings[0]["ts"]).timestamp() * 1000)
    assert await _ems_rows(api_server, [meters.a1, meters.a2]) == [
        (meters.a1, 100.0),
        (meters.a1, 100.5),
        (meters.a2, 7.25),
    ]


async def test_a_repeated_push_is_duplicate_and_is_not_produced_again(
    tenant_a: httpx.AsyncClient, meters: Meters, raw_topic: AIOKafkaConsumer
) -> None:
    reading = {"meter_id": meters.a1, "ts": _cst(15), "value": 5.0, "unit": "kWh"}
    assert (await tenant_a.post("/v1/readings", json={"readings": [reading]})).status_code == 202
    assert len(await _batches_for(raw_topic, {meters.a1}, 1)) == 1
    again = await tenant_a.post("/v1/readings", json={"readings": [reading, reading]})
    assert again.status_code == 202, again.text
    assert [x["outcome"] for x in again.json()["results"]] == ["duplicate", "duplicate"]
    changed = {**reading, "value": 6.0}
    conflict = await tenant_a.post("/v1/readings", json={"readings": [changed]})
    assert conflict.status_code == 422
    assert conflict.json()["results"][0]["reason"] == "CONFLICTING_VALUE"
    raw_topic_wait = await asyncio.wait_for(raw_topic.getmany(timeout_ms=1500), 5)
    mine = [
        rec
        for records in raw_topic_wait.values()
        for rec in records
        if meters.a1.encode() in rec.value
    ]
    assert mine == [], "a duplicate or conflicting reading is never sent again"


async def test_a_csv_push_is_accepted_like_json(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer
) -> None:
    csv = (
        f"meter_id,ts,value,unit\r\n{meters.a1},{_cst(60)},12.5,kWh\r\n"
        f'{meters.a2},"{_cst(60)}",-0.5e1,GJ\r\n'
    )
    r = await tenant_a.post(
        "/v1/readings", content=csv.encode(), headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2
    assert await _ems_rows(api_server, [meters.a1, meters.a2]) == [
        (meters.a1, 12.5),
        (meters.a2, -5.0),
    ]


async def test_registry_checks_reject_per_reading_and_the_good_ones_still_land(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer, unique: str
) -> None:
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    readings = [
        {"meter_id": meters.a1, "ts": _cst(90), "value": 1.0, "unit": "kWh"},
        {"meter_id": f"nope-{unique}", "ts": _cst(90), "value": 1.0, "unit": "kWh"},
        {"meter_id": meters.a1, "ts": _cst(75), "value": 1.0, "unit": "MWh"},
        {"meter_id": meters.retired, "ts": _cst(30), "value": 1.0, "unit": "kWh"},
        {"meter_id": meters.retired, "ts": _cst(90), "value": 1.0, "unit": "kWh"},  # before
        {"meter_id": meters.a1, "ts": future, "value": 1.0, "unit": "kWh"},
        {"meter_id": meters.a1, "ts": old, "value": 1.0, "unit": "kWh"},
        {"meter_id": meters.a2, "ts": _cst(90), "value": 1.0, "unit": "GJ"},
        {"meter_id": meters.a2, "ts": _cst(90), "value": 2.0, "unit": "GJ"},  # same time
    ]
    r = await tenant_a.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202, r.text
    results = r.json()["results"]
    assert [(x["outcome"], x["reason"]) for x in results] == [
        ("accepted", None),
        ("rejected", "UNKNOWN_METER"),
        ("rejected", "UNIT_MISMATCH"),
        ("rejected", "METER_RETIRED"),
        ("accepted", None),
        ("rejected", "FUTURE_TIMESTAMP"),
        ("rejected", "TOO_OLD"),
        ("accepted", None),
        ("rejected", "CONFLICTING_VALUE"),
    ]
    assert "MWh" in results[2]["detail"] and "kWh" in results[2]["detail"]
    assert len(await _ems_rows(api_server, [meters.a1, meters.a2, meters.retired])) == 3


# Local 9999-12-31T23:59:59 at -23:59 is 10000-01-01 in UTC: it parses, and has no RFC 3339 text.
PAST_9999 = "9999-12-31T23:59:59-23:59"


async def test_a_time_out_of_range_is_rejected_on_its_own_and_the_other_readings_land(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer
) -> None:
    readings = [
        {"meter_id": meters.a1, "ts": _cst(120), "value": 1.0, "unit": "kWh"},
        {"meter_id": meters.a1, "ts": PAST_9999, "value": 2.0, "unit": "kWh"},
        {"meter_id": meters.a1, "ts": "0999-01-01T00:00:00Z", "value": 3.0, "unit": "kWh"},
        {"meter_id": meters.a1, "ts": "+010000-01-01T00:00:00Z", "value": 4.0, "unit": "kWh"},
        {"meter_id": meters.a2, "ts": _cst(120), "value": 5.0, "unit": "GJ"},
    ]
    r = await tenant_a.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 0, 3)
    results = body["results"]
    assert [(x["index"], x["outcome"], x["reason"]) for x in results] == [
        (0, "accepted", None),
        (1, "rejected", "TIMESTAMP_OUT_OF_RANGE"),
        (2, "rejected", "TIMESTAMP_OUT_OF_RANGE"),
        (3, "rejected", "TIMESTAMP_OUT_OF_RANGE"),
        (4, "accepted", None),
    ]
    assert [x["ts"] for x in results[1:4]] == [r["ts"] for r in readings[1:4]]  # as pushed
    assert "+010000-01-01T23:58:59.000Z" in results[1]["detail"]
    assert await _ems_rows(api_server, [meters.a1, meters.a2]) == [
        (meters.a1, 1.0),
        (meters.a2, 5.0),
    ]


async def test_a_csv_push_answers_a_time_out_of_range_per_reading(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer
) -> None:
    csv = f"meter_id,ts,value,unit\n{meters.a1},{PAST_9999},1,kWh\n{meters.a1},{_cst(150)},2,kWh\n"
    r = await tenant_a.post(
        "/v1/readings", content=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 202, r.text
    assert [(x["outcome"], x["reason"]) for x in r.json()["results"]] == [
        ("rejected", "TIMESTAMP_OUT_OF_RANGE"),
        ("accepted", None),
    ]
    assert await _ems_rows(api_server, [meters.a1]) == [(meters.a1, 2.0)]


async def test_a_push_whose_every_time_is_out_of_range_is_422_with_the_results(
    tenant_a: httpx.AsyncClient, meters: Meters
) -> None:
    reading = {"meter_id": meters.a1, "ts": PAST_9999, "value": 1.0, "unit": "kWh"}
    r = await tenant_a.post("/v1/readings", json={"readings": [reading]})
    assert r.status_code == 422, r.text
    assert [x["reason"] for x in r.json()["results"]] == ["TIMESTAMP_OUT_OF_RANGE"]


async def test_an_enterprise_key_cannot_push_another_tenants_meter_nor_learn_it_exists(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer, unique: str
) -> None:
    theirs = {"meter_id": meters.b1, "ts": _cst(30), "value": 1.0, "unit": "kWh"}
    missing = {"meter_id": f"none-{unique}", "ts": _cst(30), "value": 1.0, "unit": "kWh"}
    r = await tenant_a.post("/v1/readings", json={"readings": [theirs, missing]})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    a, b = r.json()["results"]
    assert a["reason"] == b["reason"] == "UNKNOWN_METER"
    assert a["detail"].replace(meters.b1, "X") == b["detail"].replace(f"none-{unique}", "X")
    assert await _ems_rows(api_server, [meters.b1]) == []


async def test_a_park_wide_operator_pushes_any_enterprises_meters(
    operator: httpx.AsyncClient, meters: Meters
) -> None:
    readings = [
        {"meter_id": meters.a1, "ts": _cst(120), "value": 1.0, "unit": "kWh"},
        {"meter_id": meters.b1, "ts": _cst(120), "value": 1.0, "unit": "kWh"},
    ]
    r = await operator.post("/v1/readings", json={"readings": readings})
    assert r.status_code == 202 and r.json()["accepted"] == 2


async def test_a_key_without_readings_write_is_403(
    auditor: httpx.AsyncClient, meters: Meters
) -> None:
    r = await auditor.post("/v1/readings", json={"readings": []})
    assert r.status_code == 403


def _one(meter: str, **override: object) -> dict[str, object]:
    return {
        "readings": [
            {"meter_id": meter, "ts": "2026-01-05T08:00:00+08:00", "value": 1.0, "unit": "kWh"}
            | override
        ]
    }


MALFORMED_JSON: list[tuple[str, bytes | None, str]] = [
    ("string value", None, "value"),
    ("boolean value", None, "value"),
    ("null value", None, "value"),
    ("naive ts", None, "no UTC offset"),
    ("date-only ts", None, "no UTC offset"),
    ("not a date", None, "not an ISO 8601"),
    ("numeric ts", None, "ts must be"),
    ("extra field", None, "unknown field"),
    ("missing unit", None, "missing field 'unit'"),
    ("bad meter id", None, "meter_id must be"),
    ("meter id with a trailing newline", None, "meter_id must be"),
    ("unit with a trailing newline", None, "unit must be"),
    (
        "NaN literal",
        _RAW % b"NaN",
        "not valid JSON",
    ),
    (
        "Infinity literal",
        _RAW % b"Infinity",
        "not valid JSON",
    ),
    (
        "huge number",
        _RAW % b"1e999",
        "not valid JSON",
    ),
    ("not JSON", b"readings=1", "not valid JSON"),
    ("a list", b"[]", "exactly one field"),
    ("extra top-level", b'{"readings": [], "x": 1}', "exactly one field"),
    ("readings not a list", b'{"readings": {}}', "must be a list"),
    ("empty batch", b'{"readings": []}', "no readings"),
    ("reading not an object", b'{"readings": [1]}', "must be an object"),
    ("invalid UTF-8", b'{"readings": [{"meter_id": "\xff"}]}', "not valid JSON"),
]
_OVERRIDES: dict[str, dict[str, object]] = {
    "string value": {"value": "12.5"},
    "boolean value": {"value": True},
    "null value": {"value": None},
    "naive ts": {"ts": "2026-01-05T08:00:00"},
    "date-only ts": {"ts": "2026-01-05"},
    "not a date": {"ts": "yesterday"},
    "numeric ts": {"ts": 1767571200},
    "extra field": {"seq": 1},
    "bad meter id": {"meter_id": "a meter with spaces"},
    "meter id with a trailing newline": {"meter_id": "E-0001\n"},
    "unit with a trailing newline": {"unit": "kWh\n"},
}


@pytest.mark.parametrize(
    ("case", "raw", "says"), MALFORMED_JSON, ids=[c[0] for c in MALFORMED_JSON]
)
async def test_malformed_json_is_422_naming_the_problem_and_nothing_lands(
    tenant_a: httpx.AsyncClient,
    meters: Meters,
    api_server: ApiServer,
    case: str,
    raw: bytes | None,
    says: str,
) -> None:
    good = {"meter_id": meters.a1, "ts": _cst(200), "value": 1.0, "unit": "kWh"}
    if raw is None:
        bad = _one(meters.a1, **_OVERRIDES.get(case, {}))["readings"][0]
        if case == "missing unit":
            bad = {k: v for k, v in bad.items() if k != "unit"}
        r = await tenant_a.post("/v1/readings", json={"readings": [good, bad]})
    else:
        r = await tenant_a.post(
            "/v1/readings", content=raw, headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert says in problem["detail"] or any(says in e["detail"] for e in problem.get("errors", []))
    if raw is None:
        assert [e["index"] for e in problem["errors"]] == [1]
    assert await _ems_rows(api_server, [meters.a1]) == [], "nothing of the batch is accepted"


MALFORMED_CSV = [
    ("wrong header", "meter,ts,value,unit\nM,2026-01-05T08:00:00Z,1,kWh\n", "header"),
    ("missing column", "meter_id,ts,value\nM,2026-01-05T08:00:00Z,1\n", "header"),
    ("short row", "meter_id,ts,value,unit\nM,2026-01-05T08:00:00Z,1\n", "3 fields"),
    (
        "quoted number",
        'meter_id,ts,value,unit\nM,2026-01-05T08:00:00Z,"1,5",kWh\n',
        "value must be a number",
    ),
    (
        "text value",
        "meter_id,ts,value,unit\nM,2026-01-05T08:00:00Z,true,kWh\n",
        "value must be a number",
    ),
    (
        "nan value",
        "meter_id,ts,value,unit\nM,2026-01-05T08:00:00Z,NaN,kWh\n",
        "value must be a number",
    ),
    ("inf value", "meter_id,ts,value,unit\nM,2026-01-05T08:00:00Z,1e999,kWh\n", "finite"),
    ("bad quoting", 'meter_id,ts,value,unit\nM,"2026-01-05T08:00:00Z"x,1,kWh\n', "malformed CSV"),
    ("naive ts", "meter_id,ts,value,unit\nM,2026-01-05 08:00:00,1,kWh\n", "no UTC offset"),
    ("header only", "meter_id,ts,value,unit\n", "no readings"),
    ("empty body", "", "header"),
]


@pytest.mark.parametrize(("case", "text", "says"), MALFORMED_CSV, ids=[c[0] for c in MALFORMED_CSV])
async def test_malformed_csv_is_422_naming_the_problem(
    tenant_a: httpx.AsyncClient, case: str, text: str, says: str
) -> None:
    r = await tenant_a.post(
        "/v1/readings", content=text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert says in problem["detail"] or any(says in e["detail"] for e in problem.get("errors", []))


async def test_invalid_utf8_csv_is_422(tenant_a: httpx.AsyncClient) -> None:
    r = await tenant_a.post(
        "/v1/readings",
        content=b"meter_id,ts,value,unit\n\xff,x,1,kWh\n",
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "text/csv; charset=latin-1"]
)
async def test_another_content_type_is_415(
    tenant_a: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = await tenant_a.post("/v1/readings", content=b"meter_id,ts,value,unit\n", headers=headers)
    assert r.status_code == 415, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_more_readings_than_the_limit_is_413_and_nothing_lands(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer
) -> None:
    limit = api_server.settings.api_max_readings
    start = datetime.now(UTC) - timedelta(days=1)
    rows = "".join(
        f"{meters.a1},{(start + timedelta(seconds=i)).isoformat()},1,kWh\n"
        for i in range(limit + 1)
    )
    r = await tenant_a.post(
        "/v1/readings",
        content=("meter_id,ts,value,unit\n" + rows).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["limit"] == limit
    assert await _ems_rows(api_server, [meters.a1]) == []


async def test_a_body_over_the_byte_limit_is_413(
    tenant_a: httpx.AsyncClient, api_server: ApiServer
) -> None:
    body = b"meter_id,ts,value,unit\n" + b"x" * api_server.settings.api_max_body_bytes
    r = await tenant_a.post("/v1/readings", content=body, headers={"Content-Type": "text/csv"})
    # Refused from its Content-Length before the route runs, as a problem document.
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413


async def test_the_same_idempotency_key_replays_the_reply_and_another_body_is_422(
    tenant_a: httpx.AsyncClient, meters: Meters, api_server: ApiServer, unique: str
) -> None:
    body = {"readings": [{"meter_id": meters.a1, "ts": _cst(300), "value": 3.0, "unit": "kWh"}]}
    headers = {"Idempotency-Key": f"push-{unique}"}
    first = await tenant_a.post("/v1/readings", json=body, headers=headers)
    assert first.status_code == 202 and first.json()["accepted"] == 1
    second = await tenant_a.post("/v1/readings", json=body, headers=headers)
    assert second.status_code == 202
    assert second.json() == first.json(), "the stored reply, not a new 'duplicate' verdict"
    assert second.headers["idempotent-replayed"] == "true"
    other = {"readings": [{**body["readings"][0], "value": 4.0}]}
    third = await tenant_a.post("/v1/readings", json=other, headers=headers)
    assert third.status_code == 422 and "another body" in third.json()["detail"]
    assert await _ems_rows(api_server, [meters.a1]) == [(meters.a1, 3.0)]


async def test_concurrent_pushes_with_one_idempotency_key_accept_once(
    tenant_a: httpx.AsyncClient, meters: Meters, unique: str
) -> None:
    body = {"readings": [{"meter_id": meters.a2, "ts": _cst(300), "value": 3.0, "unit": "GJ"}]}
    headers = {"Idempotency-Key": f"race-{unique}"}
    replies = await asyncio.gather(
        *(tenant_a.post("/v1/readings", json=body, headers=headers) for _ in range(4))
    )
    assert sorted(r.json()["accepted"] for r in replies) == [1, 1, 1, 1]
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in replies) == 3


async def test_a_full_size_push_of_long_meter_ids_is_accepted_and_every_reading_arrives(
    tenant_a: httpx.AsyncClient, api_server: ApiServer, raw_topic: AIOKafkaConsumer, unique: str
) -> None:
    """10,000 readings of 64-character meter ids encode to about 1.4 MB, above the broker's
    message.max.bytes: the API sends them as several messages, each below the limit."""
    ids = [f"ems-big-{unique}-{m}-".ljust(64, "x") for m in range(10)]
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        for meter_id in ids:
            await conn.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
                " 'purchased_electricity')",
                (meter_id, ENTERPRISE_A),
            )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    readings = [
        {"meter_id": m, "ts": (start + timedelta(minutes=i)).isoformat(), "value": 1e6 + i + 0.125,
         "unit": "kWh"}
        for m in ids
        for i in range(1000)
    ]  # fmt: skip
    assert len(readings) == api_server.settings.api_max_readings
    r = await tenant_a.post("/v1/readings", json={"readings": readings}, timeout=60)
    assert r.status_code == 202, r.text[:500]
    assert r.json()["accepted"] == 10_000
    found = await _batches_for(raw_topic, set(ids), 10_000)
    got = [(x.meter_id, x.ts_ms, x.seq) for _, b in found for x in b.readings]
    assert len(found) >= 2  # split
    assert len(got) == 10_000 and len({(m, t) for m, t, _ in got}) == 10_000
    seqs = [s for _, _, s in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10_000  # in order, seq kept
    async with await AsyncConnection.connect(api_server.database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM ems_reading WHERE meter_id = ANY(%s)", (ids,)
        )
        assert await cur.fetchone() == (10_000,)
