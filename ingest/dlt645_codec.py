"""DL/T 645-2007 frames and data identifiers: pure encoding and decoding, no I/O.

Frame (DL/T 645-2007 clause 4.1, "帧格式")::

    [FE FE FE FE]  68  A0 A1 A2 A3 A4 A5  68  C  L  DATA(L bytes, each +33H)  CS  16

- The FE bytes are the wake-up preamble a master sends before a frame (clause 4.2); a receiver
  skips them, and any other byte before the first 68H.
- The address is 12 decimal digits, BCD, lowest byte first (A0 holds the last two digits). AAH in
  a byte is a wildcard (clause 4.1.2 "地址域": the high bytes may be abbreviated with AAH); the
  all-AAH address reaches the one meter of a point-to-point line, e.g. to read its address
  (control 13H). 99..99 is the broadcast address of commands that get no reply (time setting).
- Control code C: D7 direction (1 = reply from the meter), D6 abnormal reply, D5 follow-up
  frame, D4..D0 function (11H read data, 13H read address).
- Every data byte is sent +33H (mod 256) and received -33H.
- CS is the sum mod 256 of every byte from the first 68H to the last data byte.
- A read request carries the data identifier DI0 DI1 DI2 DI3 (lowest byte first); a normal
  reply (91H, or B1H with follow-up frames) echoes it followed by the value, an abnormal reply
  (D1H) carries one error byte (ERR, clause 7.1 table "错误信息字").

Values are BCD, lowest byte first. The formats and units of the data identifiers read here
follow DL/T 645-2007 Appendix A, tables A.1 (energy), A.2 (maximum demand) and A.3
(variables); where the standard marks the top bit of a value as its sign (currents, powers,
power factor, combined energy) the format says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

START = 0x68
END = 0x16
PREAMBLE = b"\xfe\xfe\xfe\xfe"
WILDCARD = 0xAA
MAX_DATA = 200  # clause 4.1.5: L is at most 200 for a read reply
ADDRESS_DIGITS = 12
ALL_AA = "AAAAAAAAAAAA"

_ADDRESS = re.compile(r"^(?:AA)*[0-9]*\Z")


class Control(IntEnum):
    """Control codes (clause 4.1.3) of the functions this gateway uses."""

    READ_DATA = 0x11
    READ_ADDRESS = 0x13
    REPLY_DATA = 0x91
    REPLY_DATA_MORE = 0xB1  # normal reply, follow-up frames exist (not requested here)
    REPLY_DATA_ERROR = 0xD1
    REPLY_ADDRESS = 0x93


# The abnormal reply's error byte (clause 7.1, "错误信息字 ERR"), bit -> name.
ERROR_BITS = (
    (0x01, "other"),
    (0x02, "no_data"),  # no requested data: the meter does not have this identifier
    (0x04, "unauthorized"),  # password error or not authorised
    (0x08, "rate_unchangeable"),
    (0x10, "too_many_year_zones"),
    (0x20, "too_many_day_periods"),
    (0x40, "too_many_tariffs"),
)


class FrameError(ValueError):
    """A delimited frame that cannot be taken: ``kind`` says why (``checksum``)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Frame:
    address: str  # 12 characters, highest digits first; "AA" pairs for wildcard bytes
    control: int
    data: bytes  # already -33H


def error_names(err: int) -> list[str]:
    names = [name for bit, name in ERROR_BITS if err & bit]
    return names or ["unspecified"]


def check_address(text: str) -> str:
    """A 12-character meter address: decimal digits, optionally led by AA wildcard pairs."""
    text = text.upper()
    if len(text) != ADDRESS_DIGITS or not _ADDRESS.match(text):
        raise ValueError(
            "a DL/T 645 address is 12 decimal digits, high-order bytes may be AA wildcards"
            f" (e.g. 000012345678 or AAAAAA345678), not {text!r}"
        )
    return text


def encode_address(address: str) -> bytes:
    """``"123456789012"`` -> ``12 90 78 56 34 12``: BCD pairs, lowest pair first."""
    address = check_address(address)
    return bytes(int(address[i : i + 2], 16) for i in range(10, -2, -2))


def decode_address(raw: bytes) -> str:
    return "".join(f"{b:02X}" for b in reversed(raw))


def address_matches(pattern: str, address: str) -> bool:
    """True when ``address`` is ``pattern`` with its AA wildcard bytes filled in."""
    return all(p in ("AA", a) for p, a in zip(_pairs(pattern), _pairs(address), strict=True))


def _pairs(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def encode_frame(address: str, control: int, data: bytes = b"", *, preamble: bool = True) -> bytes:
    if len(data) > MAX_DATA:
        raise ValueError(f"a frame carries at most {MAX_DATA} data bytes, not {len(data)}")
    body = bytes(
        [START, *encode_address(address), START, control, len(data)]
        + [(b + 0x33) & 0xFF for b in data]
    )
    return (PREAMBLE if preamble else b"") + body + bytes([checksum(body), END])


def encode_di(di: str) -> bytes:
    """``"00010100"`` (DI3 DI2 DI1 DI0, as the standard's tables print it) -> DI0..DI3 bytes."""
    return bytes.fromhex(di)[::-1]


def read_request(address: str, di: str, *, preamble: bool = True) -> bytes:
    return encode_frame(address, Control.READ_DATA, encode_di(di), preamble=preamble)


def read_address_request(*, preamble: bool = True) -> bytes:
    return encode_frame(ALL_AA, Control.READ_ADDRESS, preamble=preamble)


class FrameReader:
    """Takes bytes as they arrive and returns whole frames.

    Bytes before a 68H (the FE preamble, line noise) are skipped. A candidate whose second 68H
    or closing 16H is not where its length puts it was noise, and the search goes on from the
    next byte. A delimited frame whose checksum is wrong raises ``FrameError`` and is
    discarded whole, so the next frame can still be found.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    def next_frame(self) -> Frame | None:
        buf = self._buf
        while True:
            start = buf.find(START)
            if start < 0:
                buf.clear()
                return None
            del buf[:start]
            if len(buf) < 10:
                return None
            if buf[7] != START:  # a stray 68H, not a frame head
                del buf[:1]
                continue
            length = buf[9]
            if length > MAX_DATA:
                del buf[:1]
                continue
            total = 12 + length
            if len(buf) < total:
                return None
            if buf[total - 1] != END:  # a 68H of noise that looked like a head: resync
                del buf[:1]
                continue
            frame, body = bytes(buf[:total]), bytes(buf[: 10 + length])
            del buf[:total]
            if checksum(body) != frame[-2]:
                raise FrameError(
                    "checksum", f"checksum {frame[-2]:02X}H, the bytes sum to {checksum(body):02X}H"
                )
            return Frame(
                decode_address(frame[1:7]),
                frame[8],
                bytes((b - 0x33) & 0xFF for b in frame[10 : 10 + length]),
            )


# --- data identifiers and their formats (Appendix A) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class DataFormat:
    """A BCD value of ``size`` bytes with ``decimals`` digits after the point."""

    name: str
    size: int  # bytes of the value itself
    decimals: int
    unit: str
    cumulative: bool = False
    signed: bool = False  # the top bit of the highest byte is the sign (1: negative)
    reply_size: int = 0  # bytes of the whole reply data after the DI (a demand adds its time)

    @property
    def rollover(self) -> float | None:
        """What an unsigned register would read one step past its top (1000000.00 kWh for
        XXXXXX.XX, whose top is 999999.99): it reads 0 again instead. None when signed."""
        if self.signed:
            return None
        return float(10 ** (self.size * 2) / 10**self.decimals)


_ENERGY_KINDS = {
    0x00: ("combined active energy", "kWh", True),
    0x01: ("forward active energy", "kWh", False),
    0x02: ("reverse active energy", "kWh", False),
    0x03: ("combined reactive energy 1", "kvarh", True),
    0x04: ("combined reactive energy 2", "kvarh", True),
    0x05: ("quadrant I reactive energy", "kvarh", False),
    0x06: ("quadrant II reactive energy", "kvarh", False),
    0x07: ("quadrant III reactive energy", "kvarh", False),
    0x08: ("quadrant IV reactive energy", "kvarh", False),
    0x09: ("forward apparent energy", "kVAh", False),
    0x0A: ("reverse apparent energy", "kVAh", False),
}
_DEMAND_UNITS = {0x01: "kW", 0x02: "kW", 0x03: "kvar", 0x04: "kvar", 0x09: "kVA", 0x0A: "kVA"}
_PHASES = {0x00: "total", 0x01: "phase A", 0x02: "phase B", 0x03: "phase C"}
# Table A.3: DI3=02, DI2 -> (quantity, bytes, decimals, unit, signed, DI1 values allowed).
_VARIABLES: dict[int, tuple[str, int, int, str, bool, tuple[int, ...]]] = {
    0x01: ("voltage", 2, 1, "V", False, (1, 2, 3)),
    0x02: ("current", 3, 3, "A", True, (1, 2, 3)),
    0x03: ("active power", 3, 4, "kW", True, (0, 1, 2, 3)),
    0x04: ("reactive power", 3, 4, "kvar", True, (0, 1, 2, 3)),
    0x05: ("apparent power", 3, 4, "kVA", True, (0, 1, 2, 3)),
    0x06: ("power factor", 2, 3, "1", True, (0, 1, 2, 3)),
}
_OTHER_VARIABLES = {
    "02800001": DataFormat("neutral current", 3, 3, "A", signed=True),
    "02800002": DataFormat("grid frequency", 2, 2, "Hz"),
    "02800004": DataFormat("present active demand", 3, 4, "kW", signed=True),
    "02800005": DataFormat("present reactive demand", 3, 4, "kvar", signed=True),
}


def data_format(di: str) -> DataFormat:
    """The format of data identifier ``di`` (8 hex digits DI3 DI2 DI1 DI0), or ValueError.

    Energy (table A.1): DI3=00, DI2 the quantity, DI1 00 total or 01..3F tariff, DI0 00 the
    present value or 01..0C a past settlement day; XXXXXX.XX, the combined ones signed.
    Maximum demand (table A.2): DI3=01, same DI1/DI0, XX.XXXX and its time YYMMDDhhmm.
    Variables (table A.3): DI3=02, voltages XXX.X V, currents XXX.XXX A, powers XX.XXXX,
    power factor X.XXX. Data blocks (DI1 or DI0 = FF) are not read: one value per request.
    """
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", di):
        raise ValueError(f"a data identifier is 8 hex digits DI3 DI2 DI1 DI0, not {di!r}")
    di = di.upper()
    di3, di2, di1, di0 = bytes.fromhex(di)
    if di3 == 0x00 and di2 in _ENERGY_KINDS and di1 <= 0x3F and di0 <= 0x0C:
        name, unit, signed = _ENERGY_KINDS[di2]
        return DataFormat(_qualified(name, di1, di0), 4, 2, unit, cumulative=True, signed=signed)
    if di3 == 0x01 and di2 in _DEMAND_UNITS and di1 <= 0x3F and di0 <= 0x0C:
        name = "maximum " + _ENERGY_KINDS[di2][0].replace("energy", "demand")
        unit = _DEMAND_UNITS[di2]
        return DataFormat(_qualified(name, di1, di0), 3, 4, unit, reply_size=8)
    if di3 == 0x02 and di2 in _VARIABLES and di0 == 0x00:
        quantity, size, decimals, unit, signed, phases = _VARIABLES[di2]
        if di1 in phases:
            return DataFormat(f"{_PHASES[di1]} {quantity}", size, decimals, unit, signed=signed)
    if di in _OTHER_VARIABLES:
        return _OTHER_VARIABLES[di]
    raise ValueError(
        f"data identifier {di} is not one this gateway decodes (energy 00xxxxxx, maximum"
        " demand 01xxxxxx, voltage/current/power/power factor 0201..0206, 028000xx;"
        " no data blocks)"
    )


def _qualified(name: str, di1: int, di0: int) -> str:
    tariff = "total" if di1 == 0 else f"tariff {di1}"
    when = "" if di0 == 0 else f", settlement day -{di0}"
    return f"{name} {tariff}{when}"


class BadValueError(ValueError):
    """Reply data that is not a value of its format (a nibble above 9, a short reply)."""


def decode_value(fmt: DataFormat, raw: bytes) -> float:
    """The value of ``raw`` (the reply data after the DI, lowest byte first)."""
    if len(raw) < max(fmt.size, fmt.reply_size):
        raise BadValueError(f"{fmt.name}: {len(raw)} data bytes, the format has {fmt.size}")
    value_bytes = bytearray(raw[: fmt.size])
    negative = False
    if fmt.signed:
        negative = bool(value_bytes[-1] & 0x80)
        value_bytes[-1] &= 0x7F
    digits = "".join(f"{b:02X}" for b in reversed(value_bytes))
    if not digits.isdigit():
        raise BadValueError(f"{fmt.name}: {digits} is not BCD")
    value = float(int(digits) / 10**fmt.decimals)
    return -value if negative else value
