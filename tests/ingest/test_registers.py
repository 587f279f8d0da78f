from __future__ import annotations

import math

import pytest

from ingest.registers import (
    MAX_READ_REGISTERS,
    DataType,
    Function,
    Order,
    Span,
    block_decoder,
    decode,
    encode,
    plan_blocks,
    split_block,
)

# (data type, value, {order: registers as the device sends them}), computed by hand from the
# big-endian bytes of each value (A = most significant byte).
CASES: list[tuple[DataType, float, dict[Order, list[int]]]] = [
    (
        DataType.INT16,
        -2,
        {Order.ABCD: [0xFFFE], Order.CDAB: [0xFFFE], Order.BADC: [0xFEFF], Order.DCBA: [0xFEFF]},
    ),
    (
        DataType.UINT16,
        0x1234,
        {Order.ABCD: [0x1234], Order.CDAB: [0x1234], Order.BADC: [0x3412], Order.DCBA: [0x3412]},
    ),
    (
        DataType.INT32,
        -2,
        {
            Order.ABCD: [0xFFFF, 0xFFFE],
            Order.CDAB: [0xFFFE, 0xFFFF],
            Order.BADC: [0xFFFF, 0xFEFF],
            Order.DCBA: [0xFEFF, 0xFFFF],
        },
    ),
    (
        DataType.UINT32,
        0x12345678,
        {
            Order.ABCD: [0x1234, 0x5678],
            Order.CDAB: [0x5678, 0x1234],
            Order.BADC: [0x3412, 0x7856],
            Order.DCBA: [0x7856, 0x3412],
        },
    ),
    (
        DataType.INT64,
        -0x0102030405060708,  # two's complement FEFD FCFB FAF9 F8F8
        {
            Order.ABCD: [0xFEFD, 0xFCFB, 0xFAF9, 0xF8F8],
            Order.CDAB: [0xF8F8, 0xFAF9, 0xFCFB, 0xFEFD],
            Order.BADC: [0xFDFE, 0xFBFC, 0xF9FA, 0xF8F8],
            Order.DCBA: [0xF8F8, 0xF9FA, 0xFBFC, 0xFDFE],
        },
    ),
    (
        DataType.UINT64,
        0x0102030405060708,
        {
            Order.ABCD: [0x0102, 0x0304, 0x0506, 0x0708],
            Order.CDAB: [0x0708, 0x0506, 0x0304, 0x0102],
            Order.BADC: [0x0201, 0x0403, 0x0605, 0x0807],
            Order.DCBA: [0x0807, 0x0605, 0x0403, 0x0201],
        },
    ),
    (
        DataType.FLOAT32,
        -12.5,  # 0xC1480000
        {
            Order.ABCD: [0xC148, 0x0000],
            Order.CDAB: [0x0000, 0xC148],
            Order.BADC: [0x48C1, 0x0000],
            Order.DCBA: [0x0000, 0x48C1],
        },
    ),
    (
        DataType.FLOAT64,
        1.5,  # 0x3FF8000000000000
        {
            Order.ABCD: [0x3FF8, 0, 0, 0],
            Order.CDAB: [0, 0, 0, 0x3FF8],
            Order.BADC: [0xF83F, 0, 0, 0],
            Order.DCBA: [0, 0, 0, 0xF83F],
        },
    ),
]
PARAMS = [(t, v, o, w) for t, v, orders in CASES for o, w in orders.items()]


@pytest.mark.parametrize(("data_type", "value", "order", "words"), PARAMS)
def test_every_data_type_decodes_in_every_byte_and_word_order(
    data_type: DataType, value: float, order: Order, words: list[int]
) -> None:
    # 64-bit integers beyond 2**53 lose their last bits as floats, as the wire contract's
    # value is a float; the comparison is against the same rounding.
    assert decode(words, data_type, order) == float(value)


@pytest.mark.parametrize(("data_type", "value", "order", "words"), PARAMS)
def test_encode_writes_what_a_device_with_that_layout_holds(
    data_type: DataType, value: float, order: Order, words: list[int]
) -> None:
    assert encode(value, data_type, order) == words


def test_a_float_register_holding_nan_decodes_to_nan() -> None:
    assert math.isnan(decode([0x7FC0, 0x0000], DataType.FLOAT32, Order.ABCD))


def test_decode_refuses_the_wrong_number_of_registers() -> None:
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode([1], DataType.UINT32, Order.ABCD)


def _spans(*points: tuple[int, int], function: Function = Function.HOLDING) -> list[Span]:
    return [Span(i, function, address, words) for i, (address, words) in enumerate(points)]


def test_contiguous_points_merge_into_one_read() -> None:
    blocks = plan_blocks(_spans((0, 2), (2, 2), (4, 1), (5, 4)))
    assert [(b.start, b.count, len(b.spans)) for b in blocks] == [(0, 9, 4)]


def test_points_within_the_gap_tolerance_merge_and_farther_ones_do_not() -> None:
    spans = _spans((0, 2), (5, 2), (20, 1))
    assert [(b.start, b.count) for b in plan_blocks(spans, max_gap=3)] == [(0, 7), (20, 1)]
    assert [(b.start, b.count) for b in plan_blocks(spans, max_gap=0)] == [(0, 2), (5, 2), (20, 1)]
    assert [(b.start, b.count) for b in plan_blocks(spans, max_gap=13)] == [(0, 21)]


def test_no_read_exceeds_125_registers() -> None:
    blocks = plan_blocks(_spans(*[(2 * i, 2) for i in range(100)]))  # 200 registers
    assert [(b.start, b.count) for b in blocks] == [(0, 124), (124, 76)]
    assert all(b.count <= MAX_READ_REGISTERS for b in blocks)
    assert sum(len(b.spans) for b in blocks) == 100


def test_holding_and_input_registers_are_never_read_together() -> None:
    spans = [*_spans((0, 1)), Span(1, Function.INPUT, 1, 1)]
    assert [(b.function, b.start) for b in plan_blocks(spans)] == [
        (Function.HOLDING, 0),
        (Function.INPUT, 1),
    ]


def test_points_come_out_of_the_block_by_their_own_offset() -> None:
    [block] = plan_blocks(_spans((10, 2), (13, 1)), max_gap=1)
    registers = [1, 2, 99, 3]
    assert [list(block.words_of(s, registers)) for s in block.spans] == [[1, 2], [3]]


def test_a_refused_block_splits_into_halves_that_skip_the_gap_between_them() -> None:
    [block] = plan_blocks(_spans((0, 2), (2, 1), (10, 2), (12, 2)), max_gap=10)
    halves = split_block(block)
    assert [(b.start, b.count, len(b.spans)) for b in halves] == [(0, 3, 2), (10, 4, 2)]
    single = split_block(halves[0])[0]
    assert split_block(single) == [single]  # one point cannot split further


def test_a_whole_block_decodes_as_each_point_would_on_its_own() -> None:
    # Every type in every order side by side, with gaps, two points over the same registers and
    # a word past 16 bits (kept to its low 16 bits, as ``decode`` does).
    layouts = [(t, o) for t, _, by_order in CASES for o in by_order]
    spans, address = [], 3
    for i, (data_type, _) in enumerate(layouts):
        spans.append(Span(i, Function.HOLDING, address, data_type.words))
        address += data_type.words + (i % 3 == 0)
    spans.append(Span(len(spans), Function.HOLDING, 3, 2))  # overlaps the first points
    layouts.append((DataType.FLOAT32, Order.DCBA))
    [block] = plan_blocks(spans, max_gap=1)
    registers = [(0x9E37 * (k + 1) + 0x79B9) & 0xFFFF for k in range(block.count)]
    registers[5] |= 0x10000
    ordered = [layouts[s.index] for s in block.spans]
    got = block_decoder(block, ordered)(registers)
    want = [decode(block.words_of(s, registers), *ordered[k]) for k, s in enumerate(block.spans)]
    assert len(got) == len(want) == len(layouts)
    for g, w in zip(got, want, strict=True):
        assert g == w or (math.isnan(g) and math.isnan(w))


def test_a_block_decoder_refuses_a_layout_that_does_not_fit_its_span() -> None:
    [block] = plan_blocks(_spans((0, 2)))
    with pytest.raises(ValueError, match="needs 1 registers"):
        block_decoder(block, [(DataType.UINT16, Order.ABCD)])
