"""Files a register record declares (an evaluation's evidence, 9.2; an audit's report, 9.3).

The record names the file and its sha256; the upload is accepted only when the bytes are what
the record declares - ``api.activity.evidence.check``, the one evidence check of the platform
(7.3: documented information that can be trusted) - and is kept in ``register_file``, one per
record and kind, with an audit entry. An upload of the bytes already kept changes nothing; a
record that declares another file (replaced) takes the new upload in place of the old one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from pydantic import BaseModel

from api import audit
from api.activity import evidence
from api.activity.enums import EvidenceType
from api.errors import ApiError

MAX_BYTES = evidence.MAX_EVIDENCE_BYTES
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            kind.value: {"schema": {"type": "string", "format": "binary"}} for kind in EvidenceType
        },
        "description": "The file as uploaded, with the content type it was uploaded as",
    }
}


class FileOut(BaseModel):
    record_id: int
    kind: str
    file_name: str
    sha256: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime
    uploaded_by: str


async def body(request: Request) -> bytes:
    """The request body, 413 beyond ``MAX_BYTES``."""
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BYTES:
            raise ApiError(413, f"the file is larger than {MAX_BYTES} bytes")
    return data


_SELECT = (
    "SELECT record_id, kind, file_name, sha256, content_type, size_bytes, uploaded_at,"
    " uploaded_by{content} FROM register_file WHERE register = %s AND record_id = %s AND kind = %s"
)


async def stored(
    conn: AsyncConnection[Any], *, register: str, record_id: int, kind: str, content: bool = False
) -> dict[str, Any] | None:
    """The file kept for the record (with its bytes if ``content``), or None."""
    query = _SELECT.format(content=", content" if content else "")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, (register, record_id, kind))
        return await cur.fetchone()


async def keep(
    conn: AsyncConnection[Any],
    *,
    register: str,
    record: dict[str, Any],
    kind: str,
    file_name: str | None,
    sha256: str | None,
    content_type: str,
    data: bytes,
    actor: str,
) -> dict[str, Any]:
    """Check ``data`` against the record's declared file and keep it: the file's row. 409 when
    the record declares no file; 415/422 from the evidence check. Call inside the transaction
    that holds the record's row lock."""
    if file_name is None or sha256 is None:
        raise ApiError(409, f"the record declares no {kind} file (its file name and sha256)")
    kind_of_file = evidence.check(
        file_name=file_name, sha256=sha256, content_type=content_type, data=data
    )
    record_id = record["record_id"]
    before = await stored(conn, register=register, record_id=record_id, kind=kind)
    if before is not None and before["sha256"] == sha256 and before["file_name"] == file_name:
        return before
    row = {
        "register": register,
        "record_id": record_id,
        "kind": kind,
        "file_name": file_name,
        "sha256": sha256,
        "content_type": kind_of_file.value,
        "size_bytes": len(data),
        "content": data,
        "uploaded_by": actor,
    }
    await conn.execute(
        "INSERT INTO register_file (register, record_id, kind, file_name, sha256, content_type,"
        " size_bytes, content, uploaded_by) VALUES (%(register)s, %(record_id)s, %(kind)s,"
        " %(file_name)s, %(sha256)s, %(content_type)s, %(size_bytes)s, %(content)s,"
        " %(uploaded_by)s) ON CONFLICT (register, record_id, kind) DO UPDATE SET"
        " file_name = EXCLUDED.file_name, sha256 = EXCLUDED.sha256,"
        " content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes,"
        " content = EXCLUDED.content, uploaded_at = now(), uploaded_by = EXCLUDED.uploaded_by",
        row,
    )
    summary = {k: v for k, v in row.items() if k not in ("content", "register", "record_id")}
    await audit.record(
        conn,
        actor=actor,
        action=f"upload_{kind}",
        entity=register,
        entity_id=str(record_id),
        before=None
        if before is None
        else {"file_name": before["file_name"], "sha256": before["sha256"]},
        after=summary,
    )
    found = await stored(conn, register=register, record_id=record_id, kind=kind)
    assert found is not None
    return found


def file_response(kept: dict[str, Any]) -> Response:
    """A kept file (``stored(..., content=True)``) as the response, named as declared."""
    return Response(
        bytes(kept["content"]),
        media_type=kept["content_type"],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(kept['file_name'])}",
            "X-Content-SHA256": kept["sha256"],
        },
    )
