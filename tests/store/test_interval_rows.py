"""The binary COPY of a flush's stored intervals, read in place (``store.windows.interval_rows``):
rows of five fields of fixed length; anything else (a NULL, a field of another size, a cut-off
stream) is refused rather than read at the wrong offsets."""

from __future__ import annotations

import struct

import pytest

from store.windows import interval_rows

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"


def _row(group: int, start: int, end: int, quantity: float, flags: int) -> bytes:
    return struct.pack(">hiqiqiqidii", 5, 8, group, 8, start, 8, end, 8, quantity, 4, flags)


def test_rows_of_five_fixed_fields_are_read_as_they_are() -> None:
    data = HEADER + _row(0, 1000, 2000, 1.5, 0) + _row(1, 2000, 3000, 2.25, 7) + TRAILER
    rows = interval_rows(data)
    assert rows["group"].tolist() == [0, 1]
    assert rows["end"].tolist() == [2000, 3000]
    assert rows["quantity"].tolist() == [1.5, 2.25]
    assert rows["flags"].tolist() == [0, 7]
    assert interval_rows(HEADER + TRAILER).shape == (0,)


def test_a_null_or_a_field_of_another_size_is_refused() -> None:
    good = _row(0, 1000, 2000, 1.5, 0)
    # flags as a NULL (length -1, no bytes) and four padding bytes to keep the row size
    null_flags = good[:-8] + struct.pack(">i", -1) + b"\x00\x00\x00\x00"
    short_group = struct.pack(">hi", 5, 4) + good[6:]  # a 4-byte group
    for bad in (null_flags, short_group):
        with pytest.raises(ValueError, match="binary COPY layout"):
            interval_rows(HEADER + good + bad + TRAILER)
    with pytest.raises(ValueError, match="binary COPY layout"):
        interval_rows(HEADER + good[:-1] + TRAILER)  # cut off
