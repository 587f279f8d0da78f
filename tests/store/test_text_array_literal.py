"""``store.staging.text_array_literal``: a text[] parameter as one literal comes back from the
database exactly as the list it was made of, whatever the strings hold."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from store.staging import text_array_literal

pytestmark = pytest.mark.integration

AWKWARD = [
    "M-001",
    'a "quoted" word',
    "back\\slash",
    "{braces},commas",
    "  spaces  ",
    "NULL",
    "",
    "计量器具",
    '{"state": {"last_ts_ms": 1, "note": "x\\\\y"}}',
]


@pytest.mark.parametrize("values", [AWKWARD, [], ["one"]])
def test_a_literal_reads_back_as_the_list(db: psycopg.Connection[Any], values: list[str]) -> None:
    row = db.execute("SELECT %s::text[]", (text_array_literal(values),)).fetchone()
    assert row is not None and row[0] == values
