"""Activity record reads and writes. Every write runs in one transaction with its audit record
(clause 7.3): a new record, a correction (a new version; old versions are never changed), a
transition, an evidence file. ``tenant`` is the caller's enterprise (None: park-wide); another
enterprise's record, or a park-level one for an enterprise key, reads as absent (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api import audit
from api.activity import flows
from api.activity.enums import RecordEvent, RecordState
from api.activity.models import ActivityContent, ActivityIn
from api.activity.rules import Owner, check_content
from api.errors import ApiError
from api.keys import Principal

_TENANT = "(%(tenant)s::text IS NULL OR r.enterprise_id = %(tenant)s)"
_VERSION = """SELECT v.*, EXISTS (SELECT 1 FROM activity_evidence e WHERE e.record_id =
  v.record_id AND e.version = v.version) AS evidence_uploaded FROM activity_record_version v"""
_LIST = f"""
SELECT r.* FROM activity_record r
JOIN activity_record_version v ON v.record_id = r.record_id AND v.version = r.version
WHERE {_TENANT}
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(state)s::text IS NULL OR r.state = %(state)s)
  AND (%(category)s::text IS NULL OR v.source_category = %(category)s)
  AND (%(start)s::date IS NULL OR v.period_end >= %(start)s)
  AND (%(end)s::date IS NULL OR v.period_start <= %(end)s)
  AND (%(after)s::bigint IS NULL OR r.record_id < %(after)s)
ORDER BY r.record_id DESC LIMIT %(limit)s
"""  # noqa: S608 - constants only
_ONE = f"SELECT r.* FROM activity_record r WHERE {_TENANT} AND r.record_id = %(id)s"  # noqa: S608


async def _rows(conn: AsyncConnection[Any], query: str, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def owner_of(conn: AsyncConnection[Any], *, who: Principal, body: ActivityIn) -> Owner:
    """Whose record ``body`` is: an enterprise key's own enterprise, or what a park-wide key
    names (an enterprise, or a park for a park-level record). Unknown or another tenant's: 404."""
    enterprise = body.enterprise_id
    if who.enterprise_id is not None:
        if body.park_id is not None:
            raise ApiError(403, "park-level records are entered with a park-wide key")
        enterprise = enterprise or who.enterprise_id
        if enterprise != who.enterprise_id:
            raise ApiError(404, f"no enterprise {enterprise!r}")
    if enterprise is None and body.park_id is None:
        raise ApiError(422, "name enterprise_id, or park_id for a park-level record")
    if enterprise is not None:
        found = await _rows(
            conn,
            "SELECT e.park_id, p.timezone FROM enterprise e JOIN park p USING (park_id)"
            " WHERE e.enterprise_id = %s",
            (enterprise,),
        )
        if not found:
            raise ApiError(404, f"no enterprise {enterprise!r}")
        if body.park_id not in (None, found[0]["park_id"]):
            raise ApiError(422, f"enterprise {enterprise!r} is not in park {body.park_id!r}")
        return Owner(found[0]["park_id"], enterprise, found[0]["timezone"])
    parks = await _rows(conn, "SELECT timezone FROM park WHERE park_id = %s", (body.park_id,))
    if not parks:
        raise ApiError(404, f"no park {body.park_id!r}")
    assert body.park_id is not None
    return Owner(body.park_id, None, parks[0]["timezone"])


async def _insert_version(
    conn: AsyncConnection[Any],
    *,
    record_id: int,
    version: int,
    content: ActivityContent,
    activity: tuple[float, str],
    actor: str,
    reason: str = "",
) -> dict[str, Any]:
    fields = content.model_dump(
        include={
            "period_start",
            "period_end",
            "material",
            "quantity",
            "unit",
            "replaces_meters",
            "document_ref",
            "evidence_file_name",
            "evidence_sha256",
            "note",
        }
    )
    row = {
        **fields,
        "record_id": record_id,
        "version": version,
        "source_category": content.source_category.value,
        "iso_category": content.iso_category.value if content.iso_category else None,
        "carrier": content.carrier.value,
        "activity": activity[0],
        "activity_unit": activity[1],
        "parameters": Jsonb(content.parameters()),
        "entered_by": actor,
        "reason": reason,
    }
    columns = ", ".join(row)
    values = ", ".join(f"%({c})s" for c in row)
    await conn.execute(
        f"INSERT INTO activity_record_version ({columns}) VALUES ({values})",  # noqa: S608
        row,
    )
    return {
        **fields,
        **{k: row[k] for k in ("source_category", "iso_category", "carrier")},
        "activity": activity[0],
        "activity_unit": activity[1],
        "parameters": content.parameters(),
        "version": version,
    }


async def create(conn: AsyncConnection[Any], *, who: Principal, body: ActivityIn) -> dict[str, Any]:
    """A new record in state draft, version 1; returns it as ``get_record`` does."""
    async with conn.transaction():
        record_id = await _create(conn, who=who, body=body)
    found = await get_record(conn, record_id=record_id, tenant=who.enterprise_id)
    assert found is not None
    return found


async def _create(conn: AsyncConnection[Any], *, who: Principal, body: ActivityIn) -> int:
    owner = await owner_of(conn, who=who, body=body)
    activity = await check_content(conn, owner=owner, content=body)
    cur = await conn.execute(
        "INSERT INTO activity_record (park_id, enterprise_id, created_by) VALUES (%s, %s, %s)"
        " RETURNING record_id",
        (owner.park_id, owner.enterprise_id, who.actor),
    )
    record_id = int((await cur.fetchone() or (0,))[0])
    after = await _insert_version(
        conn, record_id=record_id, version=1, content=body, activity=activity, actor=who.actor
    )
    await audit.record(
        conn,
        actor=who.actor,
        action="create",
        entity="activity_record",
        entity_id=str(record_id),
        before=None,
        after={
            "state": RecordState.DRAFT.value,
            "enterprise_id": owner.enterprise_id,
            "park_id": owner.park_id,
            **after,
        },
    )
    return record_id


async def create_many(
    conn: AsyncConnection[Any], *, who: Principal, bodies: Sequence[ActivityIn]
) -> list[int]:
    """All of ``bodies`` as new records in one transaction, or none (the first error raises)."""
    async with conn.transaction():
        return [await _create(conn, who=who, body=body) for body in bodies]


async def check_many(
    conn: AsyncConnection[Any], *, who: Principal, bodies: Sequence[ActivityIn]
) -> list[ApiError | None]:
    """Each body's error (or None), checked as ``create`` would, storing nothing."""
    errors: list[ApiError | None] = []
    for body in bodies:
        try:
            async with conn.transaction(force_rollback=True):
                await _create(conn, who=who, body=body)
            errors.append(None)
        except ApiError as exc:
            errors.append(exc)
    return errors


async def list_records(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    enterprise_id: str | None,
    state: RecordState | None,
    category: str | None,
    start: Any,
    end: Any,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    rows = await _rows(
        conn,
        _LIST,
        {
            "tenant": tenant,
            "enterprise": enterprise_id,
            "state": state.value if state else None,
            "category": category,
            "start": start,
            "end": end,
            "after": after,
            "limit": limit + 1,
        },
    )
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["current"] = await version(conn, record_id=row["record_id"], number=row["version"])
    return rows, rows[-1]["record_id"] if more else None


async def version(conn: AsyncConnection[Any], *, record_id: int, number: int) -> dict[str, Any]:
    [row] = await _rows(
        conn, _VERSION + " WHERE v.record_id = %s AND v.version = %s", (record_id, number)
    )
    return row


async def get_record(
    conn: AsyncConnection[Any],
    *,
    record_id: int,
    tenant: str | None,
    versions: bool = False,
    lock: bool = False,
) -> dict[str, Any] | None:
    """The record with its current version (and every version if ``versions``)."""
    found = await _rows(
        conn, _ONE + (" FOR UPDATE" if lock else ""), {"tenant": tenant, "id": record_id}
    )
    if not found:
        return None
    row = found[0]
    row["current"] = await version(conn, record_id=record_id, number=row["version"])
    if versions:
        row["versions"] = await _rows(
            conn, _VERSION + " WHERE v.record_id = %s ORDER BY v.version", (record_id,)
        )
    return row


async def _owner(conn: AsyncConnection[Any], record: dict[str, Any]) -> Owner:
    [park] = await _rows(conn, "SELECT timezone FROM park WHERE park_id = %s", (record["park_id"],))
    return Owner(record["park_id"], record["enterprise_id"], park["timezone"])


async def correct(
    conn: AsyncConnection[Any],
    *,
    record_id: int,
    who: Principal,
    content: ActivityContent,
    reason: str,
) -> dict[str, Any] | None:
    """A new version with ``content``; the record goes back to draft (``flows``)."""
    async with conn.transaction():
        record = await get_record(conn, record_id=record_id, tenant=who.enterprise_id, lock=True)
        if record is None:
            return None
        previous = RecordState(record["state"])
        target = flows.target(previous, RecordEvent.CORRECT)
        owner = await _owner(conn, record)
        activity = await check_content(conn, owner=owner, content=content)
        number = record["version"] + 1
        after = await _insert_version(
            conn,
            record_id=record_id,
            version=number,
            content=content,
            activity=activity,
            actor=who.actor,
            reason=reason,
        )
        await conn.execute(
            "UPDATE activity_record SET version = %s, state = %s, confirmed_at = NULL,"
            " confirmed_by = NULL, updated_at = now() WHERE record_id = %s",
            (number, target.value, record_id),
        )
        before = {"state": previous.value, **_content(record["current"])}
        await audit.record(
            conn,
            actor=who.actor,
            action="correct",
            entity="activity_record",
            entity_id=str(record_id),
            before=before,
            after={"state": target.value, **after},
            reason=reason,
        )
    return await get_record(conn, record_id=record_id, tenant=who.enterprise_id)


def _content(version_row: dict[str, Any]) -> dict[str, Any]:
    skip = {"record_id", "entered_by", "entered_at", "reason", "evidence_uploaded"}
    return {k: v for k, v in version_row.items() if k not in skip}


async def transition(
    conn: AsyncConnection[Any],
    *,
    record_id: int,
    who: Principal,
    to: RecordState,
    reason: str | None,
) -> dict[str, Any] | None:
    """Confirm or withdraw. Confirming checks the version again (a meter's windows may have
    arrived for its period since it was entered); withdrawing needs a reason."""
    event = flows.EVENT_FOR[to]
    async with conn.transaction():
        record = await get_record(conn, record_id=record_id, tenant=who.enterprise_id, lock=True)
        if record is None:
            return None
        previous = RecordState(record["state"])
        target = flows.target(previous, event)
        if event is RecordEvent.WITHDRAW and not reason:
            raise ApiError(422, "withdrawing a record needs a reason", field="reason")
        if event is RecordEvent.CONFIRM:
            if reason is not None:
                raise ApiError(422, "confirming takes no reason", field="reason")
            current = ActivityContent.model_validate(_as_content(record["current"]))
            await check_content(conn, owner=await _owner(conn, record), content=current)
            await conn.execute(
                "UPDATE activity_record SET state = 'confirmed', confirmed_at = now(),"
                " confirmed_by = %s, updated_at = now() WHERE record_id = %s",
                (who.actor, record_id),
            )
        else:
            await conn.execute(
                "UPDATE activity_record SET state = 'withdrawn', withdrawn_at = now(),"
                " withdrawn_by = %s, withdrawal_reason = %s, updated_at = now()"
                " WHERE record_id = %s",
                (who.actor, reason, record_id),
            )
        await audit.record(
            conn,
            actor=who.actor,
            action=event.value,
            entity="activity_record",
            entity_id=str(record_id),
            before={"state": previous.value, "version": record["version"]},
            after={"state": target.value, "version": record["version"]},
            reason=reason or "",
        )
    return await get_record(conn, record_id=record_id, tenant=who.enterprise_id)


def _as_content(version_row: dict[str, Any]) -> dict[str, Any]:
    """A stored version as the ``ActivityContent`` it was entered as."""
    keep = set(ActivityContent.model_fields)
    content = {k: v for k, v in version_row.items() if k in keep}
    return {**content, **version_row["parameters"]}


async def store_evidence(
    conn: AsyncConnection[Any],
    *,
    record_id: int,
    who: Principal,
    content_type: str,
    data: bytes,
) -> dict[str, Any] | None:
    """Keep the current version's evidence file, already checked by ``evidence.check``."""
    async with conn.transaction():
        record = await get_record(conn, record_id=record_id, tenant=who.enterprise_id, lock=True)
        if record is None:
            return None
        current = record["current"]
        if current["evidence_uploaded"]:
            raise ApiError(409, f"version {record['version']} already has its evidence file")
        await conn.execute(
            "INSERT INTO activity_evidence (record_id, version, content_type, size_bytes,"
            " content, uploaded_by) VALUES (%s, %s, %s, %s, %s, %s)",
            (record_id, record["version"], content_type, len(data), data, who.actor),
        )
        await audit.record(
            conn,
            actor=who.actor,
            action="evidence",
            entity="activity_record",
            entity_id=str(record_id),
            before=None,
            after={
                "version": record["version"],
                "file_name": current["evidence_file_name"],
                "sha256": current["evidence_sha256"],
                "content_type": content_type,
                "size_bytes": len(data),
            },
        )
    return await get_record(conn, record_id=record_id, tenant=who.enterprise_id)
