"""``/v1/targets`` and ``/v1/baselines``: targets (clause 6.2) and baselines that are never
changed in place but restated (clause 6.5: a new row naming the one it recalculates and which
of the three triggers applies), each write audited (7.3).

An enterprise key reads the targets and baselines of its enterprise and of its meters only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from psycopg import AsyncConnection, sql
from psycopg import Error as PgError
from psycopg.types.json import Jsonb

from api import audit
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import IdQuery
from api.registry import rows
from api.registry.common import Limit, Offset, Page, not_found, raise_db_error
from api.registry.enums import EXPLAINED, RestatementReason, SubjectKind
from api.registry.target_models import (
    Baseline,
    BaselineCreate,
    RestatementCreate,
    Target,
    TargetCreate,
)

router = APIRouter(tags=["targets and baselines"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]

# Subjects an enterprise key may see: its enterprise, and its meters.
_TENANT = sql.SQL(
    "((subject_kind = 'enterprise' AND subject_id = %s) OR (subject_kind = 'meter'"
    " AND subject_id IN (SELECT meter_id FROM meter WHERE enterprise_id = %s)))"
)
_SUBJECT_TABLES = {
    SubjectKind.PARK: ("park", "park_id"),
    SubjectKind.ENTERPRISE: ("enterprise", "enterprise_id"),
    SubjectKind.METER: ("meter", "meter_id"),
}  # meter_group has no registry table: its id is taken as given


def _tenancy(who: Principal) -> tuple[sql.Composable | None, list[Any]]:
    if who.enterprise_id is None:
        return None, []
    return _TENANT, [who.enterprise_id, who.enterprise_id]


async def _subject_owner(conn: AsyncConnection[Any], kind: str, ident: str) -> str | None:
    """The enterprise a subject belongs to (None for the park and meter groups); 422 if the
    subject is not in the registry."""
    if kind not in _SUBJECT_TABLES:
        return None
    table, key = _SUBJECT_TABLES[SubjectKind(kind)]
    row = await rows.one(conn, table, key, ident)
    if row is None:
        raise ApiError(422, f"unknown {kind} {ident!r}")
    return row.get("enterprise_id")


async def _visible(conn: AsyncConnection[Any], who: Principal, row: dict[str, Any]) -> bool:
    if who.enterprise_id is None:
        return True
    if row["subject_kind"] not in (SubjectKind.ENTERPRISE, SubjectKind.METER):
        return False
    owner = await _subject_owner(conn, row["subject_kind"], row["subject_id"])
    return owner == who.enterprise_id


async def _create(
    conn: AsyncConnection[Any], table: str, key: str, row: dict[str, Any], actor: str, why: str = ""
) -> dict[str, Any]:
    try:
        async with conn.transaction():
            stored = await rows.insert(conn, table, row)
            await audit.record(
                conn,
                actor=actor,
                action="create",
                entity=table,
                entity_id=str(stored[key]),
                before=None,
                after=stored,
                reason=why,
            )
    except PgError as exc:
        raise_db_error(exc, f"{table} for {row['subject_kind']} {row['subject_id']!r}")
    return stored


@router.post(
    "/v1/targets", status_code=201, response_model=Target, responses=problems(401, 403, 409, 422)
)
async def create_target(body: TargetCreate, conn: DbDep, who: Writer) -> Target:
    """Set a target; 409 if the subject already has one for that period and method."""
    await _subject_owner(conn, body.subject_kind, body.subject_id)
    row = body.model_dump() | {"created_by": who.actor}
    return Target(**await _create(conn, "target", "target_id", row, who.actor))


@router.get("/v1/targets", response_model=Page[Target], responses=problems(401, 403, 422))
async def list_targets(
    conn: DbDep,
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    subject_kind: Annotated[SubjectKind | None, Query()] = None,
    subject_id: IdQuery = None,
) -> Page[Target]:
    """Targets by subject, period start and method."""
    extra, params = _tenancy(who)
    found, total = await rows.page(
        conn,
        "target",
        filters={"subject_kind": subject_kind, "subject_id": subject_id},
        order=["subject_kind", "subject_id", "period_start", "period_kind", "method"],
        limit=limit,
        offset=offset,
        extra=extra,
        extra_params=params,
    )
    return Page(items=[Target(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get(
    "/v1/targets/{target_id}", response_model=Target, responses=problems(401, 403, 404, 422)
)
async def get_target(target_id: int, conn: DbDep, who: Reader) -> Target:
    row = await rows.one(conn, "target", "target_id", target_id)
    if row is None or not await _visible(conn, who, row):
        raise not_found("target", target_id)
    return Target(**row)


def _baseline_row(body: BaselineCreate | RestatementCreate) -> dict[str, Any]:
    row = body.model_dump(exclude={"regression", "subject_kind", "subject_id", "reason"})
    row["regression"] = Jsonb(body.regression.model_dump()) if body.regression else None
    return row


async def _baseline_out(conn: AsyncConnection[Any], row: dict[str, Any]) -> Baseline:
    found = await (
        await conn.execute(
            "SELECT baseline_id FROM baseline WHERE recalculated_from = %s", (row["baseline_id"],)
        )
    ).fetchone()
    reason = RestatementReason(row["reason"]) if row["reason"] else None
    return Baseline(
        **row,
        reason_text=EXPLAINED[reason] if reason else None,
        restated_by=found[0] if found else None,
    )


@router.post(
    "/v1/baselines",
    status_code=201,
    response_model=Baseline,
    responses=problems(401, 403, 409, 422),
)
async def create_baseline(body: BaselineCreate, conn: DbDep, who: Writer) -> Baseline:
    """Set a subject's baseline; 409 if it has one already (restate that one instead)."""
    await _subject_owner(conn, body.subject_kind, body.subject_id)
    async with conn.transaction():
        # One chain per subject (clause 6.5): serialise creators of the same subject.
        lock = f"baseline:{body.subject_kind}:{body.subject_id}"
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
        existing = await (
            await conn.execute(
                "SELECT min(baseline_id) FROM baseline WHERE subject_kind = %s AND subject_id = %s",
                (body.subject_kind, body.subject_id),
            )
        ).fetchone()
        if existing is not None and existing[0] is not None:
            raise ApiError(
                409,
                f"{body.subject_kind} {body.subject_id!r} has baseline {existing[0]}: restate it"
                f" (POST /v1/baselines/{existing[0]}/restatements)",
                baseline_id=existing[0],
            )
        row = _baseline_row(body) | {
            "subject_kind": body.subject_kind,
            "subject_id": body.subject_id,
            "created_by": who.actor,
        }
        stored = await _create(conn, "baseline", "baseline_id", row, who.actor)
    return await _baseline_out(conn, stored)


@router.post(
    "/v1/baselines/{baseline_id}/restatements",
    status_code=201,
    response_model=Baseline,
    responses=problems(401, 403, 404, 409, 422),
)
async def restate_baseline(
    baseline_id: int, body: RestatementCreate, conn: DbDep, who: Writer
) -> Baseline:
    """Recalculate a baseline: a new row naming this one, with the 6.5 trigger and a note. Only
    the current baseline (the head of the chain) can be restated: 409 names it otherwise."""
    old = await rows.one(conn, "baseline", "baseline_id", baseline_id)
    if old is None:
        raise not_found("baseline", baseline_id)
    current = await _baseline_out(conn, old)
    if current.restated_by is not None:
        raise ApiError(
            409,
            f"baseline {baseline_id} was restated by {current.restated_by}: restate that one",
            restated_by=current.restated_by,
        )
    figures = _baseline_row(body)
    note = figures.pop("note")
    stored = await record_restatement(
        conn, old, figures, reason=body.reason, note=note, actor=who.actor
    )
    return await _baseline_out(conn, stored)


async def record_restatement(
    conn: AsyncConnection[Any],
    old: dict[str, Any],
    figures: dict[str, Any],
    *,
    reason: RestatementReason,
    note: str,
    actor: str,
) -> dict[str, Any]:
    """Store the restatement of baseline ``old`` (its row) with ``figures`` (method, base_year,
    regression, period_kind, value_tco2e, factor_versions, effective): a new row naming it, with
    the 6.5 trigger and a note, audited with the trigger spelled out. A baseline restated
    meanwhile is 409 (each is restated at most once)."""
    row = figures | {
        "subject_kind": old["subject_kind"],
        "subject_id": old["subject_id"],
        "reason": reason,
        "note": note,
        "recalculated_from": old["baseline_id"],
        "created_by": actor,
    }
    return await _create(conn, "baseline", "baseline_id", row, actor, EXPLAINED[reason])


async def baseline_out(conn: AsyncConnection[Any], row: dict[str, Any]) -> Baseline:
    """A stored baseline row as the API shows it (reason spelled out, ``restated_by``)."""
    return await _baseline_out(conn, row)


async def visible(conn: AsyncConnection[Any], who: Principal, row: dict[str, Any]) -> bool:
    """Whether ``who`` may see a target or baseline row (enterprise keys: their own subjects)."""
    return await _visible(conn, who, row)


@router.get("/v1/baselines", response_model=Page[Baseline], responses=problems(401, 403, 422))
async def list_baselines(
    conn: DbDep,
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    subject_kind: Annotated[SubjectKind | None, Query()] = None,
    subject_id: IdQuery = None,
) -> Page[Baseline]:
    """Baselines by subject, each chain oldest first (``restated_by`` null: the current one)."""
    extra, params = _tenancy(who)
    found, total = await rows.page(
        conn,
        "baseline",
        filters={"subject_kind": subject_kind, "subject_id": subject_id},
        order=["subject_kind", "subject_id", "baseline_id"],
        limit=limit,
        offset=offset,
        extra=extra,
        extra_params=params,
    )
    items = [await _baseline_out(conn, r) for r in found]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/v1/baselines/{baseline_id}", response_model=Baseline, responses=problems(401, 403, 404, 422)
)
async def get_baseline(baseline_id: int, conn: DbDep, who: Reader) -> Baseline:
    row = await rows.one(conn, "baseline", "baseline_id", baseline_id)
    if row is None or not await _visible(conn, who, row):
        raise not_found("baseline", baseline_id)
    return await _baseline_out(conn, row)
