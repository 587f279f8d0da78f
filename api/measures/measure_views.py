"""``/v1/measures``: reduction measures (clauses 6.2.2, 6.3), their measurement and verification
against the baseline, and the ranking of open opportunities (6.3.1 a).

A measure moves only along ``flows.TRANSITIONS``; an illegal move is 409 with the allowed ones.
Enterprise keys see and write their own enterprise's measures only (others, and park-level
ones, are 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.measures import flows, mv, sheets
from api.measures import measures as service
from api.measures.enums import MeasureState
from api.measures.models import (
    Id,
    MeasureIn,
    MeasureOut,
    MeasurePage,
    MeasurePatch,
    MeasureTransitionIn,
    RankedMeasure,
    Ranking,
    VerificationIn,
    VerificationOut,
)
from api.measures.spec import MEASURES
from api.registers import service as registers
from api.registers.tenancy import owner_of
from api.registers.views import (
    EXPORT_RESPONSE,
    IMPORT_BODY,
    ImportResult,
    export_response,
    import_file,
)

router = APIRouter(prefix="/v1/measures", tags=["measures"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTERS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTERS_WRITE))]
MeasureId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_READ = problems(401, 403, 404, 422, 503)
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)


def out(row: dict[str, Any]) -> MeasureOut:
    allowed = flows.TRANSITIONS[MeasureState(row["status"])]
    return MeasureOut.model_validate({**row, "allowed_transitions": allowed})


@router.post("", status_code=201, response_model=MeasureOut, responses=_WRITE)
async def create_measure(body: MeasureIn, conn: DbDep, who: Writer) -> MeasureOut:
    """Propose a reduction measure. ``meter_ids`` must be meters of its enterprise (or park)."""
    owner = await owner_of(conn, who=who, park_id=body.park_id, enterprise_id=body.enterprise_id)
    row = body.model_dump(exclude={"park_id", "enterprise_id"}) | {
        "park_id": owner.park_id,
        "enterprise_id": owner.enterprise_id,
    }
    return out(await service.create(conn, row=row, actor=who.actor))


@router.get("", response_model=MeasurePage, responses=_READ)
async def list_measures(
    conn: DbDep,
    who: Reader,
    status: Annotated[list[MeasureState] | None, Query()] = None,
    enterprise_id: Annotated[Id | None, Query()] = None,
    cursor: int | None = Query(default=None, ge=1, le=2**63 - 1, description="`next_cursor`"),
    limit: int = Query(default=100, ge=1, le=500),
) -> MeasurePage:
    """Measures newest first; an enterprise key sees its own enterprise's only."""
    rows, nxt = await service.list_measures(
        conn,
        tenant=who.enterprise_id,
        status=status,
        enterprise_id=enterprise_id,
        after=cursor,
        limit=limit,
    )
    return MeasurePage(items=[out(r) for r in rows], next_cursor=None if nxt is None else str(nxt))


@router.get("/ranking", response_model=Ranking, responses=_READ)
async def ranking(
    conn: DbDep, who: Reader, enterprise_id: Annotated[Id | None, Query()] = None
) -> Ranking:
    """Open measures (proposed, approved, in_progress) best first (clause 6.3.1 a): by expected
    tCO2e/year per 10^4 CNY of capex, highest first; then those without capex (none or zero
    stated) by expected tCO2e/year. Ties: the older measure first."""
    ranked = await mv.ranking(conn, tenant=who.enterprise_id, enterprise_id=enterprise_id)
    return Ranking(
        items=[
            RankedMeasure(
                rank=r.rank,
                tco2e_per_year_per_10k_cny=r.tco2e_per_year_per_10k_cny,
                measure=out(row),
            )
            for r, row in ranked
        ]
    )


@router.get(
    "/export",
    response_class=Response,
    responses={**EXPORT_RESPONSE, **problems(401, 403, 413, 503)},
)
async def export_measures(conn: DbDep, who: Reader) -> Response:
    """Every measure the key sees as an XLSX sheet (row 1 field names, row 2 labels), its
    status included; importing the file unchanged changes nothing."""
    rows = await registers.export_rows(conn, MEASURES, tenant=who.enterprise_id)
    return export_response(MEASURES, rows)


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=IMPORT_BODY,
    responses=problems(400, 401, 403, 404, 413, 415, 422, 503),
)
async def import_measures(request: Request, conn: DbDep, who: Writer) -> Any:
    """An XLSX sheet in the export's form: a row without ``record_id`` proposes a measure, a
    row with one changes what ``PATCH`` changes. Status, source category and meters are not
    changed by a sheet (status moves through the transitions). Every row is stored or none:
    any bad row is 422 with each row's result."""
    return await import_file(request, conn, MEASURES, who, sheets.write_measure)


@router.get("/{measure_id}", response_model=MeasureOut, responses=_READ)
async def get_measure(measure_id: MeasureId, conn: DbDep, who: Reader) -> MeasureOut:
    return out(await service.get(conn, measure_id=measure_id, tenant=who.enterprise_id))


@router.patch("/{measure_id}", response_model=MeasureOut, responses=_WRITE)
async def patch_measure(
    measure_id: MeasureId, body: MeasurePatch, conn: DbDep, who: Writer
) -> MeasureOut:
    """Change its description, figures or schedule; 409 once verified or cancelled."""
    row = await service.patch(
        conn,
        measure_id=measure_id,
        tenant=who.enterprise_id,
        changes=body.changes(),
        actor=who.actor,
    )
    return out(row)


@router.post("/{measure_id}/transitions", response_model=MeasureOut, responses=_WRITE)
async def transition(
    measure_id: MeasureId, body: MeasureTransitionIn, conn: DbDep, who: Writer
) -> MeasureOut:
    """Move the measure to ``to``: approved, in_progress, implemented (``implemented_on``, not
    after today), verified (an M&V record must exist), cancelled (``reason``; before it is
    implemented). 409 lists the allowed transitions."""
    request = flows.TransitionRequest(**body.model_dump())
    try:
        row = await service.transition(
            conn, measure_id=measure_id, tenant=who.enterprise_id, request=request, actor=who.actor
        )
    except flows.IllegalTransition as exc:
        raise ApiError(409, str(exc), current=exc.current.value, allowed=exc.allowed) from exc
    except flows.NotReady as exc:
        raise ApiError(409, str(exc), allowed=exc.allowed) from exc
    except flows.MissingFieldsError as exc:
        raise ApiError(422, str(exc)) from exc
    return out(row)


@router.post(
    "/{measure_id}/verifications", status_code=201, response_model=VerificationOut, responses=_WRITE
)
async def verify(
    measure_id: MeasureId, body: VerificationIn, conn: DbDep, who: Writer
) -> VerificationOut:
    """Measure and verify the savings over park-local ``[period_start, period_end)``: the current
    base-year baselines of the affected meters (else the enterprise, else the park) prorated to
    the period, minus their stored hour windows. 409: not implemented yet, or a subject without
    a base-year baseline; 422: a period before implemented_on or after today."""
    row = await mv.verify(
        conn,
        measure_id=measure_id,
        tenant=who.enterprise_id,
        period_start=body.period_start,
        period_end=body.period_end,
        note=body.note,
        actor=who.actor,
    )
    return VerificationOut.model_validate(row)


@router.get("/{measure_id}/verifications", response_model=list[VerificationOut], responses=_READ)
async def list_verifications(
    measure_id: MeasureId, conn: DbDep, who: Reader
) -> list[VerificationOut]:
    rows = await mv.verifications(conn, measure_id=measure_id, tenant=who.enterprise_id)
    return [VerificationOut.model_validate(r) for r in rows]
