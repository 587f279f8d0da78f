"""``/v1/alerts``: deviation alerts (clause 9.1 b), filtered by the key's tenancy, and their
acknowledgement."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from accounting.deviation import Rule
from accounting.window_figures import SubjectKind
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import IdQuery, ParkQuery
from api.tickets import alert_service
from api.tickets.models import AlertOut, AlertPage

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
Reader = Annotated[Principal, Depends(require(Scope.ALERTS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.ALERTS_WRITE))]


class AlertStateFilter(StrEnum):
    OPEN = "open"  # raised or updated: the condition holds
    RESOLVED = "resolved"


@router.get("", response_model=AlertPage, responses=problems(401, 403, 422, 503))
async def list_alerts(
    conn: DbDep,
    who: Reader,
    state: AlertStateFilter | None = None,
    rule: Rule | None = None,
    enterprise_id: IdQuery = None,
    park_id: ParkQuery = None,
    subject_kind: SubjectKind | None = None,
    subject_id: IdQuery = None,
    cursor: str | None = Query(default=None, max_length=500, description="From `next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> AlertPage:
    """Alerts newest first (by first raised), filtered; an enterprise key sees its own only.
    ``park_id``: the park's enterprises' alerts and its park-wide ones (an unknown meter's)."""
    try:
        rows, next_cursor = await alert_service.list_alerts(
            conn,
            tenant=who.enterprise_id,
            open_=None if state is None else state is AlertStateFilter.OPEN,
            rule=rule,
            enterprise_id=enterprise_id,
            park_id=park_id,
            subject_kind=subject_kind,
            subject_id=subject_id,
            cursor=cursor,
            limit=limit,
        )
    except alert_service.BadCursorError as exc:
        raise ApiError(422, str(exc)) from exc
    return AlertPage(items=[AlertOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{alert_id}", response_model=AlertOut, responses=problems(401, 403, 404, 422, 503))
async def get_alert(alert_id: UUID, conn: DbDep, who: Reader) -> AlertOut:
    row = await alert_service.get_alert(conn, alert_id=alert_id, tenant=who.enterprise_id)
    if row is None:
        raise ApiError(404, f"no alert {alert_id}")
    return AlertOut.model_validate(row)


@router.post(
    "/{alert_id}/ack", response_model=AlertOut, responses=problems(401, 403, 404, 422, 503)
)
async def ack_alert(alert_id: UUID, conn: DbDep, who: Writer) -> AlertOut:
    """Acknowledge an alert: records who and when, once (a repeat returns the first)."""
    row = await alert_service.ack_alert(
        conn, alert_id=alert_id, tenant=who.enterprise_id, actor=who.actor
    )
    if row is None:
        raise ApiError(404, f"no alert {alert_id}")
    return AlertOut.model_validate(row)
