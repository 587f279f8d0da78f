from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.records import (
    Quality,
    RawReading,
    ReadingBatch,
    Source,
    decode_batch,
    encode_batch,
)
from ingest.buffer import BufferWriteError, ReadingBuffer, encode_payload
from ingest.config import BufferConfig, FullPolicy
from ingest.metrics import GatewayMetrics
from ingest.sink import SourceSink

ROOT = Path(__file__).resolve().parents[2]


def _batch(key: str, seq: int, n: int = 2) -> ReadingBatch:
    readings = tuple(
        RawReading(f"M-{key}-{i}", 1_767_225_600_000 + seq, float(seq), "kWh", seq * n + i)
        for i in range(n)
    )
    return ReadingBatch(Source.MODBUS, "gw", f"gw/{key}", readings)


async def _open(path: Path, **limits: object) -> tuple[ReadingBuffer, GatewayMetrics]:
    metrics = GatewayMetrics()
    config = BufferConfig.model_validate({"path": path, **limits})
    return await ReadingBuffer(config, metrics).open(), metrics


async def test_batches_come_out_oldest_first_and_stay_until_deleted(tmp_path: Path) -> None:
    buffer, metrics = await _open(tmp_path / "b.db")
    for seq in range(5):
        await buffer.put(_batch("a", seq))
    rows = await buffer.peek(3)
    decoded = [decode_batch(r.payload).batch for r in rows]
    assert [b.readings[0].seq for b in decoded if b] == [0, 2, 4]
    await buffer.delete([rows[0].id, rows[1].id])
    assert [r.id for r in await buffer.peek(10)] == [rows[2].id, rows[2].id + 1, rows[2].id + 2]
    assert buffer.depth[:2] == (3, 6)
    assert metrics.value("gateway_buffer_batches") == 3
    await buffer.close()


async def test_concurrent_puts_share_commits_and_all_become_durable(tmp_path: Path) -> None:
    buffer, _ = await _open(tmp_path / "b.db")
    await asyncio.gather(*(buffer.put(_batch(f"d{i % 50}", i)) for i in range(500)))
    await buffer.close()
    with sqlite3.connect(tmp_path / "b.db") as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone() == (500,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_the_seq_high_water_mark_outlives_forwarded_batches_and_restarts(
    tmp_path: Path,
) -> None:
    buffer, _ = await _open(tmp_path / "b.db")
    assert await buffer.next_seq("gw/a") == 0
    await buffer.put(_batch("a", 7))  # seqs 14, 15
    await buffer.delete([r.id for r in await buffer.peek(10)])
    await buffer.close()
    buffer, _ = await _open(tmp_path / "b.db")
    assert await buffer.next_seq("gw/a") == 16
    assert await buffer.next_seq("gw/b") == 0
    await buffer.close()


async def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    buffer, metrics = await _open(tmp_path / "b.db", max_readings=10)
    for seq in range(8):
        await buffer.put(_batch("a", seq))  # 2 readings each
    rows = await buffer.peek(100)
    kept = [b.readings[0].value for r in rows if (b := decode_batch(r.payload).batch)]
    assert kept == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert metrics.value("gateway_buffer_dropped_batches_total") == 3
    assert metrics.value("gateway_buffer_dropped_readings_total") == 6
    assert metrics.value("gateway_buffer_full") == 1
    await buffer.close()


async def test_refuse_newest_keeps_the_oldest_and_counts_the_refused(tmp_path: Path) -> None:
    buffer, metrics = await _open(
        tmp_path / "b.db", max_readings=10, full_policy=FullPolicy.REFUSE_NEWEST.value
    )
    for seq in range(8):
        await buffer.put(_batch("a", seq))
    rows = await buffer.peek(100)
    kept = [b.readings[0].value for r in rows if (b := decode_batch(r.payload).batch)]
    assert kept == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert metrics.value("gateway_buffer_dropped_batches_total") == 3
    await buffer.close()


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from ingest.buffer import ReadingBuffer
    from ingest.config import BufferConfig
    from ingest.metrics import GatewayMetrics
    from contracts.records import RawReading, ReadingBatch, Source

    async def main() -> None:
        config = BufferConfig.model_validate({"path": Path(sys.argv[1])})
        buffer = await ReadingBuffer(config, GatewayMetrics()).open()
        seq = 0
        while True:
            reading = RawReading("M", seq, 1.0, "kWh", seq)
            batch = ReadingBatch(Source.MODBUS, "gw", "gw/k9", (reading,))
            await buffer.put(batch)
            print(seq, flush=True)  # printed only once the batch is durable
            seq += 1

    asyncio.run(main())
    """
)


def test_every_acknowledged_put_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    acknowledged = [int(proc.stdout.readline()) for _ in range(300)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    acknowledged += [int(line) for line in proc.stdout.read().split()]
    with sqlite3.connect(path) as conn:
        stored = {
            r.seq
            for (payload,) in conn.execute("SELECT payload FROM batches")
            for r in (decode_batch(payload).batch or _batch("x", 0)).readings
        }
        high_water = conn.execute("SELECT seq FROM seq_high_water").fetchone()[0]
    assert set(acknowledged) <= stored
    assert high_water >= max(acknowledged)


def test_the_stored_payload_is_the_wire_contract_byte_for_byte() -> None:
    readings = (
        RawReading("E-1.kwh", 1_767_225_600_123, 123456.7, "kWh", 7),
        RawReading("E-1.kw", 1_767_225_600_123, -0.0, "kW", 8, Quality.UNCERTAIN),
        RawReading("E-1.pf", 1_767_225_600_123, math.nan, "1", 9, Quality.BAD),
        RawReading("E-2.kwh", 1_767_225_601_000, 1e300, "kWh", 10),
        RawReading("E-1.kwh", 1_767_225_600_123, 5.0, "kWh", 11),
    )
    for batch in (
        ReadingBatch(Source.MODBUS, "gw", "gw/d1", readings),
        ReadingBatch(Source.OPCUA, "gw", "gw/opc", readings[::-1]),
        ReadingBatch(Source.MODBUS, "gw", "gw/empty", ()),
    ):
        assert encode_payload(batch) == encode_batch(batch)


# --- A full disk: every put that returned is stored, also after space comes back -----------


def _big_batch(seq: int, n: int = 100) -> ReadingBatch:
    """About 11 KB encoded: a few of them fill the small disks below."""
    readings = tuple(
        RawReading(f"FULL-{i:03d}", 1_767_225_600_000 + seq * 1000, float(seq), "kWh", seq * n + i)
        for i in range(n)
    )
    return ReadingBatch(Source.MODBUS, "gw", "gw/full", readings)


def _stored_seqs(path: Path) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {
            r.seq // 100
            for (payload,) in conn.execute("SELECT payload FROM batches")
            for r in (decode_batch(payload).batch or _big_batch(0, 0)).readings
        }


async def fill_fail_recover(
    buffer: ReadingBuffer, path: Path, make_room: Callable[[], object], max_bytes: int
) -> dict[str, object]:
    """Put batches until the disk is full, keep putting while it is (enough failed batches
    that their bytes, wrongly counted, would pass ``max_bytes``), make room, put three more.
    Returns what a test asserts on: which puts returned and what the buffer holds."""
    returned: list[int] = []
    failed: list[int] = []
    seq = 0
    while not failed and seq < 10_000:  # phase 1: until the disk is full
        try:
            await buffer.put(_big_batch(seq))
            returned.append(seq)
        except BufferWriteError:
            failed.append(seq)
        seq += 1
    one = len(encode_payload(_big_batch(0)))
    for _ in range(max_bytes // one + 5):  # phase 2: the disk stays full
        try:
            await buffer.put(_big_batch(seq))
            returned.append(seq)
        except BufferWriteError:
            failed.append(seq)
        seq += 1
    make_room()
    after: list[int] = []
    for _ in range(3):  # phase 3: space is back
        await buffer.put(_big_batch(seq))
        returned.append(seq)
        after.append(seq)
        seq += 1
    with sqlite3.connect(path) as conn:
        count = conn.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM batches").fetchone()
    return {
        "returned": returned,
        "failed": failed,
        "after": after,
        "stored": sorted(_stored_seqs(path)),
        "depth": list(buffer.depth[::2]),
        "table": list(count),
    }


def _assert_store_and_forward_held(result: dict[str, Any], metrics: GatewayMetrics) -> None:
    stored, returned = set(result["stored"]), result["returned"]
    assert len(returned) >= 4 and len(result["failed"]) >= 20, result
    assert set(returned) <= stored, (
        f"puts that returned but are not stored: {set(returned) - stored}"
    )
    assert not stored & set(result["failed"]), "a put that raised is stored"
    assert result["depth"] == result["table"], "the counters hold batches that are not stored"
    assert metrics.value("gateway_buffer_dropped_batches_total") == 0
    assert metrics.value("gateway_buffer_write_errors_total") == len(result["failed"])
    assert metrics.value("gateway_buffer_write_failing") == 0


async def test_a_full_disk_refuses_puts_loudly_and_loses_no_stored_batch(tmp_path: Path) -> None:
    """SQLite's page limit gives SQLITE_FULL (and its automatic rollback) without a real disk."""
    path = tmp_path / "b.db"
    connections: list[sqlite3.Connection] = []

    def small_disk(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA max_page_count = 60")  # 240 KiB of 4 KiB pages
        connections.append(conn)

    metrics = GatewayMetrics()
    config = BufferConfig.model_validate({"path": path, "max_bytes": 300_000})
    buffer = await ReadingBuffer(config, metrics, on_connect=small_disk).open()

    def make_room() -> None:
        connections[0].execute("PRAGMA max_page_count = 1000")

    result = await fill_fail_recover(buffer, path, make_room, 300_000)
    await buffer.close()
    _assert_store_and_forward_held(result, metrics)


TMPFS_RUN = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from pathlib import Path
    from ingest.buffer import ReadingBuffer
    from ingest.config import BufferConfig
    from ingest.metrics import GatewayMetrics
    from tests.ingest.test_buffer import fill_fail_recover

    async def main() -> None:
        disk = Path(sys.argv[1])
        filler = disk / "filler"
        filler.write_bytes(b"x" * 128 * 1024)  # deleted later: "space freed"
        path = disk / "b.db"
        metrics = GatewayMetrics()
        config = BufferConfig.model_validate({"path": path, "max_bytes": 600_000})
        buffer = await ReadingBuffer(config, metrics).open()
        result = await fill_fail_recover(buffer, path, filler.unlink, 600_000)
        await buffer.close()
        names = ("gateway_buffer_dropped_batches_total", "gateway_buffer_write_errors_total",
                 "gateway_buffer_write_failing")
        result["metrics"] = {n: metrics.value(n) for n in names}
        print(json.dumps(result))

    asyncio.run(main())
    """
)


def test_a_full_tmpfs_refuses_puts_loudly_and_loses_no_stored_batch(tmp_path: Path) -> None:
    """The same on a real 512 KiB tmpfs (ENOSPC at write or commit), mounted in a private user
    and mount namespace so it needs no root and vanishes with the process."""
    unshare = shutil.which("unshare")
    # util-linux is part of every Debian system (bootstrap installs it elsewhere): never a skip.
    assert unshare is not None, "util-linux's unshare is needed: run deploy/bootstrap.sh"
    probe = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here: {probe.stderr.decode().strip()}")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = 'mount -t tmpfs -o size=512k tmpfs "$1" && exec "$2" -c "$3" "$1"'
    done = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script,
         "sh", str(disk), sys.executable, TMPFS_RUN],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    metrics = GatewayMetrics()
    for name, value in result["metrics"].items():
        metrics.set(name, value)
    _assert_store_and_forward_held(result, metrics)


class _RefusingSink:
    """Refuses while ``refusing`` is set, as a buffer on a full disk does."""

    def __init__(self) -> None:
        self.refusing = False
        self.stored: list[ReadingBatch] = []

    async def put(self, batch: ReadingBatch) -> None:
        if self.refusing:
            raise BufferWriteError("batch not stored: database or disk is full")
        self.stored.append(batch)


async def test_a_source_counts_refused_batches_and_logs_once_per_episode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, metrics = _RefusingSink(), GatewayMetrics()
    source = SourceSink(sink, metrics, source_key="gw/a")
    assert await source.put(_batch("a", 0))
    sink.refusing = True
    assert [await source.put(_batch("a", s)) for s in range(1, 6)] == [False] * 5
    sink.refusing = False
    assert await source.put(_batch("a", 6))
    assert [b.readings[0].seq for b in sink.stored] == [0, 12]
    assert metrics.value("gateway_unbuffered_batches_total", source="gw/a") == 5
    assert metrics.value("gateway_unbuffered_readings_total", source="gw/a") == 10
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    back = [r for r in caplog.records if "takes batches again" in r.getMessage()]
    assert len(errors) == 1 and "NOT buffered" in errors[0].getMessage()
    assert len(back) == 1 and "5 batches (10 readings)" in back[0].getMessage()
