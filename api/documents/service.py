"""Controlled documents: reads, new documents and versions, files, transitions (5.2, 7.3).

Each write locks the document row, so the versions of one document change one at a time, and
writes its audit record in the same transaction. ``tenant`` is the caller's enterprise (None for
park-wide keys); a document the caller may not see reads as absent (None: the route's 404).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from api import audit
from api.documents import flows
from api.documents.enums import DocumentKind, VersionState
from api.documents.models import DocumentIn, VersionIn
from api.errors import ApiError
from api.keys import Principal
from api.registers.tenancy import TENANT_FILTER, owner_of
from api.registry.common import raise_db_error

_ONE = f"SELECT r.* FROM controlled_document r WHERE {TENANT_FILTER} AND r.document_id = %(id)s"  # noqa: S608 - constants only
_LIST = f"""
SELECT r.* FROM controlled_document r
WHERE {TENANT_FILTER}
  AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND (%(in_force)s::boolean IS NULL OR (r.issued_version IS NOT NULL) = %(in_force)s)
  AND (%(after)s::bigint IS NULL OR r.document_id < %(after)s)
ORDER BY r.document_id DESC
LIMIT %(limit)s
"""  # noqa: S608 - constants only; every value is a parameter
_VERSIONS = """
SELECT v.*, EXISTS (SELECT 1 FROM document_file f
                    WHERE f.document_id = v.document_id AND f.version = v.version) AS file_stored
FROM document_version v WHERE v.document_id = %(id)s
  AND (%(version)s::integer IS NULL OR v.version = %(version)s)
ORDER BY v.version
"""
_NEW_DOCUMENT = """
INSERT INTO controlled_document (park_id, enterprise_id, kind, code, title, owner, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING document_id
"""
_NEW_VERSION = """
INSERT INTO document_version (document_id, version, author, change_note, effective_on,
                              review_on, file_name, file_sha256, created_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_OTHER_POLICY = """
SELECT document_id FROM controlled_document
WHERE park_id = %s AND kind = 'carbon_policy' AND issued_version IS NOT NULL
  AND document_id <> %s
"""
_SUPERSEDE = """
UPDATE document_version SET state = 'withdrawn', withdrawn_at = %(at)s, withdrawn_by = %(actor)s,
       withdrawal_reason = %(reason)s, superseded_by = %(new)s
WHERE document_id = %(id)s AND version = %(old)s
"""
_STORE_FILE = """
INSERT INTO document_file (document_id, version, content_type, size_bytes, content, uploaded_by)
VALUES (%s, %s, %s, %s, %s, %s)
"""
_FILE = "SELECT content_type, content FROM document_file WHERE document_id = %s AND version = %s"


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _document(
    conn: AsyncConnection[Any], document_id: int, tenant: str | None, *, lock: bool = False
) -> dict[str, Any] | None:
    query = _ONE + (" FOR UPDATE" if lock else "")
    found = await _rows(conn, query, {"tenant": tenant, "id": document_id})
    return found[0] if found else None


async def _versions(
    conn: AsyncConnection[Any], document_id: int, version: int | None = None
) -> list[dict[str, Any]]:
    return await _rows(conn, _VERSIONS, {"id": document_id, "version": version})


async def list_documents(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    kind: DocumentKind | None = None,
    enterprise_id: str | None = None,
    in_force: bool | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of documents, newest first, and the cursor (a document id) of the next."""
    params = {
        "tenant": tenant,
        "kind": kind.value if kind else None,
        "enterprise": enterprise_id,
        "in_force": in_force,
        "after": after,
        "limit": limit + 1,
    }
    rows = await _rows(conn, _LIST, params)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["document_id"] if more else None


async def get_document(
    conn: AsyncConnection[Any], *, document_id: int, tenant: str | None
) -> dict[str, Any] | None:
    """The document with every version, oldest first."""
    async with conn.transaction():  # one snapshot of the document and its versions
        document = await _document(conn, document_id, tenant)
        if document is None:
            return None
        document["versions"] = await _versions(conn, document_id)
    return document


def _version_values(document_id: int, version: int, body: VersionIn, actor: str) -> tuple[Any, ...]:
    return (
        document_id,
        version,
        body.author,
        body.change_note,
        body.effective_on,
        body.review_on,
        body.file_name,
        body.sha256,
        actor,
    )


async def create(conn: AsyncConnection[Any], *, who: Principal, body: DocumentIn) -> dict[str, Any]:
    """A new document and its first version, a draft; 409 when the park has its code."""
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    if body.kind is DocumentKind.CARBON_POLICY and owner.enterprise_id is not None:
        raise ApiError(
            422, "the carbon policy is the park's (5.2): name park_id, not an enterprise"
        )
    try:
        async with conn.transaction():
            cur = await conn.execute(
                _NEW_DOCUMENT,
                (
                    owner.park_id,
                    owner.enterprise_id,
                    body.kind.value,
                    body.code,
                    body.title,
                    body.owner,
                    who.actor,
                ),
            )
            found = await cur.fetchone()
            assert found is not None
            document_id = int(found[0])
            await conn.execute(_NEW_VERSION, _version_values(document_id, 1, body, who.actor))
            await audit.record(
                conn,
                actor=who.actor,
                action="create",
                entity="document",
                entity_id=str(document_id),
                before=None,
                after=body.model_dump(mode="json"),
            )
    except pg_errors.UniqueViolation as exc:
        raise_db_error(exc, f"a document with code {body.code!r} in park {owner.park_id!r}")
    created = await get_document(conn, document_id=document_id, tenant=None)
    assert created is not None
    return created


async def add_version(
    conn: AsyncConnection[Any], *, document_id: int, tenant: str | None, body: VersionIn, actor: str
) -> dict[str, Any] | None:
    """A new draft version; 409 while another version is still in preparation."""
    async with conn.transaction():
        if await _document(conn, document_id, tenant, lock=True) is None:
            return None
        versions = await _versions(conn, document_id)
        open_ = [v["version"] for v in versions if v["state"] in ("draft", "approved")]
        if open_:
            raise ApiError(
                409,
                f"version {open_[0]} is still in preparation: issue or withdraw it first",
                version=open_[0],
            )
        number = max(v["version"] for v in versions) + 1
        await conn.execute(_NEW_VERSION, _version_values(document_id, number, body, actor))
        await audit.record(
            conn,
            actor=actor,
            action="add_version",
            entity="document",
            entity_id=str(document_id),
            before=None,
            after={"version": number, **body.model_dump(mode="json")},
        )
        [row] = await _versions(conn, document_id, number)
    return row


async def get_version(
    conn: AsyncConnection[Any], *, document_id: int, version: int, tenant: str | None
) -> dict[str, Any] | None:
    if await _document(conn, document_id, tenant) is None:
        return None
    found = await _versions(conn, document_id, version)
    return found[0] if found else None


async def store_file(
    conn: AsyncConnection[Any],
    *,
    document_id: int,
    version: int,
    tenant: str | None,
    content_type: str,
    data: bytes,
    actor: str,
) -> dict[str, Any] | None:
    """Store a draft version's file, checked by the caller against what the version declares;
    once stored it never changes (409 for a second upload or a version past draft)."""
    async with conn.transaction():
        if await _document(conn, document_id, tenant, lock=True) is None:
            return None
        found = await _versions(conn, document_id, version)
        if not found:
            return None
        row = found[0]
        if row["file_stored"]:
            raise ApiError(409, f"the file of version {version} is already stored")
        if row["state"] != VersionState.DRAFT:
            raise ApiError(409, f"version {version} is {row['state']}: its file is fixed")
        await conn.execute(
            _STORE_FILE, (document_id, version, content_type, len(data), data, actor)
        )
        await audit.record(
            conn,
            actor=actor,
            action="store_file",
            entity="document",
            entity_id=str(document_id),
            before=None,
            after={"version": version, "sha256": row["file_sha256"], "size_bytes": len(data)},
        )
    return {**row, "file_stored": True}


async def get_file(
    conn: AsyncConnection[Any], *, document_id: int, version: int, tenant: str | None
) -> tuple[str, bytes, str] | None:
    """(content type, bytes, file name) of a stored file; None when there is none to see."""
    row = await get_version(conn, document_id=document_id, version=version, tenant=tenant)
    if row is None or not row["file_stored"]:
        return None
    cur = await conn.execute(_FILE, (document_id, version))
    found = await cur.fetchone()
    assert found is not None
    return str(found[0]), bytes(found[1]), str(row["file_name"])


async def transition(
    conn: AsyncConnection[Any],
    *,
    document_id: int,
    version: int,
    tenant: str | None,
    request: flows.TransitionRequest,
    actor: str,
) -> dict[str, Any] | None:
    """Apply one transition of ``flows.TRANSITIONS`` with its audit record; issuing withdraws
    the version in force (superseded). None: no such version for this caller."""
    try:
        async with conn.transaction():
            document = await _document(conn, document_id, tenant, lock=True)
            if document is None:
                return None
            found = await _versions(conn, document_id, version)
            if not found:
                return None
            row = found[0]
            other = await (
                await conn.execute(_OTHER_POLICY, (document["park_id"], document_id))
            ).fetchone()
            now = await (await conn.execute("SELECT now()")).fetchone()
            assert now is not None
            kind = DocumentKind(document["kind"])
            facts = flows.VersionFacts(
                state=VersionState(row["state"]),
                kind=kind,
                author=row["author"],
                file_stored=row["file_stored"],
                issued_version=document["issued_version"],
                other_policy=other[0] if other and kind is DocumentKind.CARBON_POLICY else None,
            )
            columns = flows.plan(facts, request, actor=actor, at=now[0])
            issued = document["issued_version"]
            if request.to is VersionState.ISSUED and issued is not None:
                await conn.execute(
                    _SUPERSEDE,
                    {
                        "at": now[0],
                        "actor": actor,
                        "new": version,
                        "id": document_id,
                        "old": issued,
                        "reason": f"superseded by version {version}",
                    },
                )
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in columns
            )
            await conn.execute(
                sql.SQL(
                    "UPDATE document_version SET {} WHERE document_id = {} AND version = {}"
                ).format(assignments, sql.Placeholder("document_id"), sql.Placeholder("version")),
                {**columns, "document_id": document_id, "version": version},
            )
            if request.to is VersionState.ISSUED:
                in_force: int | None = version
            elif facts.state is VersionState.ISSUED:
                in_force = None  # the version in force was withdrawn
            else:
                in_force = issued
            await conn.execute(
                "UPDATE controlled_document SET issued_version = %s, updated_at = now()"
                " WHERE document_id = %s",
                (in_force, document_id),
            )
            await audit.record(
                conn,
                actor=actor,
                action="transition",
                entity="document",
                entity_id=str(document_id),
                before={"version": version, "state": facts.state.value, "issued_version": issued},
                after={
                    "version": version,
                    "state": request.to.value,
                    "issued_version": in_force,
                    "approver": request.approver,
                    "reason": request.reason,
                },
            )
            [updated] = await _versions(conn, document_id, version)
    except pg_errors.UniqueViolation as exc:
        # Another transaction issued a carbon policy in the same park at the same moment.
        raise ApiError(409, "the park has a carbon policy in force already (5.2)") from exc
    return updated
