"""`parkcarbon-gateway dead list|requeue --config FILE`: an operator sees the batches the
forwarder moved aside and puts them back once the cause is fixed.

The real program runs as a subprocess against a real buffer file (SQLite), in which a batch was
moved aside the way the forwarder does it (``ReadingBuffer.bury``). No broker is involved.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from contracts.records import RawReading, ReadingBatch, Source
from ingest.buffer import ReadingBuffer
from ingest.config import BufferConfig
from ingest.metrics import GatewayMetrics

GATEWAY = Path(sys.executable).with_name("parkcarbon-gateway")
REASON = "MessageSizeTooLargeError: 2100000 bytes in one reading's message\nbroker said no"


def _batch(source_key: str, n: int) -> ReadingBatch:
    readings = tuple(
        RawReading(f"M-{i}", 1_767_225_600_000 + i * 1000, 10.0 + i, "kWh", i) for i in range(n)
    )
    return ReadingBatch(Source.MODBUS, "gw-dead", source_key, readings)


def _config(tmp_path: Path, buffer: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    doc = {"gateway_id": "gw-dead", "buffer": {"path": str(buffer)}}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


async def _buffer_with_one_dead(path: Path) -> int:
    """A buffer holding two batches, the first of which was moved aside; its id."""
    buffer = await ReadingBuffer(BufferConfig(path=path), GatewayMetrics()).open()
    try:
        await buffer.put(_batch("gw-dead/too-big", 3))
        await buffer.put(_batch("gw-dead/fine", 2))
        first = (await buffer.peek(1))[0]
        await buffer.bury(first.id, REASON)
        return first.id
    finally:
        await buffer.close()


async def _depth_and_dead(path: Path) -> tuple[tuple[int, int, int], int]:
    buffer = await ReadingBuffer(BufferConfig(path=path), GatewayMetrics()).open()
    try:
        return buffer.depth, len(await buffer.dead())
    finally:
        await buffer.close()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args], capture_output=True, text=True, timeout=60, check=False
    )


async def test_dead_list_shows_id_source_readings_reason_and_when(tmp_path: Path) -> None:
    buffer = tmp_path / "buffer.sqlite3"
    dead_id = await _buffer_with_one_dead(buffer)

    result = _run("dead", "list", "--config", str(_config(tmp_path, buffer)))

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == ["id", "source_key", "readings", "bytes", "dead_at", "reason"]
    assert len(rows) == 1  # the reason's newline does not split the row
    ident, source_key, readings, size, dead_at, reason = rows[0].split("\t")
    assert (int(ident), source_key, int(readings)) == (dead_id, "gw-dead/too-big", 3)
    assert int(size) > 0
    assert dead_at.endswith("+00:00") and dead_at[:2] == "20"
    assert (
        reason == "MessageSizeTooLargeError: 2100000 bytes in one reading's message broker said no"
    )


async def test_dead_requeue_puts_the_batch_back_at_the_end_of_the_queue(tmp_path: Path) -> None:
    buffer = tmp_path / "buffer.sqlite3"
    dead_id = await _buffer_with_one_dead(buffer)
    config = str(_config(tmp_path, buffer))
    (batches, readings, _), dead = await _depth_and_dead(buffer)
    assert (batches, readings, dead) == (1, 2, 1)

    result = _run("dead", "requeue", "--config", config, str(dead_id))

    assert result.returncode == 0, result.stderr
    assert "requeued 1 dead batch(es)" in result.stdout
    (batches, readings, _), dead = await _depth_and_dead(buffer)
    assert (batches, readings, dead) == (2, 5, 0)
    assert _run("dead", "list", "--config", config).stdout.strip() == "no dead batches"


async def test_requeueing_an_unknown_id_exits_1_and_still_moves_the_known_ones(
    tmp_path: Path,
) -> None:
    buffer = tmp_path / "buffer.sqlite3"
    dead_id = await _buffer_with_one_dead(buffer)

    result = _run(
        "dead", "requeue", "--config", str(_config(tmp_path, buffer)), str(dead_id), "999999"
    )

    assert result.returncode == 1
    assert "not dead batches: 999999" in result.stderr
    assert (await _depth_and_dead(buffer))[1] == 0


def test_a_config_naming_no_buffer_file_exits_2_and_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "buffer.sqlite3"

    result = _run("dead", "list", "--config", str(_config(tmp_path, missing)))

    assert result.returncode == 2
    assert f"no buffer at {missing}" in result.stderr
    assert not missing.parent.exists()


def test_a_bad_config_exits_2_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("gateway_id: [not, an, id]\n", encoding="utf-8")

    result = _run("dead", "list", "--config", str(config))

    assert result.returncode == 2
    assert str(config) in result.stderr
