"""``/v1/management-reviews``: management reviews (clause 9.5).

``POST`` stores a draft and gathers its inputs from the platform (9.5.1: actions of previous
reviews, context changes, emissions and energy trends, target attainment, nonconformities and
tickets, monitoring, compliance, audits, risks and measures: ``inputs.PROVIDERS``); ``PUT``
replaces a draft's header and outputs (9.5.2), ``POST /{id}/refresh`` gathers its inputs again,
``POST /{id}/close`` closes it for good: a ticket for each nonconformity output, the record
stored with its sha256 and never changed again (409 afterwards). ``GET /{id}`` gives JSON,
``?format=xlsx`` or ``?format=html`` (printable).

Tenancy as for the registers: park-wide keys keep the park's reviews and read every
enterprise's; an enterprise key keeps and sees its own enterprise's only (others: 404).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.deps import DbDep, StateDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.management_reviews import render, service
from api.management_reviews.enums import ReviewFormat, ReviewState
from api.management_reviews.models import ReviewIn, ReviewOut, ReviewPage, ReviewUpdate
from api.registers.views import LimitQuery, OwnerId, RecordIdQuery, owner
from api.registers.xlsx import MEDIA_TYPE as XLSX_TYPE

router = APIRouter(prefix="/v1/management-reviews", tags=["management reviews (9.5)"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
ReviewId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MEDIA_TYPES = {
    ReviewFormat.JSON: "application/json",
    ReviewFormat.XLSX: XLSX_TYPE,
    ReviewFormat.HTML: "text/html; charset=utf-8",
}
_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The review in the requested format",
        "content": {MEDIA_TYPES[f]: {} for f in (ReviewFormat.XLSX, ReviewFormat.HTML)},
    }
}
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)


def _found(review: ReviewOut | None, review_id: int) -> ReviewOut:
    if review is None:
        raise ApiError(404, f"no management review {review_id}")
    return review


@router.post("", status_code=201, response_model=ReviewOut, responses=_WRITE)
async def create_review(body: ReviewIn, conn: DbDep, who: Writer) -> ReviewOut:
    """Store a draft review of the park (``park_id``) or of one enterprise, with its inputs
    gathered now. Outputs may be recorded now or later (``PUT``)."""
    return await service.create(
        conn,
        owner=await owner(conn, who, body),
        header=ReviewUpdate.model_validate(body.model_dump(exclude={"enterprise_id", "park_id"})),
        actor=who.actor,
    )


@router.get("", response_model=ReviewPage, responses=problems(401, 403, 422, 503))
async def list_reviews(
    conn: DbDep,
    who: Reader,
    state: ReviewState | None = None,
    park_id: Annotated[OwnerId | None, Query()] = None,
    enterprise_id: Annotated[OwnerId | None, Query()] = None,
    cursor: RecordIdQuery = None,
    limit: LimitQuery = 100,
) -> ReviewPage:
    """Reviews newest first (without their inputs); an enterprise key sees its own only."""
    rows, next_cursor = await service.list_reviews(
        conn,
        tenant=who.enterprise_id,
        state=state,
        park_id=park_id,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return ReviewPage(
        items=[service.summary(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@router.get(
    "/{review_id}",
    response_model=ReviewOut,
    responses={**_FILES, **problems(401, 403, 404, 422, 503)},
    summary="A management review as JSON, XLSX or printable HTML",
)
async def get_review(
    review_id: ReviewId,
    conn: DbDep,
    who: Reader,
    fmt: Annotated[ReviewFormat, Query(alias="format")] = ReviewFormat.JSON,
) -> Response:
    """The review; a closed one's ``content_sha256`` is the sha256 of the canonical JSON of its
    ``record`` (keys sorted, no spaces, UTF-8)."""
    row = await service.get(conn, review_id=review_id, tenant=who.enterprise_id)
    if row is None:
        raise ApiError(404, f"no management review {review_id}")
    review = service.detail(row)
    if fmt is ReviewFormat.JSON:
        return Response(review.model_dump_json(), media_type=MEDIA_TYPES[fmt])
    if fmt is ReviewFormat.XLSX:
        body = await asyncio.to_thread(render.workbook, review)
    else:
        body = render.page(review).encode()
    disposition = "inline" if fmt is ReviewFormat.HTML else "attachment"
    name = f"management-review-{review_id}.{fmt.value}"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


@router.put("/{review_id}", response_model=ReviewOut, responses=_WRITE)
async def replace_review(
    review_id: ReviewId, body: ReviewUpdate, conn: DbDep, who: Writer
) -> ReviewOut:
    """Replace a draft's header and outputs; a changed period gathers the inputs again.
    409: the review is closed."""
    found = await service.replace(
        conn, review_id=review_id, tenant=who.enterprise_id, header=body, actor=who.actor
    )
    return _found(found, review_id)


@router.post("/{review_id}/refresh", response_model=ReviewOut, responses=_WRITE)
async def refresh_review(review_id: ReviewId, conn: DbDep, who: Writer) -> ReviewOut:
    """Gather a draft's inputs again from the platform as it stands now. 409: closed."""
    found = await service.replace(
        conn, review_id=review_id, tenant=who.enterprise_id, header=None, actor=who.actor
    )
    return _found(found, review_id)


@router.post("/{review_id}/close", response_model=ReviewOut, responses=_WRITE)
async def close_review(review_id: ReviewId, conn: DbDep, who: Writer, state: StateDep) -> ReviewOut:
    """Close the review: each output marked ``nonconformity`` opens a ticket (source
    ``management_review``), the outputs' due dates are watched (``review_output.due``), and the
    record is stored with its sha256, immutable. 409: already closed."""
    closed = await service.close(
        conn, review_id=review_id, tenant=who.enterprise_id, actor=who.actor
    )
    if closed is None:
        raise ApiError(404, f"no management review {review_id}")
    review, events = closed
    for event in events:  # after the commit
        state.hub.publish(event)
    return review
