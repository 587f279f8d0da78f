"""Storing, reading and closing management reviews (clause 9.5).

A review is written as a draft with its inputs gathered (``inputs.gather``); its header and
outputs are replaced whole while it is a draft, and its inputs gathered again on request or
when the period changes. Closing it, in one transaction: a ticket is opened for each output
that is a nonconformity (``open_nonconformity``, source ``management_review``), the outputs are
written as rows (the reminder check's ``review_output.due``), and the record is stored as
canonical JSON with its sha256; the table's trigger refuses any later change. Every write
appends its audit record in its transaction. ``tenant`` is the caller's enterprise (None: a
park-wide key), as for the registers (``api.registers.tenancy``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from accounting.report_period import ReportPeriod, ReportPeriodError, period_between
from api import audit
from api.errors import ApiError
from api.live import LiveEvent
from api.management_reviews import flows, inputs
from api.management_reviews.enums import ReviewState
from api.management_reviews.models import (
    OutputOut,
    ReviewHeader,
    ReviewOut,
    ReviewRecord,
    ReviewSummary,
)
from api.registers.tenancy import TENANT_FILTER, Owner
from api.reports.service import period_out
from api.tickets.enums import SourceKind
from api.tickets.nonconformity import open_nonconformity
from store.reports import ParkInfo, park_info

_COLUMNS = (
    "review_id, park_id, enterprise_id, state, held_on, chair, period_start, period_end, record,"
    " content_sha256, closed_at, closed_by, created_at, created_by, updated_at, updated_by"
)
_OUTPUT = """
INSERT INTO management_review_output (review_id, position, park_id, enterprise_id, kind, title,
    description, owner, due_on, nonconformity, ticket_id)
VALUES (%(review_id)s, %(position)s, %(park_id)s, %(enterprise_id)s, %(kind)s, %(title)s,
    %(description)s, %(owner)s, %(due_on)s, %(nonconformity)s, %(ticket_id)s)
"""


def canonical(record: ReviewRecord) -> str:
    """The record as canonical JSON: keys sorted, no spaces, UTF-8, no NaN."""
    return json.dumps(
        record.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _period(header: ReviewHeader) -> ReportPeriod:
    try:
        return period_between(header.period_start, header.period_end)
    except ReportPeriodError as exc:
        raise ApiError(422, str(exc)) from exc


async def _park(conn: AsyncConnection[Any], owner: Owner) -> ParkInfo:
    park = await park_info(conn, park_id=owner.park_id, enterprise_id=owner.enterprise_id)
    assert park is not None  # the owner was checked by ``owner_of``
    return park


async def _record(
    conn: AsyncConnection[Any],
    *,
    review_id: int,
    owner: Owner,
    header: ReviewHeader,
    now: datetime,
) -> ReviewRecord:
    """The record of a draft with its inputs gathered now."""
    park, period = await _park(conn, owner), _period(header)
    ctx = inputs.Context(
        park=park, enterprise_id=owner.enterprise_id, period=period, review_id=review_id, now=now
    )
    return ReviewRecord(
        review_id=review_id,
        park_id=park.park_id,
        park_name=park.name,
        enterprise_id=owner.enterprise_id,
        held_on=header.held_on,
        chair=header.chair,
        attendees=list(header.attendees),
        period=period_out(period, park.timezone),
        inputs_gathered_at=now,
        inputs=await inputs.gather(conn, ctx),
        outputs=[OutputOut(**o.model_dump()) for o in header.outputs],
    )


def summary(row: dict[str, Any]) -> ReviewSummary:
    return ReviewSummary.model_validate(row)


def detail(row: dict[str, Any]) -> ReviewOut:
    return ReviewOut.model_validate(
        {**row, "record": ReviewRecord.model_validate_json(row["record"])}
    )


def _audit_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if hasattr(v, "isoformat") else v
        for k, v in row.items()
        if k not in ("record", "created_at", "updated_at")
    }


async def get(
    conn: AsyncConnection[Any], *, review_id: int, tenant: str | None, lock: bool = False
) -> dict[str, Any] | None:
    query = (
        f"SELECT {_COLUMNS} FROM management_review r WHERE {TENANT_FILTER}"  # noqa: S608 - constants
        f" AND r.review_id = %(id)s{' FOR UPDATE' if lock else ''}"
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, {"tenant": tenant, "id": review_id})
        return await cur.fetchone()


async def list_reviews(
    conn: AsyncConnection[Any],
    *,
    tenant: str | None,
    state: ReviewState | None,
    park_id: str | None,
    enterprise_id: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page, newest first, and the cursor of the next page."""
    query = (
        f"SELECT {_COLUMNS} FROM management_review r WHERE {TENANT_FILTER}"  # noqa: S608 - constants
        " AND (%(state)s::text IS NULL OR r.state = %(state)s)"
        " AND (%(park)s::text IS NULL OR r.park_id = %(park)s)"
        " AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)"
        " AND (%(after)s::bigint IS NULL OR r.review_id < %(after)s)"
        " ORDER BY r.review_id DESC LIMIT %(limit)s"
    )
    params = {
        "tenant": tenant,
        "state": state.value if state else None,
        "park": park_id,
        "enterprise": enterprise_id,
        "after": after,
        "limit": limit + 1,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1]["review_id"] if more else None


async def closed(
    conn: AsyncConnection[Any], *, tenant: str | None, limit: int = 1000
) -> list[dict[str, Any]]:
    """The closed reviews the caller sees, oldest first (the documented-information set)."""
    query = (
        f"SELECT {_COLUMNS} FROM management_review r WHERE {TENANT_FILTER}"  # noqa: S608 - constants
        " AND r.state = 'closed' ORDER BY r.review_id LIMIT %(limit)s"
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, {"tenant": tenant, "limit": limit})
        return await cur.fetchall()


async def create(
    conn: AsyncConnection[Any],
    *,
    owner: Owner,
    header: ReviewHeader,
    actor: str,
    now: datetime | None = None,
) -> ReviewOut:
    """Store a draft review with its inputs gathered, and its audit record."""
    moment = now or datetime.now(UTC)
    _period(header)  # a bad period is 422 before anything is written
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO management_review (park_id, enterprise_id, held_on, chair, period_start,"
            " period_end, record, created_by, updated_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, '{}', %s, %s) RETURNING review_id",
            (
                owner.park_id,
                owner.enterprise_id,
                header.held_on,
                header.chair,
                header.period_start,
                header.period_end,
                actor,
                actor,
            ),
        )
        made = await cur.fetchone()
        assert made is not None
        review_id = int(made["review_id"])
        record = await _record(conn, review_id=review_id, owner=owner, header=header, now=moment)
        await cur.execute(
            "UPDATE management_review SET record = %s WHERE review_id = %s",
            (canonical(record), review_id),
        )
        row = await get(conn, review_id=review_id, tenant=None)
        assert row is not None
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="management_review",
            entity_id=str(review_id),
            before=None,
            after={**_audit_view(row), "outputs": len(header.outputs)},
        )
    return detail(row)


async def replace(
    conn: AsyncConnection[Any],
    *,
    review_id: int,
    tenant: str | None,
    header: ReviewHeader | None,
    actor: str,
    now: datetime | None = None,
) -> ReviewOut | None:
    """Replace a draft's header and outputs (``header``), gathering its inputs again when the
    period changed; ``header`` None gathers them again (a refresh). 409 for a closed review;
    None: no such review for this caller."""
    moment = now or datetime.now(UTC)
    async with conn.transaction():
        current = await get(conn, review_id=review_id, tenant=tenant, lock=True)
        if current is None:
            return None
        flows.editable(ReviewState(current["state"]), review_id)
        record = ReviewRecord.model_validate_json(current["record"])
        old = ReviewHeader(
            held_on=record.held_on,
            chair=record.chair,
            attendees=record.attendees,
            period_start=record.period.start,
            period_end=record.period.end,
            outputs=[o.model_dump(exclude={"ticket_id"}) for o in record.outputs],
        )
        wanted = header or old
        owner = Owner(current["park_id"], current["enterprise_id"])
        if header is None or (header.period_start, header.period_end) != (
            old.period_start,
            old.period_end,
        ):
            record = await _record(
                conn, review_id=review_id, owner=owner, header=wanted, now=moment
            )
            action = "refresh" if header is None else "update"
        elif header == old:
            return detail(current)
        else:
            record = record.model_copy(
                update={
                    "held_on": header.held_on,
                    "chair": header.chair,
                    "attendees": list(header.attendees),
                    "outputs": [OutputOut(**o.model_dump()) for o in header.outputs],
                }
            )
            action = "update"
        await conn.execute(
            "UPDATE management_review SET held_on = %s, chair = %s, period_start = %s,"
            " period_end = %s, record = %s, updated_at = now(), updated_by = %s"
            " WHERE review_id = %s",
            (
                wanted.held_on,
                wanted.chair,
                wanted.period_start,
                wanted.period_end,
                canonical(record),
                actor,
                review_id,
            ),
        )
        row = await get(conn, review_id=review_id, tenant=None)
        assert row is not None
        changed = {
            k: (old.model_dump(mode="json")[k], wanted.model_dump(mode="json")[k])
            for k in ReviewHeader.model_fields
            if getattr(old, k) != getattr(wanted, k)
        }
        await audit.record(
            conn,
            actor=actor,
            action=action,
            entity="management_review",
            entity_id=str(review_id),
            before={k: v[0] for k, v in changed.items()} | {"inputs_gathered_at": None},
            after={k: v[1] for k, v in changed.items()}
            | {"inputs_gathered_at": record.inputs_gathered_at.isoformat()},
        )
    return detail(row)


async def close(
    conn: AsyncConnection[Any],
    *,
    review_id: int,
    tenant: str | None,
    actor: str,
    now: datetime | None = None,
) -> tuple[ReviewOut, list[LiveEvent]] | None:
    """Close a draft: open the nonconformities' tickets, write the outputs, store the record
    with its sha256. The review and the live events of the tickets opened (to publish after
    the commit); None: no such review for this caller; 409: already closed."""
    moment = now or datetime.now(UTC)
    events: list[LiveEvent] = []
    async with conn.transaction():
        current = await get(conn, review_id=review_id, tenant=tenant, lock=True)
        if current is None:
            return None
        flows.editable(ReviewState(current["state"]), review_id)
        record = ReviewRecord.model_validate_json(current["record"])
        outputs: list[OutputOut] = []
        for position, output in enumerate(record.outputs, start=1):
            ticket_id = None
            if output.nonconformity:
                ticket, opened = await open_nonconformity(
                    conn,
                    source_kind=SourceKind.MANAGEMENT_REVIEW,
                    source_id=str(review_id),
                    park_id=current["park_id"],
                    enterprise_id=current["enterprise_id"],
                    title=output.title,
                    description=output.description
                    or f"Management review {review_id} ({record.held_on}): {output.title}",
                    actor=actor,
                )
                ticket_id, events = int(ticket["ticket_id"]), [*events, *opened]
            done = output.model_copy(update={"ticket_id": ticket_id})
            outputs.append(done)
            await conn.execute(
                _OUTPUT,
                {
                    **done.model_dump(mode="python", exclude={"kind"}),
                    "kind": done.kind.value,
                    "review_id": review_id,
                    "position": position,
                    "park_id": current["park_id"],
                    "enterprise_id": current["enterprise_id"],
                },
            )
        record = record.model_copy(update={"outputs": outputs})
        text = canonical(record)
        digest = sha256(text)
        await conn.execute(
            "UPDATE management_review SET state = 'closed', record = %s, content_sha256 = %s,"
            " closed_at = %s, closed_by = %s, updated_at = %s, updated_by = %s"
            " WHERE review_id = %s",
            (text, digest, moment, actor, moment, actor, review_id),
        )
        row = await get(conn, review_id=review_id, tenant=None)
        assert row is not None
        await audit.record(
            conn,
            actor=actor,
            action="close",
            entity="management_review",
            entity_id=str(review_id),
            before={"state": ReviewState.DRAFT.value},
            after={
                "state": ReviewState.CLOSED.value,
                "content_sha256": digest,
                "tickets": [o.ticket_id for o in outputs if o.ticket_id is not None],
            },
        )
    return detail(row), events
