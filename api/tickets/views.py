"""``/v1/alerts`` and ``/v1/tickets``: corrective-action tickets (clauses 9.4, 10.1).

A ticket moves only along ``flows.transitions(kind)``; an illegal move is 409 with the allowed
ones in ``allowed``. ``POST /v1/tickets`` opens a nonconformity found other than by an alert.
Enterprise keys see and work their own enterprise's tickets only (others 404).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query

from accounting.deviation import Rule
from accounting.window_figures import SubjectKind
from api.deps import DbDep, StateDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.live import LiveEvent
from api.params import IdQuery, ParkQuery
from api.registers.tenancy import owner_of
from api.tickets import flows, records, service
from api.tickets.alert_views import router as alerts_router
from api.tickets.enums import SourceKind, TicketKind, TicketState
from api.tickets.models import (
    ActionIn,
    ActionOut,
    ActionPatch,
    CommentIn,
    CommentOut,
    HistoryOut,
    LinkIn,
    LinkOut,
    NonconformityIn,
    ShortText,
    TicketDetail,
    TicketOut,
    TicketPage,
    TransitionIn,
)
from api.tickets.nonconformity import open_nonconformity

router = APIRouter()
router.include_router(alerts_router)
tickets = APIRouter(prefix="/v1/tickets", tags=["tickets"])
Reader = Annotated[Principal, Depends(require(Scope.TICKETS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.TICKETS_WRITE))]
TicketId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ActionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_READ = problems(401, 403, 404, 422, 503)
# 400: a body that is not JSON at all; 413: larger than the API accepts.
_WRITE = problems(400, 401, 403, 404, 413, 422, 503)


def _out(row: dict[str, Any]) -> TicketOut:
    allowed = flows.transitions(TicketKind(row["kind"]))[TicketState(row["state"])]
    return TicketOut.model_validate({**row, "allowed_transitions": allowed})


T = TypeVar("T")


def _found(written: T | None, ticket_id: int) -> T:
    if written is None:
        raise ApiError(404, f"no ticket {ticket_id}")
    return written


def _publish(state: StateDep, events: list[LiveEvent]) -> None:
    for event in events:  # after the commit
        state.hub.publish(event)


@tickets.get("", response_model=TicketPage, responses=problems(401, 403, 422, 503))
async def list_tickets(
    conn: DbDep,
    who: Reader,
    state: TicketState | None = None,
    rule: Rule | None = None,
    enterprise_id: IdQuery = None,
    park_id: ParkQuery = None,
    subject_kind: SubjectKind | None = None,
    subject_id: IdQuery = None,
    kind: TicketKind | None = None,
    source_kind: SourceKind | None = None,
    source_id: Annotated[ShortText | None, Query()] = None,
    overdue: bool | None = Query(default=None, description="An action past due and not done"),
    cursor: int | None = Query(default=None, ge=1, le=2**63 - 1, description="`next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> TicketPage:
    """Tickets newest first, filtered; an enterprise key sees its own enterprise's only."""
    rows, next_cursor = await service.list_tickets(
        conn,
        tenant=who.enterprise_id,
        state=state,
        rule=rule,
        enterprise_id=enterprise_id,
        park_id=park_id,
        subject_kind=subject_kind,
        subject_id=subject_id,
        kind=kind,
        source_kind=source_kind,
        source_id=source_id,
        overdue=overdue,
        after=cursor,
        limit=limit,
    )
    return TicketPage(
        items=[_out(r) for r in rows],
        next_cursor=None if next_cursor is None else str(next_cursor),
    )


@tickets.post(
    "",
    status_code=201,
    response_model=TicketOut,
    responses=problems(400, 401, 403, 404, 413, 422, 503),
)
async def open_ticket(
    body: NonconformityIn, conn: DbDep, state: StateDep, who: Writer
) -> TicketOut:
    """Open a ticket for a nonconformity found by an internal audit, a compliance evaluation, a
    complaint, a management review or an observation, linked to its source record (10.1); or a
    ``preventive`` one for a potential nonconformity (9.4: it skips containment). An enterprise
    key opens its own enterprise's (another enterprise: 404; a park-level one: 403)."""
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    async with conn.transaction():
        row, events = await open_nonconformity(
            conn,
            kind=body.kind,
            source_kind=body.source_kind,
            source_id=body.source_id,
            park_id=owner.park_id,
            enterprise_id=owner.enterprise_id,
            title=body.title,
            description=body.description,
            actor=who.actor,
        )
    _publish(state, events)
    row["overdue"] = False
    return _out(row)


@tickets.get("/{ticket_id}", response_model=TicketDetail, responses=_READ)
async def get_ticket(ticket_id: TicketId, conn: DbDep, who: Reader) -> TicketDetail:
    """The ticket with its occurrences, actions, comments, links and full history."""
    row = _found(
        await service.ticket_detail(conn, ticket_id=ticket_id, tenant=who.enterprise_id),
        ticket_id,
    )
    return TicketDetail.model_validate({**_out(row).model_dump(), **row})


@tickets.get("/{ticket_id}/history", response_model=list[HistoryOut], responses=_READ)
async def get_history(ticket_id: TicketId, conn: DbDep, who: Reader) -> list[HistoryOut]:
    """Everything that happened to the ticket, oldest first, each with actor and time."""
    rows = _found(
        await service.ticket_history(conn, ticket_id=ticket_id, tenant=who.enterprise_id),
        ticket_id,
    )
    return [HistoryOut.model_validate(r) for r in rows]


@tickets.post(
    "/{ticket_id}/transitions",
    response_model=TicketOut,
    responses=problems(400, 401, 403, 404, 409, 413, 422, 503),
)
async def transition(
    ticket_id: TicketId, body: TransitionIn, conn: DbDep, state: StateDep, who: Writer
) -> TicketOut:
    """Move the ticket to ``to`` with the fields that state needs: contained (containment),
    cause_identified (cause_category, root_cause, similar_nonconformities; from
    effectiveness_check also effectiveness_review: the review failed), action_in_progress (an
    action must exist), effectiveness_check (every action done), closed (effectiveness_review),
    dismissed (reason; from open or contained). 409 lists the allowed transitions."""
    request = flows.TransitionRequest(**body.model_dump())
    try:
        written = await service.transition(
            conn, ticket_id=ticket_id, tenant=who.enterprise_id, request=request, actor=who.actor
        )
    except flows.IllegalTransition as exc:
        raise ApiError(409, str(exc), current=exc.current.value, allowed=exc.allowed) from exc
    except flows.NotReady as exc:
        raise ApiError(409, str(exc), allowed=exc.allowed) from exc
    except flows.MissingFieldsError as exc:
        raise ApiError(422, str(exc)) from exc
    row, events = _found(written, ticket_id)
    _publish(state, events)
    return _out(row)


@tickets.post(
    "/{ticket_id}/actions",
    status_code=201,
    response_model=ActionOut,
    responses=problems(400, 401, 403, 404, 409, 413, 422, 503),
)
async def add_action(
    ticket_id: TicketId, body: ActionIn, conn: DbDep, state: StateDep, who: Writer
) -> ActionOut:
    """Decide a corrective action (owner, due date): while cause_identified or
    action_in_progress (409 otherwise)."""
    try:
        written = await records.add_action(
            conn,
            ticket_id=ticket_id,
            tenant=who.enterprise_id,
            description=body.description,
            owner=body.owner,
            due_at=body.due_at,
            actor=who.actor,
        )
    except service.NotAllowedNow as exc:
        raise ApiError(409, str(exc), allowed=exc.allowed) from exc
    row, events = _found(written, ticket_id)
    _publish(state, events)
    return ActionOut.model_validate(row)


@tickets.patch("/{ticket_id}/actions/{action_id}", response_model=ActionOut, responses=_WRITE)
async def patch_action(
    ticket_id: TicketId,
    action_id: ActionId,
    body: ActionPatch,
    conn: DbDep,
    state: StateDep,
    who: Writer,
) -> ActionOut:
    """Mark an action done (``{"done": true}``); a repeat changes nothing."""
    if not body.done:
        raise ApiError(422, "an action cannot be marked not done: add a new action instead")
    written = await records.complete_action(
        conn,
        ticket_id=ticket_id,
        action_id=action_id,
        tenant=who.enterprise_id,
        note=body.note,
        actor=who.actor,
    )
    if written is None:
        raise ApiError(404, f"no action {action_id} on ticket {ticket_id}")
    row, events = written
    _publish(state, events)
    return ActionOut.model_validate(row)


@tickets.post("/{ticket_id}/comments", status_code=201, response_model=CommentOut, responses=_WRITE)
async def add_comment(
    ticket_id: TicketId, body: CommentIn, conn: DbDep, state: StateDep, who: Writer
) -> CommentOut:
    written = await records.add_comment(
        conn, ticket_id=ticket_id, tenant=who.enterprise_id, body=body.body, actor=who.actor
    )
    row, events = _found(written, ticket_id)
    _publish(state, events)
    return CommentOut.model_validate(row)


@tickets.post("/{ticket_id}/links", status_code=201, response_model=LinkOut, responses=_WRITE)
async def add_link(
    ticket_id: TicketId, body: LinkIn, conn: DbDep, state: StateDep, who: Writer
) -> LinkOut:
    """Attach evidence as a link (http or https URL)."""
    written = await records.add_link(
        conn,
        ticket_id=ticket_id,
        tenant=who.enterprise_id,
        url=str(body.url),
        title=body.title,
        actor=who.actor,
    )
    row, events = _found(written, ticket_id)
    _publish(state, events)
    return LinkOut.model_validate(row)


router.include_router(tickets)
