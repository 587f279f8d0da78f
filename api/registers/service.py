"""Register reads and writes over a ``RegisterSpec``: create, replace (archive and restore
are a status change), one record, a page of records, every record for an export, and the
all-or-nothing import of a sheet. Each write takes the record's row lock and appends its audit
record (``api.audit.record``) in the same transaction; a replacement that changes nothing
writes nothing. ``tenant`` is the caller's enterprise (None: park-wide key), see ``tenancy``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg import errors as errors_
from psycopg.rows import dict_row
from pydantic import BaseModel, Field, ValidationError

from api import audit
from api.errors import ApiError
from api.keys import Principal
from api.live import LiveEvent
from api.registers.spec import RecordStatus, RegisterSpec, SystemColumns
from api.registers.tenancy import TENANT_FILTER, Owner

EXPORT_LIMIT = 10_000


def _values(content: BaseModel) -> dict[str, Any]:
    """The content as column values (enums as their text)."""
    dumped = content.model_dump(mode="python")
    return {k: v.value if isinstance(v, Enum) else v for k, v in dumped.items()}


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}


async def _rows(
    conn: AsyncConnection[Any], query: sql.Composed, params: Any
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


def _where(extra: str = "") -> sql.SQL:
    return sql.SQL(TENANT_FILTER + extra)


async def get(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    *,
    record_id: int,
    tenant: str | None,
    lock: bool = False,
) -> dict[str, Any] | None:
    query = sql.SQL("SELECT * FROM {} r WHERE {} AND r.record_id = %(id)s{}").format(
        sql.Identifier(spec.table), _where(), sql.SQL(" FOR UPDATE" if lock else "")
    )
    found = await _rows(conn, query, {"tenant": tenant, "id": record_id})
    return found[0] if found else None


async def list_records(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    *,
    tenant: str | None,
    status: RecordStatus | None = None,
    park_id: str | None = None,
    enterprise_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page, newest first, and the cursor (a record id) of the next page."""
    query = sql.SQL("SELECT * FROM {} r WHERE {} ORDER BY r.record_id DESC LIMIT %(limit)s").format(
        sql.Identifier(spec.table),
        _where(
            " AND (%(status)s::text IS NULL OR r.status = %(status)s)"
            " AND (%(park)s::text IS NULL OR r.park_id = %(park)s)"
            " AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)"
            " AND (%(after)s::bigint IS NULL OR r.record_id < %(after)s)"
        ),
    )
    rows = await _rows(
        conn,
        query,
        {
            "tenant": tenant,
            "status": status.value if status else None,
            "park": park_id,
            "enterprise": enterprise_id,
            "after": after,
            "limit": limit + 1,
        },
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["record_id"] if more else None


async def export_rows(
    conn: AsyncConnection[Any], spec: RegisterSpec, *, tenant: str | None
) -> list[dict[str, Any]]:
    """Every record the caller sees, oldest first (a file reads top down); 413 beyond
    ``EXPORT_LIMIT``."""
    query = sql.SQL("SELECT * FROM {} r WHERE {} ORDER BY r.record_id LIMIT %(limit)s").format(
        sql.Identifier(spec.table), _where()
    )
    rows = await _rows(conn, query, {"tenant": tenant, "limit": EXPORT_LIMIT + 1})
    if len(rows) > EXPORT_LIMIT:
        raise ApiError(413, f"more than {EXPORT_LIMIT} records: filter the list instead")
    return rows


async def create(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    *,
    owner: Owner,
    content: BaseModel,
    actor: str,
    tenant: str | None,
    status: RecordStatus = RecordStatus.ACTIVE,
    events: list[LiveEvent] | None = None,
) -> dict[str, Any]:
    """A new record, checked and followed up by the register's ``rules`` in its transaction."""
    values = _values(content)
    row = {
        "park_id": owner.park_id,
        "enterprise_id": owner.enterprise_id,
        "status": status.value,
        **values,
        "created_by": actor,
        "updated_by": actor,
    }
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(spec.table),
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(map(sql.Placeholder, row)),
    )
    async with conn.transaction():
        await spec.rules.check(conn, owner=owner, content=content, tenant=tenant, current=None)
        [created] = await _rows(conn, query, row)
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity=spec.name,
            entity_id=str(created["record_id"]),
            before=None,
            after=_json({k: row[k] for k in row if k not in ("created_by", "updated_by")}),
        )
        created = await spec.rules.after(
            conn, row=created, before=None, actor=actor, events=_sink(events)
        )
    return created


def _sink(events: list[LiveEvent] | None) -> list[LiveEvent]:
    return [] if events is None else events


async def replace(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    *,
    record_id: int,
    tenant: str | None,
    content: BaseModel,
    status: RecordStatus,
    actor: str,
    events: list[LiveEvent] | None = None,
) -> tuple[dict[str, Any], bool] | None:
    """Replace the record's content and status: (the record, whether anything changed). The
    audit record holds the fields that changed, before and after; the register's ``rules``
    check the write and follow it up in its transaction. None: no such record for this
    caller."""
    async with conn.transaction():
        current = await get(conn, spec, record_id=record_id, tenant=tenant, lock=True)
        if current is None:
            return None
        wanted = {"status": status.value, **_values(content)}
        changed = {k: v for k, v in wanted.items() if current[k] != v}
        if not changed:
            return current, False
        owner = Owner(current["park_id"], current["enterprise_id"])
        await spec.rules.check(conn, owner=owner, content=content, tenant=tenant, current=current)
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changed
        )
        query = sql.SQL(
            "UPDATE {} SET {}, updated_at = now(), updated_by = %(actor)s"
            " WHERE record_id = %(id)s RETURNING *"
        ).format(sql.Identifier(spec.table), assignments)
        [updated] = await _rows(conn, query, {**changed, "actor": actor, "id": record_id})
        action = "update"
        if set(changed) == {"status"}:
            action = "archive" if status is RecordStatus.ARCHIVED else "restore"
        await audit.record(
            conn,
            actor=actor,
            action=action,
            entity=spec.name,
            entity_id=str(record_id),
            before=_json({k: current[k] for k in changed}),
            after=_json(changed),
        )
        updated = await spec.rules.after(
            conn, row=updated, before=current, actor=actor, events=_sink(events)
        )
    return updated, True


class RowResult(BaseModel):
    row: int = Field(description="The row's number in the sheet")
    outcome: str = Field(description="created, updated, unchanged, valid or rejected")
    record_id: int | None = None
    errors: list[str] = Field(default_factory=list)


class _Rejected(Exception):  # noqa: N818 - rolls the import's transaction back
    pass


# How an imported row is stored: (conn, spec, who, owner, system columns (``spec.head``),
# content (``spec.content``), the current record or None for a new one, the live events to
# publish after the commit) -> (outcome, record id). Both models are validated and the owner
# (``spec.rules.owner``) and the current record checked before the writer is called. The
# outcome is "created", "updated" or "unchanged"; an ``ApiError`` rejects the row. A register
# whose records change only through their own service (document versions, decided screenings,
# a measure's transitions, the append-only calibration log) passes its own writer; the others
# use ``write_record`` (create, or replace content and status).
RowWriter = Callable[
    [
        AsyncConnection[Any],
        RegisterSpec,
        Principal,
        Owner,
        SystemColumns[Any],
        BaseModel,
        dict[str, Any] | None,
        list[LiveEvent],
    ],
    Awaitable[tuple[str, int]],
]


def content_of(spec: RegisterSpec, row: dict[str, Any]) -> BaseModel:
    """A stored record's content as the register's content model (what an import row is
    compared with)."""
    return spec.content.model_validate({k: row[k] for k in spec.content.model_fields})


async def write_record(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    who: Principal,
    owner: Owner,
    head: SystemColumns[RecordStatus],
    content: BaseModel,
    current: dict[str, Any] | None,
    events: list[LiveEvent],
) -> tuple[str, int]:
    """The plain register's row: create it, or replace the record's content and status (the
    register's ``WriteRules`` applied either way); a blank status is active."""
    status = head.status_or(RecordStatus.ACTIVE)
    if current is None:
        row = await create(
            conn,
            spec,
            owner=owner,
            content=content,
            actor=who.actor,
            tenant=who.enterprise_id,
            status=status,
            events=events,
        )
        return "created", int(row["record_id"])
    updated = await replace(
        conn,
        spec,
        record_id=current["record_id"],
        tenant=who.enterprise_id,
        content=content,
        status=status,
        actor=who.actor,
        events=events,
    )
    assert updated is not None
    return ("updated" if updated[1] else "unchanged"), int(current["record_id"])


def owned(owner: Owner) -> dict[str, str]:
    """The owner as a create body names it: its enterprise, or its park for a park-level one."""
    if owner.enterprise_id is not None:
        return {"enterprise_id": owner.enterprise_id}
    return {"park_id": owner.park_id}


# Creates a record from an imported row: (conn, who, owner, content) -> the new record's id.
RecordMaker = Callable[[AsyncConnection[Any], Principal, Owner, Any], Awaitable[int]]


def fixed_records(make: RecordMaker, *, what: str, how: str) -> RowWriter:
    """The writer of a register whose records change only through their own workflow (a
    document's versions and transitions, a decided screening, an attendance): a new row is
    created by ``make`` (the register's own create, with its checks and audit record); a row
    of an existing record must read as stored (``unchanged``), else it is rejected and names
    ``how`` such a record changes. A model ``make`` builds that refuses the row rejects it."""

    async def write(
        conn: AsyncConnection[Any],
        spec: RegisterSpec,
        who: Principal,
        owner: Owner,
        head: SystemColumns[RecordStatus],
        content: BaseModel,
        current: dict[str, Any] | None,
        events: list[LiveEvent],
    ) -> tuple[str, int]:
        status = head.status_or(RecordStatus.ACTIVE)
        if current is None:
            if status is not RecordStatus.ACTIVE:
                raise ApiError(422, f"a new {what} is active: leave status blank or active")
            try:
                return "created", await make(conn, who, owner, content)
            except ValidationError as exc:
                raise ApiError(422, "; ".join(_messages(exc))) from None
        if content_of(spec, current) != content or current["status"] != status.value:
            raise ApiError(422, f"{what} {current['record_id']} is not changed by an import: {how}")
        return "unchanged", int(current["record_id"])

    return write


async def import_rows(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    *,
    who: Principal,
    rows: Sequence[tuple[int, dict[str, Any]]],
    writer: RowWriter = write_record,
    events: list[LiveEvent] | None = None,
) -> tuple[bool, list[RowResult]]:
    """Store every row, or none: (stored, each row's result). Rows are checked and written in
    one transaction; on any rejected row it is rolled back and the other rows read ``valid``.
    ``writer``: the register's row writer (see ``RowWriter``)."""
    results: list[RowResult] = []
    pending: list[LiveEvent] = []  # published only if the whole file is stored
    try:
        async with conn.transaction():
            for number, values in rows:
                result = await _import_one(
                    conn, spec, who=who, number=number, values=values, writer=writer, events=pending
                )
                results.append(result)
            if any(r.outcome == "rejected" for r in results):
                raise _Rejected
    except _Rejected:
        for r in results:
            if r.outcome != "rejected":
                r.outcome, r.record_id = "valid", r.record_id if r.outcome != "created" else None
        return False, results
    _sink(events).extend(pending)
    return True, results


async def _import_one(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    *,
    who: Principal,
    number: int,
    values: dict[str, Any],
    writer: RowWriter,
    events: list[LiveEvent],
) -> RowResult:
    system = {k: values.pop(k) for k in list(values) if k in spec.head.model_fields}
    derived = {k: values.pop(k) for k in list(values) if k in spec.derived}
    errors: list[str] = []
    head: SystemColumns[Any] | None = None
    content: BaseModel | None = None
    try:
        head = spec.head.model_validate(system)
    except ValidationError as exc:
        errors += _messages(exc)
    try:
        content = spec.content.model_validate(values)
    except ValidationError as exc:
        errors += _messages(exc)
    if head is None or content is None:
        return RowResult(row=number, outcome="rejected", errors=errors)
    try:
        async with conn.transaction():  # a savepoint: a refused row leaves the others intact
            owner = await spec.rules.owner(conn, who=who, head=head, content=content)
            current = None
            if head.record_id is None:
                if derived:
                    raise ApiError(422, f"{sorted(derived)}: set by the system, blank in a new row")
            else:
                current = await get(conn, spec, record_id=head.record_id, tenant=who.enterprise_id)
                if current is None:
                    raise ApiError(404, f"no {spec.record_name} {head.record_id}")
                for column, value in derived.items():
                    if current[column] != value:
                        raise ApiError(
                            422,
                            f"{column}: set by the system; the record holds {current[column]!r},"
                            f" not {value!r}",
                        )
                if (current["park_id"], current["enterprise_id"]) != (
                    owner.park_id,
                    owner.enterprise_id,
                ):
                    raise ApiError(422, f"record {head.record_id} belongs to another owner")
            outcome, record_id = await writer(
                conn, spec, who, owner, head, content, current, events
            )
            return RowResult(row=number, outcome=outcome, record_id=record_id)
    except ApiError as exc:
        return RowResult(row=number, outcome="rejected", errors=[exc.detail])
    except (errors_.IntegrityError, errors_.DataError) as exc:
        # The models check what the table checks; this is the backstop, reported per row.
        return RowResult(row=number, outcome="rejected", errors=[str(exc.diag.message_primary)])


def _messages(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]


async def programme(
    conn: AsyncConnection[Any], spec: RegisterSpec, *, tenant: str | None, year: int, limit: int
) -> list[dict[str, Any]]:
    """The active records of ``spec`` (a table with ``programme_year`` and ``planned_start``)
    planned for ``year``, in planned order; 413 beyond ``limit``."""
    query = sql.SQL(
        "SELECT * FROM {} r WHERE {} ORDER BY r.planned_start, r.record_id LIMIT %(limit)s"
    ).format(
        sql.Identifier(spec.table),
        _where(" AND r.status = 'active' AND r.programme_year = %(year)s"),
    )
    rows = await _rows(conn, query, {"tenant": tenant, "year": year, "limit": limit + 1})
    if len(rows) > limit:
        raise ApiError(413, f"more than {limit} audits in {year}: list them instead")
    return rows
