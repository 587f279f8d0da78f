"""The one staged COPY-then-upsert of the store: rows COPYed into a temporary twin of the table
(created once per session, emptied at commit), then moved into the table by one statement that
decides what a row already there means (kept, or replaced). COPY is the fast way in; the stage
lets the database, not the caller, resolve conflicts, in the caller's one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg


def stage_of(table: str) -> str:
    return f"{table}_stage"


def _create(table: str) -> str:
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {stage_of(table)} "
        f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )


def insert_new(table: str, columns: str, conflict: str) -> str:
    """The statement that keeps rows already there (``ON CONFLICT conflict DO NOTHING``)."""
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage_of(table)} "  # noqa: S608 - names from code
        f"ON CONFLICT {conflict} DO NOTHING"
    )


async def copy_upsert(
    conn: psycopg.AsyncConnection[Any],
    table: str,
    columns: Sequence[str],
    then: str,
    *,
    rows: Sequence[tuple[Any, ...]] = (),
    text: str | None = None,
) -> int:
    """COPY ``rows`` (or ready COPY ``text``) into the stage of ``table`` and run ``then``;
    the rows ``then`` wrote."""
    async with conn.transaction():
        await conn.execute(_create(table))
        async with conn.cursor() as cur:
            async with cur.copy(
                f"COPY {stage_of(table)} ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                if text is not None:
                    await copy.write(text)
                for row in rows:
                    await copy.write_row(row)
            await cur.execute(then)
            return cur.rowcount


def copy_upsert_sync(
    conn: psycopg.Connection[Any],
    table: str,
    columns: str,
    then: str,
    *,
    rows: Sequence[tuple[Any, ...]] = (),
    text: str | None = None,
) -> int:
    """``copy_upsert`` on a synchronous connection (the worker's window thread, recompute)."""
    with conn.transaction():
        conn.execute(_create(table))
        with conn.cursor() as cur:
            with cur.copy(f"COPY {stage_of(table)} ({columns}) FROM STDIN") as copy:
                if text is not None:
                    copy.write(text)
                for row in rows:
                    copy.write_row(row)
            cur.execute(then)
            return cur.rowcount


def text_array_literal(values: Sequence[str]) -> str:
    """A ``text[]`` parameter as one literal (``'{"a","b"}'``, cast with ``::text[]``): psycopg
    dumps a Python list element by element, which for thousands of meter ids or states per
    transaction was a visible share of the worker's time."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(quoted) + '"}' if values else "{}"
