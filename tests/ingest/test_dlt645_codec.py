"""The DL/T 645-2007 codec against frames worked out by hand from clause 4 and Appendix A."""

from __future__ import annotations

import pytest

from ingest import dlt645_codec as codec


def test_a_read_request_is_framed_as_the_standard_prints_it() -> None:
    # Address 123456789012 lowest pair first, C=11H, L=04, DI 00 01 00 00 sent DI0 first +33H,
    # CS = 68+12+90+78+56+34+12+68+11+04+33+33+34+33 = 368H -> 68H.
    expected = bytes.fromhex("FEFEFEFE 68 129078563412 68 11 04 33333433 68 16".replace(" ", ""))
    assert codec.read_request("123456789012", "00010000") == expected
    assert codec.read_request("123456789012", "00010000", preamble=False) == expected[4:]


def test_the_read_address_request_goes_to_the_all_aa_address() -> None:
    # 68 AA*6 68 13 00: CS = 68*2 + AA*6 + 13 = 4DFH -> DFH.
    assert codec.read_address_request(preamble=False).hex() == "68aaaaaaaaaaaa681300df16"


def test_addresses_are_bcd_lowest_byte_first_and_aa_is_a_wildcard() -> None:
    assert codec.encode_address("000012345678") == bytes.fromhex("785634120000")
    assert codec.decode_address(bytes.fromhex("785634120000")) == "000012345678"
    assert codec.address_matches("AAAAAA345678", "000000345678")
    assert not codec.address_matches("AAAAAA345678", "000000345679")
    for bad in ("12345678901", "12345678901A", "0000AA345678", "abcdefabcdef"):
        with pytest.raises(ValueError, match="12 decimal digits"):
            codec.check_address(bad)


def test_a_reply_after_the_preamble_and_line_noise_is_decoded() -> None:
    # 91H reply of meter 000000000001: DI 00010000 and 123456.78 kWh (78 56 34 12), all +33H.
    body = bytes.fromhex("68 010000000000 68 91 08 33333433 AB896745".replace(" ", ""))
    wire = b"\x00\x13" + codec.PREAMBLE + body + bytes([sum(body) % 256, 0x16])
    reader = codec.FrameReader()
    reader.feed(wire[:9])  # frames arrive in pieces
    assert reader.next_frame() is None
    reader.feed(wire[9:])
    frame = reader.next_frame()
    assert frame == codec.Frame("000000000001", 0x91, bytes.fromhex("0000010078563412"))
    assert codec.decode_value(codec.data_format("00010000"), frame.data[4:]) == 123456.78


def test_a_bad_checksum_is_refused_whole_and_the_next_frame_is_still_found() -> None:
    good = codec.encode_frame("000000000001", 0x91, codec.encode_di("00010000") + b"\0\0\0\0")
    bad = good[:-2] + bytes([(good[-2] + 1) % 256, 0x16])
    reader = codec.FrameReader()
    reader.feed(bad + good)
    with pytest.raises(codec.FrameError) as caught:
        reader.next_frame()
    assert caught.value.kind == "checksum"
    assert reader.next_frame() is not None


@pytest.mark.parametrize(
    ("di", "raw", "value", "unit", "cumulative"),
    [
        ("00010000", "99999999", 999999.99, "kWh", True),  # XXXXXX.XX
        ("00010400", "01000000", 0.01, "kWh", True),  # tariff 4, lowest byte first
        ("02010100", "5022", 225.0, "V", False),  # XXX.X: bytes 50 22 -> 2250 -> 225.0
        ("02020100", "632501", 12.563, "A", False),  # XXX.XXX
        ("02020200", "632581", -12.563, "A", False),  # top bit of the high byte: negative
        ("01010000", "563412" + "3012150625", 12.3456, "kW", False),  # XX.XXXX and its time
        ("02030000", "005080", -0.5, "kW", False),  # XX.XXXX, signed
    ],
)
def test_values_follow_the_formats_of_appendix_a(
    di: str, raw: str, value: float, unit: str, cumulative: bool
) -> None:
    fmt = codec.data_format(di)
    assert codec.decode_value(fmt, bytes.fromhex(raw)) == value
    assert (fmt.unit, fmt.cumulative) == (unit, cumulative)


def test_an_energy_register_rolls_over_one_step_past_999999_99_kwh() -> None:
    assert codec.data_format("00010000").rollover == 1_000_000.0
    assert codec.data_format("00000000").rollover is None  # combined energy carries a sign


def test_unknown_identifiers_and_non_bcd_values_are_refused() -> None:
    for di in ("0001FF00", "04000401", "0201010", "0001000D"):
        with pytest.raises(ValueError, match="data identifier"):
            codec.data_format(di)
    with pytest.raises(codec.BadValueError, match="not BCD"):
        codec.decode_value(codec.data_format("00010000"), bytes.fromhex("0A000000"))
    with pytest.raises(codec.BadValueError, match="2 data bytes"):
        codec.decode_value(codec.data_format("00010000"), bytes.fromhex("0000"))


def test_the_error_byte_of_an_abnormal_reply_is_named_bit_by_bit() -> None:
    assert codec.error_names(0x02) == ["no_data"]
    assert codec.error_names(0x05) == ["other", "unauthorized"]
    assert codec.error_names(0x00) == ["unspecified"]


def test_a_stray_68h_in_line_noise_is_not_taken_for_a_frame_head() -> None:
    good = codec.encode_frame("000000000002", 0x91, codec.encode_di("00010000") + b"\0\0\0\0")
    reader = codec.FrameReader()
    # The stray 68H puts another 68H seven bytes on: only the missing 16H unmasks it.
    reader.feed(b"\x00\x68\x16\xff" + good)
    frame = reader.next_frame()
    assert frame is not None and frame.address == "000000000002"
