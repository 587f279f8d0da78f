"""IEC 60870-5-104 framing: APCI (I, S and U formats) and the ASDUs of metering. Pure, no I/O.

APCI (IEC 60870-5-104 clause 5): start 68H, length of the rest (4..253), four control octets.
I format: bit 0 of octet 1 is 0, send sequence N(S) in octets 1-2 and receive sequence N(R) in
octets 3-4, each shifted left by one and counted modulo 32768. S format: octet 1 = 01H, N(R)
in octets 3-4. U format: octet 1 = 03H plus one function bit (STARTDT, STOPDT, TESTFR, act or
con). ASDU (IEC 60870-5-101 clause 7 with the 104 profile, 104 clause 9): type id, variable
structure qualifier (SQ bit 7, number of objects), cause of transmission (2 octets: cause,
P/N bit 6, test bit 7; originator address), common address (2 octets), then information
objects with 3-octet addresses; with SQ=1 one address and consecutive elements.

Decoded here: measured values M_ME_NA_1 (9, normalised), M_ME_NB_1 (11, scaled), M_ME_NC_1
(13, short float) and their CP56Time2a-tagged forms M_ME_TD_1 (34), M_ME_TE_1 (35), M_ME_TF_1
(36); integrated totals M_IT_NA_1 (15) and M_IT_TB_1 (37). Encoded: the interrogation
commands C_IC_NA_1 (100) and C_CI_NA_1 (101).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import IntEnum

START = 0x68
MAX_APDU_LENGTH = 253  # octets after the length octet
SEQ_MODULO = 32768


class FrameError(ValueError):
    """Bytes that are not a valid APDU or ASDU; the message says which octet and why."""


class UFunction(IntEnum):
    STARTDT_ACT = 0x07
    STARTDT_CON = 0x0B
    STOPDT_ACT = 0x13
    STOPDT_CON = 0x23
    TESTFR_ACT = 0x43
    TESTFR_CON = 0x83


class TypeId(IntEnum):
    M_ME_NA_1 = 9
    M_ME_NB_1 = 11
    M_ME_NC_1 = 13
    M_IT_NA_1 = 15
    M_ME_TD_1 = 34
    M_ME_TE_1 = 35
    M_ME_TF_1 = 36
    M_IT_TB_1 = 37
    C_IC_NA_1 = 100
    C_CI_NA_1 = 101


class Cause(IntEnum):
    """Causes of transmission (IEC 60870-5-101 7.2.3) a metering client meets."""

    PERIODIC = 1
    BACKGROUND = 2
    SPONTANEOUS = 3
    INITIALISED = 4
    REQUEST = 5
    ACTIVATION = 6
    ACTIVATION_CON = 7
    DEACTIVATION = 8
    DEACTIVATION_CON = 9
    ACTIVATION_TERM = 10
    INTERROGATED = 20  # station interrogation (general)
    COUNTER_INTERROGATED = 37  # general counter request
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_COMMON_ADDRESS = 46
    UNKNOWN_IOA = 47


QOI_STATION = 20  # qualifier of interrogation: station interrogation (global)
QCC_GENERAL_READ = 0x05  # RQT 5 general counter request, FRZ 0 read without freeze or reset


@dataclass(frozen=True, slots=True)
class IFrame:
    send_seq: int
    recv_seq: int
    asdu: bytes


@dataclass(frozen=True, slots=True)
class SFrame:
    recv_seq: int


@dataclass(frozen=True, slots=True)
class UFrame:
    function: UFunction


Apdu = IFrame | SFrame | UFrame


def encode_i(send_seq: int, recv_seq: int, asdu: bytes) -> bytes:
    if len(asdu) > MAX_APDU_LENGTH - 4:
        raise FrameError(f"an ASDU of {len(asdu)} octets does not fit an APDU (249 at most)")
    s, r = (send_seq % SEQ_MODULO) << 1, (recv_seq % SEQ_MODULO) << 1
    return bytes([START, len(asdu) + 4, s & 0xFF, s >> 8, r & 0xFF, r >> 8]) + asdu


def encode_s(recv_seq: int) -> bytes:
    r = (recv_seq % SEQ_MODULO) << 1
    return bytes([START, 4, 0x01, 0x00, r & 0xFF, r >> 8])


def encode_u(function: UFunction) -> bytes:
    return bytes([START, 4, int(function), 0, 0, 0])


def frame_length(head: bytes) -> int:
    """Octets of the whole APDU whose first two octets are ``head``, or FrameError."""
    if head[0] != START:
        raise FrameError(f"an APDU starts with 68H, not {head[0]:02X}H")
    if not 4 <= head[1] <= MAX_APDU_LENGTH:
        raise FrameError(f"APDU length {head[1]} is outside 4..253")
    return head[1] + 2


def decode_apdu(data: bytes) -> Apdu:
    """One whole APDU (start octet to the last octet of its ASDU)."""
    if len(data) < 6 or len(data) != frame_length(data[:2]):
        raise FrameError(f"an APDU of {len(data)} octets does not match its length octet")
    c1, c2, c3, c4 = data[2:6]
    if c1 & 0x01 == 0:
        if len(data) == 6:
            raise FrameError("an I-format APDU without an ASDU")
        return IFrame((c1 | c2 << 8) >> 1, (c3 | c4 << 8) >> 1, data[6:])
    if len(data) != 6:
        raise FrameError("S and U format APDUs carry no ASDU")
    if c1 & 0x03 == 0x01:
        return SFrame((c3 | c4 << 8) >> 1)
    try:
        return UFrame(UFunction(c1))
    except ValueError:
        raise FrameError(f"U-format control octet {c1:02X}H is not one function") from None


# --- CP56Time2a (IEC 60870-5-4 6.8; 101 7.2.6.18) -------------------------------------------


def encode_cp56(when: datetime, *, invalid: bool = False) -> bytes:
    ms = when.second * 1000 + when.microsecond // 1000
    return bytes(
        [
            ms & 0xFF,
            ms >> 8,
            when.minute | (0x80 if invalid else 0),
            when.hour,
            when.day | (when.isoweekday() << 5),
            when.month,
            when.year % 100,
        ]
    )


@dataclass(frozen=True, slots=True)
class Cp56:
    when: datetime
    invalid: bool  # IV: the time tag is not valid
    summer: bool  # SU: summer time


def decode_cp56(raw: bytes, zone: tzinfo) -> Cp56:
    """Seven octets; the device's clock is in ``zone`` (years 00..99 are 2000..2099)."""
    if len(raw) != 7:
        raise FrameError(f"CP56Time2a is 7 octets, not {len(raw)}")
    ms = raw[0] | raw[1] << 8
    minute, hour, day, month, year = (
        raw[2] & 0x3F,
        raw[3] & 0x1F,
        raw[4] & 0x1F,
        raw[5] & 0x0F,
        raw[6] & 0x7F,
    )
    if ms > 59_999 or minute > 59 or hour > 23:
        raise FrameError(f"CP56Time2a {raw.hex()} has a field out of range")
    try:
        base = datetime(2000 + year, month, day, hour, minute, tzinfo=zone)
    except ValueError as exc:
        raise FrameError(f"CP56Time2a {raw.hex()} is no date: {exc}") from None
    return Cp56(base + timedelta(milliseconds=ms), bool(raw[2] & 0x80), bool(raw[3] & 0x80))


# --- ASDUs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InfoObject:
    """One decoded value: a measured value or an integrated total, with its quality."""

    ioa: int
    value: float
    invalid: bool  # IV (or, for a total, IV of its BCR)
    flags: str  # the other quality bits set, e.g. "NT,OV"; "" when none
    time: Cp56 | None
    sequence: int | None = None  # an integrated total's sequence number (0..31)
    carry: bool = False  # CY: the counter overflowed in this period


@dataclass(frozen=True, slots=True)
class Asdu:
    type_id: int
    cause: int
    negative: bool  # P/N: a negative confirmation
    test: bool
    originator: int
    common_address: int
    objects: tuple[InfoObject, ...]


_QDS_FLAGS = ((0x01, "OV"), (0x10, "BL"), (0x20, "SB"), (0x40, "NT"))
_BCR_FLAGS = ((0x40, "CA"),)
# type id -> (element octets before any time tag, decoder of those octets, time tagged)
_TIMED = {TypeId.M_ME_TD_1, TypeId.M_ME_TE_1, TypeId.M_ME_TF_1, TypeId.M_IT_TB_1}
_SIZE = {
    TypeId.M_ME_NA_1: 3, TypeId.M_ME_TD_1: 3,
    TypeId.M_ME_NB_1: 3, TypeId.M_ME_TE_1: 3,
    TypeId.M_ME_NC_1: 5, TypeId.M_ME_TF_1: 5,
    TypeId.M_IT_NA_1: 5, TypeId.M_IT_TB_1: 5,
}  # fmt: skip


def _flags(octet: int, table: tuple[tuple[int, str], ...]) -> str:
    return ",".join(name for bit, name in table if octet & bit)


def _element(type_id: TypeId, ioa: int, raw: bytes, time: Cp56 | None) -> InfoObject:
    if type_id in (TypeId.M_IT_NA_1, TypeId.M_IT_TB_1):
        (count,) = struct.unpack_from("<i", raw)
        status = raw[4]
        return InfoObject(ioa, float(count), bool(status & 0x80), _flags(status, _BCR_FLAGS),
                          time, sequence=status & 0x1F, carry=bool(status & 0x20))  # fmt: skip
    qds = raw[-1]
    if type_id in (TypeId.M_ME_NA_1, TypeId.M_ME_TD_1):
        value = struct.unpack_from("<h", raw)[0] / 32768.0  # NVA: -1 .. 1-2^-15
    elif type_id in (TypeId.M_ME_NB_1, TypeId.M_ME_TE_1):
        value = float(struct.unpack_from("<h", raw)[0])  # SVA
    else:
        value = struct.unpack_from("<f", raw)[0]  # IEEE STD 754 short float
    return InfoObject(ioa, value, bool(qds & 0x80), _flags(qds, _QDS_FLAGS), time)


def decode_asdu(data: bytes, zone: tzinfo) -> Asdu:
    """An ASDU of the 104 profile; types other than the metering ones above decode with no
    objects (the caller counts them), a malformed one raises FrameError."""
    if len(data) < 6:
        raise FrameError(f"an ASDU header is 6 octets, got {len(data)}")
    type_id, vsq, cot, originator = data[0], data[1], data[2], data[3]
    common = data[4] | data[5] << 8
    head = dict(type_id=type_id, cause=cot & 0x3F, negative=bool(cot & 0x40),
                test=bool(cot & 0x80), originator=originator, common_address=common)  # fmt: skip
    try:
        kind = TypeId(type_id)
    except ValueError:
        return Asdu(**head, objects=())  # type: ignore[arg-type]
    if kind not in _SIZE:
        return Asdu(**head, objects=())  # type: ignore[arg-type]
    count, sequence = vsq & 0x7F, bool(vsq & 0x80)
    size = _SIZE[kind] + (7 if kind in _TIMED else 0)
    body = data[6:]
    expected = (3 + count * size) if sequence else count * (3 + size)
    if len(body) != expected:
        raise FrameError(
            f"type {type_id} with {count} objects (SQ={int(sequence)}) needs {expected} octets"
            f" of objects, got {len(body)}"
        )
    objects = []
    at = 0
    base_ioa = 0
    for i in range(count):
        if sequence:
            if i == 0:
                base_ioa = int.from_bytes(body[0:3], "little")
                at = 3
            ioa = base_ioa + i
        else:
            ioa = int.from_bytes(body[at : at + 3], "little")
            at += 3
        raw = body[at : at + _SIZE[kind]]
        time = decode_cp56(body[at + _SIZE[kind] : at + size], zone) if kind in _TIMED else None
        objects.append(_element(kind, ioa, raw, time))
        at += size
    return Asdu(**head, objects=tuple(objects))  # type: ignore[arg-type]


def interrogation(common_address: int, *, cause: Cause = Cause.ACTIVATION) -> bytes:
    """C_IC_NA_1: a station (general) interrogation of ``common_address``."""
    return _command(TypeId.C_IC_NA_1, common_address, QOI_STATION, cause)


def counter_interrogation(common_address: int, *, qcc: int = QCC_GENERAL_READ) -> bytes:
    """C_CI_NA_1: a general counter request, read without freeze or reset by default."""
    return _command(TypeId.C_CI_NA_1, common_address, qcc, Cause.ACTIVATION)


def _command(type_id: TypeId, common_address: int, qualifier: int, cause: Cause) -> bytes:
    if not 1 <= common_address <= 0xFFFE:
        raise FrameError(f"common address {common_address} is outside 1..65534")
    return bytes([type_id, 1, cause, 0, common_address & 0xFF, common_address >> 8, 0, 0, 0,
                  qualifier])  # fmt: skip
