"""``/v1/documents``: controlled documents and their versions (clauses 5.2, 7.3).

A version moves only along ``flows.TRANSITIONS`` (409 lists the allowed ones); its file is
uploaded as the raw body and refused unless its sha256 and type are what the version declares.
Enterprise keys see and write their own enterprise's documents only (others 404); the carbon
policy and other park-level documents are the park-wide keys'.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.activity import evidence
from api.body import read_limited
from api.deps import DbDep, require
from api.documents import flows, service
from api.documents.enums import DocumentKind, VersionState
from api.documents.models import (
    DocumentDetail,
    DocumentIn,
    DocumentOut,
    DocumentPage,
    TransitionIn,
    VersionIn,
    VersionOut,
)
from api.documents.spec import SPEC, WRITE
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registers.views import sheet_routes
from api.registry.common import ID_PATTERN

router = APIRouter(prefix="/v1/documents", tags=["documents"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
DocumentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
_READ = problems(401, 403, 404, 422, 503)
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)

sheet_routes(router, "", SPEC, WRITE, what="controlled document")


def version_out(row: dict[str, Any]) -> VersionOut:
    allowed = flows.TRANSITIONS[VersionState(row["state"])]
    return VersionOut.model_validate({**row, "allowed_transitions": allowed})


def _detail(row: dict[str, Any]) -> DocumentDetail:
    versions = [version_out(v) for v in row["versions"]]
    return DocumentDetail.model_validate({**row, "versions": versions})


T = TypeVar("T")


def _found(row: T | None, what: str) -> T:
    if row is None:
        raise ApiError(404, f"no {what}")
    return row


@router.post("", response_model=DocumentDetail, status_code=201, responses=_WRITE)
async def create_document(body: DocumentIn, conn: DbDep, who: Writer) -> DocumentDetail:
    """A new controlled document with its first version (draft). 409 when the park already
    has a document with this ``code``."""
    return _detail(await service.create(conn, who=who, body=body))


@router.get("", response_model=DocumentPage, responses=problems(401, 403, 422, 503))
async def list_documents(
    conn: DbDep,
    who: Reader,
    kind: DocumentKind | None = None,
    enterprise_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    in_force: bool | None = Query(default=None, description="Whether a version is issued"),
    cursor: int | None = Query(default=None, ge=1, le=2**63 - 1, description="`next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> DocumentPage:
    """Documents newest first; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_documents(
        conn,
        tenant=who.enterprise_id,
        kind=kind,
        enterprise_id=enterprise_id,
        in_force=in_force,
        after=cursor,
        limit=limit,
    )
    return DocumentPage(
        items=[DocumentOut.model_validate(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@router.get("/{document_id}", response_model=DocumentDetail, responses=_READ)
async def get_document(document_id: DocumentId, conn: DbDep, who: Reader) -> DocumentDetail:
    """The document and every version, oldest first (withdrawn ones are kept, 7.3)."""
    row = await service.get_document(conn, document_id=document_id, tenant=who.enterprise_id)
    return _detail(_found(row, f"document {document_id}"))


@router.post(
    "/{document_id}/versions", response_model=VersionOut, status_code=201, responses=_WRITE
)
async def add_version(
    document_id: DocumentId, body: VersionIn, conn: DbDep, who: Writer
) -> VersionOut:
    """A new draft version (the change of 7.3); 409 while another is in preparation."""
    row = await service.add_version(
        conn, document_id=document_id, tenant=who.enterprise_id, body=body, actor=who.actor
    )
    return version_out(_found(row, f"document {document_id}"))


@router.put(
    "/{document_id}/versions/{version}/file",
    response_model=VersionOut,
    responses=problems(401, 403, 404, 409, 413, 415, 422, 503),
)
async def put_file(
    document_id: DocumentId, version: Version, request: Request, conn: DbDep, who: Writer
) -> VersionOut:
    """The version's file as the request body with its content type (PDF, PNG, JPEG, CSV,
    XLSX), while the version is a draft. Refused (422) unless its sha256 and type are what the
    version declares (``file_sha256``, ``file_name``); stored once."""
    data = await read_limited(request, evidence.MAX_EVIDENCE_BYTES)
    what = f"version {version} of document {document_id}"
    row = _found(
        await service.get_version(
            conn, document_id=document_id, version=version, tenant=who.enterprise_id
        ),
        what,
    )
    kind = evidence.check(
        file_name=row["file_name"],
        sha256=row["file_sha256"],
        content_type=request.headers.get("content-type", ""),
        data=data,
    )
    stored = await service.store_file(
        conn,
        document_id=document_id,
        version=version,
        tenant=who.enterprise_id,
        content_type=kind.value,
        data=data,
        actor=who.actor,
    )
    return version_out(_found(stored, what))


@router.get(
    "/{document_id}/versions/{version}/file",
    response_class=Response,
    responses={
        200: {
            "description": "The file as stored, with its content type",
            "content": {t: {} for t in ("application/pdf", "image/png", "text/csv")},
        },
        **_READ,
    },
)
async def get_file(document_id: DocumentId, version: Version, conn: DbDep, who: Reader) -> Response:
    """The version's file (404 until it is uploaded)."""
    found = await service.get_file(
        conn, document_id=document_id, version=version, tenant=who.enterprise_id
    )
    content_type, data, name = _found(found, f"file of version {version} of document {document_id}")
    disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return Response(data, media_type=content_type, headers={"content-disposition": disposition})


@router.post(
    "/{document_id}/versions/{version}/transitions", response_model=VersionOut, responses=_WRITE
)
async def transition(
    document_id: DocumentId, version: Version, body: TransitionIn, conn: DbDep, who: Writer
) -> VersionOut:
    """Move the version to ``to``: approved (``approver``, not the author; the file must be
    stored), issued (withdraws the version in force, which names this one in
    ``superseded_by``; a second carbon policy in the park is 409), withdrawn (``reason``; the
    carbon policy in force is replaced, never withdrawn). 409 lists the allowed transitions."""
    request = flows.TransitionRequest(to=body.to, approver=body.approver, reason=body.reason)
    try:
        row = await service.transition(
            conn,
            document_id=document_id,
            version=version,
            tenant=who.enterprise_id,
            request=request,
            actor=who.actor,
        )
    except flows.IllegalTransition as exc:
        raise ApiError(409, str(exc), current=exc.current.value, allowed=exc.allowed) from exc
    except flows.NotReady as exc:
        raise ApiError(409, str(exc), allowed=exc.allowed) from exc
    except flows.FieldsError as exc:
        raise ApiError(422, str(exc)) from exc
    return version_out(_found(row, f"version {version} of document {document_id}"))
