"""Historical readings from a CSV file into ``readings.raw``, through the same validation path
as live readings (the stream worker validates, quarantines and windows them; clause 8.4).

Every batch carries the history marker (``ReadingBatch.history``): the worker accepts any time
after the meter's installation instead of the live 31-day limit (an inventory needs its base
year and last year, GB/T 32150 clause 6.3.1), and fits readings older than the meter's newest
one into the gaps between its stored readings (``accounting.history``).

The file has a header ``meter_id,ts,value,unit`` (ts ISO 8601 with an offset). Each meter's
rows become batches keyed ``backfill:<meter_id>`` with ``seq`` = the reading's epoch ms, so a
second import of the same file is recognised reading by reading as duplicates. A meter's rows
must be in time order in the file (as exports are): a row older than one already sent reaches
the worker late and is quarantined as out of order, visibly, not lost. A row that cannot be read
(wrong columns, bad number, naive time) is reported with its line number and written to the
rejects file; the other rows go on. So is a row whose time lies outside the bounds
(``accounting.instants``: ± the configured years around now, always years 0001-9999 UTC), with
the reason TIMESTAMP_OUT_OF_RANGE: never sent, so it cannot stop the worker.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from accounting.instants import REPRESENTABLE, TimeBounds, TimestampOutOfRangeError
from accounting.spreadsheet import formula_safe_cell
from contracts.records import (
    MAX_READINGS_PER_BATCH,
    DecodeReason,
    RawReading,
    ReadingBatch,
    Source,
    encode_batch,
    ts_to_ms,
)
from contracts.split import split_message

HEADER = ("meter_id", "ts", "value", "unit")


class BackfillError(Exception):
    """The file as a whole cannot be imported (missing, or not the expected columns)."""


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    row: list[str]


@dataclass
class Tally:
    rows: int = 0
    readings: int = 0
    batches: int = 0
    bad: list[BadRow] = field(default_factory=list)
    # Per meter, the first and last epoch ms sent: what to look for once the worker stored them.
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)


def _parse(line: int, row: list[str], bounds: TimeBounds) -> RawReading | BadRow:
    if len(row) != len(HEADER):
        return BadRow(line, f"expected {len(HEADER)} columns, got {len(row)}", row)
    meter_id, ts, value_text, unit = (cell.strip() for cell in row)
    try:
        ts_ms = ts_to_ms(ts, bounds)
    except TimestampOutOfRangeError as exc:
        return BadRow(line, f"{DecodeReason.TIMESTAMP_OUT_OF_RANGE}: {exc}", row)
    except ValueError as exc:
        return BadRow(line, f"ts: {exc}", row)
    try:
        value = float(value_text)
    except ValueError:
        return BadRow(line, f"value {value_text!r} is not a number", row)
    if not math.isfinite(value):
        return BadRow(line, f"value {value_text!r} is not finite", row)
    if not meter_id or not unit:
        return BadRow(line, "meter_id and unit must not be empty", row)
    return RawReading(meter_id=meter_id, ts_ms=ts_ms, value=value, unit=unit, seq=ts_ms)


def read_rows(text: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each data row; the header is checked first."""
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None or tuple(c.strip() for c in header) != HEADER:
        raise BackfillError(f"the first line must be the header {','.join(HEADER)}, got {header}")
    for row in reader:
        if row:
            yield reader.line_num, row


def batches(
    rows: Iterable[tuple[int, list[str]]],
    tally: Tally,
    *,
    gateway_id: str,
    batch_size: int = 1000,
    bounds: TimeBounds = REPRESENTABLE,
) -> Iterator[ReadingBatch]:
    """Per-meter batches of at most ``batch_size`` readings, in file order per meter; a row
    whose time is outside ``bounds`` is a bad row."""
    if not 1 <= batch_size <= MAX_READINGS_PER_BATCH:
        raise BackfillError(f"batch size must be 1..{MAX_READINGS_PER_BATCH}")
    pending: dict[str, list[RawReading]] = {}

    def batch_of(meter_id: str, readings: list[RawReading]) -> ReadingBatch:
        tally.batches += 1
        tally.readings += len(readings)
        lo = min(r.ts_ms for r in readings)
        hi = max(r.ts_ms for r in readings)
        old = tally.spans.get(meter_id)
        tally.spans[meter_id] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)
        return ReadingBatch(
            Source.EMS, gateway_id, f"backfill:{meter_id}", tuple(readings), history=True
        )

    for line, row in rows:
        tally.rows += 1
        parsed = _parse(line, row, bounds)
        if isinstance(parsed, BadRow):
            tally.bad.append(parsed)
            continue
        group = pending.setdefault(parsed.meter_id, [])
        group.append(parsed)
        if len(group) >= batch_size:
            yield batch_of(parsed.meter_id, pending.pop(parsed.meter_id))
    for meter_id, group in pending.items():
        yield batch_of(meter_id, group)


def messages(batch: ReadingBatch, max_bytes: int) -> list[bytes]:
    """``batch`` as ``readings.raw`` messages of at most ``max_bytes`` bytes, in order (a
    10,000-reading batch of long meter ids is above Kafka's default 1 MiB limit)."""
    return split_message(encode_batch(batch), max_bytes)


class CountingLines:
    """Text lines of a binary file, counting the bytes consumed (for a progress bar)."""

    def __init__(self, path: Path, on_bytes: Callable[[int], None]) -> None:
        self._path = path
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[str]:
        with self._path.open("rb") as raw:
            first = True
            for chunk in raw:
                self._on_bytes(len(chunk))
                text = chunk.decode("utf-8")
                if first:  # spreadsheet exports often start with a byte-order mark
                    text, first = text.removeprefix("\ufeff"), False
                yield text


def write_rejects(path: Path, bad: list[BadRow]) -> None:
    """The rows that could not be read, each with its line and reason, for an operator to open
    in a spreadsheet: a cell that one would run as a formula gets a leading ``'`` (OWASP "CSV
    Injection", ``accounting.spreadsheet``); the file being imported is not trusted."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "reason", *HEADER])
        for item in bad:
            writer.writerow(
                [item.line, formula_safe_cell(item.reason), *map(formula_safe_cell, item.row)]
            )
