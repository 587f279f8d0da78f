"""The EMS push's database steps, talked to directly: columns travel as comma-joined text
(``api.readings.service``), so these pin that nothing is lost on the way — a double comes back
bit for bit, a (meter, time) pushed before is found, and a row a concurrent push recorded first
is named rather than counted twice (clause 8.4)."""

from __future__ import annotations

import pytest
from psycopg import AsyncConnection

from api.readings import service

pytestmark = pytest.mark.integration

_T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z in epoch ms
# Doubles whose shortest text form is long, tiny (subnormal), the largest, negative, integral.
_VALUES = [0.1 + 0.2, 5e-324, 1.7976931348623157e308, -123456.789, 1e16]


async def test_recorded_values_come_back_exactly_and_are_found_as_pushed_before(
    database_url: str, unique: str
) -> None:
    meter = f"rec-{unique}"
    ts = [_T0 + k * 1000 for k in range(len(_VALUES))]
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        raced = await service.record_accepted(
            conn,
            key_id="k-test",
            meter_ids=[meter] * len(ts),
            ts_ms=ts,
            values=_VALUES,
            units=["kWh"] * len(ts),
            seqs=[16_384 + k for k in range(len(ts))],
        )
        cur = await conn.execute(
            "SELECT (extract(epoch FROM ts) * 1000)::bigint, value, unit, seq FROM ems_reading"
            " WHERE meter_id = %s ORDER BY ts",
            (meter,),
        )
        stored = await cur.fetchall()
        registry, before = await service.lookup(
            conn, meter_ids=[meter, meter, meter], ts_ms=[ts[0], ts[4], ts[4] + 1]
        )
    assert raced == set()
    assert stored == [
        (t, v, "kWh", 16_384 + k) for k, (t, v) in enumerate(zip(ts, _VALUES, strict=True))
    ]
    assert registry == {}  # no such meter in the registry: the caller rejects it
    assert before == {(meter, ts[0]): 0.30000000000000004, (meter, ts[4]): 1e16}


async def test_rows_a_concurrent_push_recorded_first_are_named_not_recorded_twice(
    database_url: str, unique: str
) -> None:
    meter = f"race-{unique}"
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        first = await service.record_accepted(
            conn,
            key_id="k-one",
            meter_ids=[meter],
            ts_ms=[_T0],
            values=[1.0],
            units=["kWh"],
            seqs=[1],
        )
        second = await service.record_accepted(
            conn,
            key_id="k-two",
            meter_ids=[meter, meter],
            ts_ms=[_T0, _T0 + 60_000],
            values=[1.0, 2.0],
            units=["kWh", "kWh"],
            seqs=[2, 3],
        )
        cur = await conn.execute(
            "SELECT key_id, value FROM ems_reading WHERE meter_id = %s ORDER BY ts", (meter,)
        )
        rows = await cur.fetchall()
    assert first == set()
    assert second == {(meter, _T0)}
    assert rows == [("k-one", 1.0), ("k-two", 2.0)]
