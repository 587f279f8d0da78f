"""Query parameters shared by the API's routes.

An id given as a filter (``meter_id``, ``enterprise_id``, ``site_id``, ``park_id``,
``subject_id`` ...) is checked against the id alphabet of the registry tables' CHECK
constraints (migrations 0001, 0004) before any query runs: a value outside it can name no row,
and answering 422 with the parameter's name tells the caller why instead of an empty page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator, StringConstraints

from contracts.patterns import ID_PATTERN

# pydantic validates ``pattern`` with the Rust regex engine, where ``$`` is the end of the text:
# "E-0001\n" does not match (Python's ``re`` would let that newline through; see
# tests/api/test_id_query_params.py, which checks the engine's behaviour).
ID_ALPHABET = ID_PATTERN

IdText = Annotated[str, StringConstraints(pattern=ID_ALPHABET)]
IdQuery = Annotated[IdText | None, Query(description="An id: 1-64 of A-Z a-z 0-9 _ . : / -")]
ParkQuery = Annotated[
    IdText | None,
    Query(
        description="A park: its enterprises' and its park-wide alerts or tickets, those"
        " about the park and those no enterprise owns (a meter outside the registry)"
    ),
]
IdsQuery = Annotated[
    list[IdText] | None,
    Query(description="Ids, the parameter repeated: each 1-64 of A-Z a-z 0-9 _ . : / -"),
]


def split_commas(value: object) -> object:
    """A list parameter given either way: repeated (``group_by=a&group_by=b``) or as one
    comma-separated value (``group_by=a,b``), or both. Spaces around a name are dropped; an
    empty name is kept, so the enum's validation names it as wrong instead of skipping it."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return value
    return [
        part.strip()
        for item in value
        for part in (item.split(",") if isinstance(item, str) else [item])
    ]


CommaList = BeforeValidator(split_commas)
