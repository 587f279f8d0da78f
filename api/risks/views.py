"""``/v1/risks``: risks and opportunities (6.1) and the admission screening of two-high
projects (6.3.5, at ``/v1/risks/screenings``).

A risk is scored likelihood x consequence (``rules.score``); its actions carry an effectiveness
review date and their reviews (effective or not, with a note). A screening records a project's
expected annual energy (tce) and emissions (tCO2e) and the criteria applied, and is decided
once. Enterprise keys see and write their own enterprise's records only (others 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registers.views import sheet_routes
from api.registry.common import ID_PATTERN
from api.risks import service
from api.risks.enums import RiskKind, RiskStatus
from api.risks.models import (
    ActionIn,
    ActionOut,
    DecisionIn,
    ReviewIn,
    ReviewOut,
    RiskDetail,
    RiskIn,
    RiskOut,
    RiskPage,
    RiskPatch,
    ScreeningIn,
    ScreeningOut,
    ScreeningPage,
)
from api.risks.spec import RISKS, SCREENINGS, WRITE_RISK, WRITE_SCREENING

router = APIRouter(prefix="/v1/risks", tags=["risks and opportunities"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Enterprise = Annotated[str | None, Query(pattern=ID_PATTERN)]
Cursor = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="`next_cursor`")]
Limit = Annotated[int, Query(ge=1, le=500)]
_READ = problems(401, 403, 404, 422, 503)
_LIST = problems(401, 403, 422, 503)
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)

sheet_routes(router, "", RISKS, WRITE_RISK, what="risk or opportunity")
sheet_routes(router, "/screenings", SCREENINGS, WRITE_SCREENING, what="project screening")


def _found(row: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if row is None:
        raise ApiError(404, f"no {what}")
    return row


def _next(cursor: int | None) -> str | None:
    return None if cursor is None else str(cursor)


# Screenings first: their paths would otherwise be read as a risk id.
@router.post("/screenings", response_model=ScreeningOut, status_code=201, responses=_WRITE)
async def create_screening(body: ScreeningIn, conn: DbDep, who: Writer) -> ScreeningOut:
    """A new two-high project to screen (6.3.5): expected annual tce and tCO2e, criteria."""
    return ScreeningOut.model_validate(await service.create_screening(conn, who=who, body=body))


@router.get("/screenings", response_model=ScreeningPage, responses=_LIST)
async def list_screenings(
    conn: DbDep,
    who: Reader,
    enterprise_id: Enterprise = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> ScreeningPage:
    rows, after = await service.list_screenings(
        conn, tenant=who.enterprise_id, enterprise_id=enterprise_id, after=cursor, limit=limit
    )
    items = [ScreeningOut.model_validate(r) for r in rows]
    return ScreeningPage(items=items, next_cursor=_next(after))


@router.get("/screenings/{screening_id}", response_model=ScreeningOut, responses=_READ)
async def get_screening(screening_id: Id, conn: DbDep, who: Reader) -> ScreeningOut:
    row = await service.get_screening(conn, screening_id=screening_id, tenant=who.enterprise_id)
    return ScreeningOut.model_validate(_found(row, f"screening {screening_id}"))


@router.post("/screenings/{screening_id}/decision", response_model=ScreeningOut, responses=_WRITE)
async def decide(screening_id: Id, body: DecisionIn, conn: DbDep, who: Writer) -> ScreeningOut:
    """The decision, once (409 after): ``admit`` only when every criterion is met (409 lists
    the unmet), ``admit_with_conditions`` with ``conditions``, or ``refuse``; who and when."""
    row = await service.decide(
        conn, screening_id=screening_id, tenant=who.enterprise_id, body=body, actor=who.actor
    )
    return ScreeningOut.model_validate(_found(row, f"screening {screening_id}"))


@router.post("", response_model=RiskOut, status_code=201, responses=_WRITE)
async def create_risk(body: RiskIn, conn: DbDep, who: Writer) -> RiskOut:
    """A risk or opportunity, scored likelihood x consequence (1-25)."""
    return RiskOut.model_validate(await service.create_risk(conn, who=who, body=body))


@router.get("", response_model=RiskPage, responses=_LIST)
async def list_risks(
    conn: DbDep,
    who: Reader,
    enterprise_id: Enterprise = None,
    kind: RiskKind | None = None,
    status: RiskStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> RiskPage:
    """Risks and opportunities newest first; an enterprise key sees its own only."""
    rows, after = await service.list_risks(
        conn,
        tenant=who.enterprise_id,
        enterprise_id=enterprise_id,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        after=cursor,
        limit=limit,
    )
    return RiskPage(items=[RiskOut.model_validate(r) for r in rows], next_cursor=_next(after))


@router.get("/{risk_id}", response_model=RiskDetail, responses=_READ)
async def get_risk(risk_id: Id, conn: DbDep, who: Reader) -> RiskDetail:
    """The risk with its actions and their effectiveness reviews."""
    row = await service.get_risk(conn, risk_id=risk_id, tenant=who.enterprise_id)
    return RiskDetail.model_validate(_found(row, f"risk {risk_id}"))


@router.patch("/{risk_id}", response_model=RiskOut, responses=_WRITE)
async def patch_risk(risk_id: Id, body: RiskPatch, conn: DbDep, who: Writer) -> RiskOut:
    """Re-assess: ratings (the score follows), owner, review date, status."""
    row = await service.patch_risk(
        conn, risk_id=risk_id, tenant=who.enterprise_id, body=body, actor=who.actor
    )
    return RiskOut.model_validate(_found(row, f"risk {risk_id}"))


@router.post("/{risk_id}/actions", response_model=ActionOut, status_code=201, responses=_WRITE)
async def add_action(risk_id: Id, body: ActionIn, conn: DbDep, who: Writer) -> ActionOut:
    """An action on the risk (6.1.3 a) with its due date and effectiveness review date."""
    row = await service.add_action(
        conn, risk_id=risk_id, tenant=who.enterprise_id, body=body, actor=who.actor
    )
    return ActionOut.model_validate(_found(row, f"risk {risk_id}"))


@router.post(
    "/{risk_id}/actions/{action_id}/reviews",
    response_model=ReviewOut,
    status_code=201,
    responses=_WRITE,
)
async def add_review(
    risk_id: Id, action_id: Id, body: ReviewIn, conn: DbDep, who: Writer
) -> ReviewOut:
    """The review of an action's effectiveness (6.1.3 b 2): date, effective or not, note."""
    row = await service.add_review(
        conn,
        risk_id=risk_id,
        action_id=action_id,
        tenant=who.enterprise_id,
        body=body,
        actor=who.actor,
    )
    return ReviewOut.model_validate(_found(row, f"action {action_id} of risk {risk_id}"))
