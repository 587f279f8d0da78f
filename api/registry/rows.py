"""Row-level SQL the registry services share: insert, read one, read a page, update one.

Table and column names come only from the services' constants and are quoted as identifiers
(``psycopg.sql``); every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

Row = dict[str, Any]


def _where(
    filters: Mapping[str, Any], extra: sql.Composable | None
) -> tuple[sql.Composable, list[Any]]:
    """``WHERE col = %s AND ...`` for the filters that are set (None: no filter)."""
    parts: list[sql.Composable] = []
    values: list[Any] = []
    for column, value in filters.items():
        if value is None:
            continue
        parts.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        values.append(value)
    if extra is not None:
        parts.append(extra)
    if not parts:
        return sql.SQL(""), values
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), values


async def insert(conn: AsyncConnection[Any], table: str, row: Mapping[str, Any]) -> Row:
    """Insert ``row`` and return the stored row (defaults and generated columns included)."""
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(sql.Placeholder() * len(row)),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, list(row.values()))
        stored = await cur.fetchone()
    assert stored is not None
    return stored


def _storable(value: object) -> bool:
    """PostgreSQL text cannot hold NUL: such an id or filter matches nothing."""
    return not (isinstance(value, str) and "\x00" in value)


async def one(
    conn: AsyncConnection[Any], table: str, key: str, ident: object, *, lock: bool = False
) -> Row | None:
    """The row whose ``key`` is ``ident``; ``lock`` holds it until the transaction ends."""
    if not _storable(ident):
        return None
    query = sql.SQL("SELECT * FROM {} WHERE {} = %s{}").format(
        sql.Identifier(table), sql.Identifier(key), sql.SQL(" FOR UPDATE" if lock else "")
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, (ident,))
        return await cur.fetchone()


async def page(
    conn: AsyncConnection[Any],
    table: str,
    *,
    filters: Mapping[str, Any],
    order: Sequence[str],
    limit: int,
    offset: int,
    extra: sql.Composable | None = None,
    extra_params: Sequence[Any] = (),
) -> tuple[list[Row], int]:
    """Rows matching ``filters`` (and the ``extra`` condition) in ``order``, and their count."""
    if not all(map(_storable, filters.values())):
        return [], 0
    where, values = _where(filters, extra)
    values += list(extra_params)
    rows_q = sql.SQL("SELECT * FROM {}{} ORDER BY {} LIMIT %s OFFSET %s").format(
        sql.Identifier(table), where, sql.SQL(", ").join(map(sql.Identifier, order))
    )
    count_q = sql.SQL("SELECT count(*) FROM {}{}").format(sql.Identifier(table), where)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(rows_q, [*values, limit, offset])
        rows = await cur.fetchall()
        await cur.execute(count_q, values)
        counted = await cur.fetchone()
    assert counted is not None
    return rows, int(counted["count"])


async def update(
    conn: AsyncConnection[Any], table: str, key: str, ident: object, changes: Mapping[str, Any]
) -> Row:
    """Apply ``changes`` to the row whose ``key`` is ``ident`` and return the row after."""
    query = sql.SQL("UPDATE {} SET {} WHERE {} = %s RETURNING *").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in changes),
        sql.Identifier(key),
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, [*changes.values(), ident])
        stored = await cur.fetchone()
    assert stored is not None
    return stored
