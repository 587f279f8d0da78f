"""The stored intervals of a flush come back as one ``bytea`` of big-endian values per column
(``store.windows.interval_columns``), read in place; a column of another length than the count
(a NULL the aggregate skipped, a value cut off) is refused rather than read misaligned."""

from __future__ import annotations

import struct
from typing import Any

import psycopg
import pytest

from store.windows import interval_columns


def _row(values: list[tuple[int, int, int, float, int]]) -> tuple[Any, ...]:
    return (
        b"".join(struct.pack(">q", v[0]) for v in values),
        b"".join(struct.pack(">q", v[1]) for v in values),
        b"".join(struct.pack(">q", v[2]) for v in values),
        b"".join(struct.pack(">d", v[3]) for v in values),
        b"".join(struct.pack(">i", v[4]) for v in values),
        len(values),
    )


def test_columns_are_read_as_the_database_packed_them() -> None:
    group, start, end, quantity, flags = interval_columns(
        _row([(0, 1000, 2000, 1.5, 0), (1, 2000, 3000, 2.25, -7)])
    )
    assert group.tolist() == [0, 1]
    assert (start.tolist(), end.tolist()) == ([1000, 2000], [2000, 3000])
    assert quantity.tolist() == [1.5, 2.25]
    assert flags.tolist() == [0, -7]
    assert [len(c) for c in interval_columns((None, None, None, None, None, 0))] == [0] * 5


def test_a_column_of_another_length_is_refused() -> None:
    good = _row([(0, 1000, 2000, 1.5, 0), (1, 2000, 3000, 2.25, 7)])
    for bad in (
        (*good[:3], good[3][:8], *good[4:]),  # a quantity skipped (NULL)
        (*good[:4], good[4][:-1], good[5]),  # cut off
        (None, *good[1:]),
    ):
        with pytest.raises(ValueError, match="unequal length"):
            interval_columns(bad)


@pytest.mark.integration
def test_the_database_packs_big_endian_columns_of_equal_length(
    db: psycopg.Connection[Any],
) -> None:
    # The server's int8send/float8send/int4send are the layout read above.
    with db.cursor(binary=True) as cur:
        row = cur.execute(
            "SELECT string_agg(int8send(g), ''), string_agg(int8send(s), ''), "
            "string_agg(int8send(e), ''), string_agg(float8send(q), ''), "
            "string_agg(int4send(f), ''), count(*) FROM (VALUES (0::bigint, 1000::bigint, "
            "2000::bigint, 1.5::float8, 0), (3, -5, 7, 1e-300, -2147483648)) AS v(g, s, e, q, f)"
        ).fetchone()
    assert row is not None
    group, start, end, quantity, flags = interval_columns(row)
    assert (group.tolist(), start.tolist(), end.tolist()) == ([0, 3], [1000, -5], [2000, 7])
    assert quantity.tolist() == [1.5, 1e-300]
    assert flags.tolist() == [0, -2147483648]
