"""Modbus register decoding and block planning: pure functions, no I/O.

A point's value spans 1, 2 or 4 16-bit registers. Devices disagree on how a multi-register value
is laid out, so each point names its order with the usual letters for the bytes of a 32-bit
value, most significant first (A): ABCD is big-endian words and bytes (the Modbus default),
CDAB swaps the words, BADC swaps the bytes inside each word, DCBA is fully little-endian. For
64-bit values the same two rules (word order, byte order in a word) apply to four words; for
16-bit values only the byte rule matters.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_READ_REGISTERS = 125  # Modbus application protocol v1.1b3, 6.3: 1..125 registers per read


class DataType(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def words(self) -> int:
        return _LAYOUT[self][1] // 2


# struct format (big-endian) and size in bytes of each data type
_LAYOUT: dict[DataType, tuple[str, int]] = {
    DataType.INT16: (">h", 2),
    DataType.UINT16: (">H", 2),
    DataType.INT32: (">i", 4),
    DataType.UINT32: (">I", 4),
    DataType.INT64: (">q", 8),
    DataType.UINT64: (">Q", 8),
    DataType.FLOAT32: (">f", 4),
    DataType.FLOAT64: (">d", 8),
}


class Order(StrEnum):
    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def words_swapped(self) -> bool:
        return self in (Order.CDAB, Order.DCBA)

    @property
    def bytes_swapped(self) -> bool:
        return self in (Order.BADC, Order.DCBA)


class Function(StrEnum):
    HOLDING = "holding"  # function code 3
    INPUT = "input"  # function code 4


def _wire_to_big_endian(words: Sequence[int], order: Order) -> bytes:
    ordered = list(reversed(words)) if order.words_swapped else list(words)
    raw = bytearray()
    for word in ordered:
        hi, lo = (word >> 8) & 0xFF, word & 0xFF
        raw += bytes((lo, hi)) if order.bytes_swapped else bytes((hi, lo))
    return bytes(raw)


def decode(words: Sequence[int], data_type: DataType, order: Order) -> float:
    """The value of one point from its registers as they came off the wire."""
    if len(words) != data_type.words:
        raise ValueError(f"{data_type} needs {data_type.words} registers, got {len(words)}")
    fmt, _ = _LAYOUT[data_type]
    value: int | float = struct.unpack(fmt, _wire_to_big_endian(words, order))[0]
    return float(value)


def encode(value: float, data_type: DataType, order: Order) -> list[int]:
    """The registers a device with this layout would hold for ``value`` (simulators, tests)."""
    fmt, _ = _LAYOUT[data_type]
    packed = struct.pack(fmt, value if data_type.startswith("float") else int(value))
    big = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    # The layout transform is its own inverse: swapping words/bytes twice restores them.
    swapped = _wire_to_big_endian(big, order)
    return [int.from_bytes(swapped[i : i + 2], "big") for i in range(0, len(swapped), 2)]


@dataclass(frozen=True, slots=True)
class Span:
    """Where one point lives: its index in the device's point list, function and registers."""

    index: int
    function: Function
    address: int
    words: int

    @property
    def end(self) -> int:
        return self.address + self.words


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers from ``start``, covering ``spans``."""

    function: Function
    start: int
    count: int
    spans: tuple[Span, ...]

    def words_of(self, span: Span, registers: Sequence[int]) -> Sequence[int]:
        offset = span.address - self.start
        return registers[offset : offset + span.words]


# Where a layout's bytes come from when a block's registers are packed twice, as big-endian
# words ("be") and as byte-swapped words ("le"), and which struct byte order reads them: the
# word-swapped orders are the little-endian reading of the other buffer's bytes.
_SOURCE: dict[Order, tuple[int, str]] = {
    Order.ABCD: (0, ">"),  # big-endian words, read big-endian
    Order.CDAB: (1, "<"),  # byte-swapped words, read little-endian: the words reverse
    Order.BADC: (1, ">"),  # byte-swapped words, read big-endian
    Order.DCBA: (0, "<"),  # big-endian words, read little-endian: bytes and words reverse
}


def block_decoder(
    block: Block, layouts: Sequence[tuple[DataType, Order]]
) -> Callable[[Sequence[int]], list[float]]:
    """A function from a block's registers (as they came off the wire) to the value of each of
    its spans, in ``block.spans`` order; ``layouts[i]`` is the type and order of span ``i``.

    It does what ``decode`` does for each span, for the whole block at once: the registers are
    packed once (at most twice), and the points sharing a byte source and byte order are read
    by one precompiled ``struct`` call (gaps skipped with pad bytes).
    """
    if len(layouts) != len(block.spans):
        raise ValueError(f"{len(block.spans)} spans need as many layouts, got {len(layouts)}")
    groups: list[tuple[int, str, list[tuple[int, int, str]]]] = []  # (source, endian, members)
    spans = sorted(range(len(block.spans)), key=lambda i: block.spans[i].address)
    for i in spans:
        span, (data_type, order) = block.spans[i], layouts[i]
        if span.words != data_type.words:
            raise ValueError(f"{data_type} needs {data_type.words} registers, got {span.words}")
        source, endian = _SOURCE[order]
        offset = 2 * (span.address - block.start)
        code = _LAYOUT[data_type][0][1:]
        for src, end, members in groups:
            last_offset, _, last_code = members[-1]
            # same buffer and byte order, and after the previous member (overlaps start anew)
            if (src, end) == (source, endian) and offset >= last_offset + struct.calcsize(
                last_code
            ):
                members.append((offset, i, code))
                break
        else:
            groups.append((source, endian, [(offset, i, code)]))
    readers: list[tuple[int, Callable[[bytes], tuple[int | float, ...]], list[int]]] = []
    for source, endian, members in groups:
        fmt, cursor = endian, 0
        for offset, _, code in members:
            fmt += ("x" * (offset - cursor)) + code
            cursor = offset + struct.calcsize(code)
        readers.append((source, struct.Struct(fmt).unpack_from, [i for _, i, _ in members]))
    count, n = block.count, len(block.spans)
    used = {source for source, _, _ in readers}
    packers = [
        struct.Struct(f"{e}{count}H").pack if i in used else None for i, e in enumerate("><")
    ]

    def pack(words: Sequence[int]) -> list[bytes]:
        return [b"" if p is None else p(*words) for p in packers]

    def decode_block(registers: Sequence[int]) -> list[float]:
        words = registers if len(registers) == count else registers[:count]
        try:
            packed = pack(words)
        except struct.error:  # a word out of 0..65535: keep its low 16 bits, as ``decode`` does
            packed = pack([w & 0xFFFF for w in words])
        values = [0.0] * n
        for source, unpack, indexes in readers:
            for i, value in zip(indexes, unpack(packed[source]), strict=True):
                values[i] = float(value)
        return values

    return decode_block


def plan_blocks(
    spans: Sequence[Span], *, max_gap: int = 0, max_count: int = MAX_READ_REGISTERS
) -> list[Block]:
    """Merge points into the fewest reads: neighbours join when the registers between them
    number at most ``max_gap`` and the read stays within ``max_count`` registers."""
    if not 1 <= max_count <= MAX_READ_REGISTERS:
        raise ValueError(f"max_count must be 1..{MAX_READ_REGISTERS}")
    blocks: list[Block] = []
    current: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.function, s.address, s.index)):
        if current:
            first, end = current[0], max(s.end for s in current)
            same = span.function == first.function
            if same and span.address - end <= max_gap and span.end - first.address <= max_count:
                current.append(span)
                continue
            blocks.append(_block(current))
        current = [span]
    if current:
        blocks.append(_block(current))
    return blocks


def _block(spans: list[Span]) -> Block:
    start = spans[0].address
    return Block(spans[0].function, start, max(s.end for s in spans) - start, tuple(spans))


def split_block(block: Block) -> list[Block]:
    """Split a block the device refused (illegal address) in two, at the widest gap between
    its points (the likeliest undefined registers), or in the middle when they are contiguous;
    each part covers only its own points."""
    spans = sorted(block.spans, key=lambda s: s.address)
    if len(spans) < 2:
        return [block]
    gaps = [
        spans[i + 1].address - max(s.end for s in spans[: i + 1]) for i in range(len(spans) - 1)
    ]
    widest = max(range(len(gaps)), key=lambda i: gaps[i])
    cut = widest + 1 if gaps[widest] > 0 else len(spans) // 2
    return [_block(spans[:cut]), _block(spans[cut:])]
