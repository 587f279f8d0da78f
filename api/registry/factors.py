"""``/v1/factors`` and ``/v1/factor-overrides``: the emission-factor and conversion-parameter
catalogue of ``accounting/data`` plus the park's own versions (clauses 6.3.1 e, 6.5, 6.7, 7.3).

A park version (an override) is a new version of a packaged key: it keeps the key's series,
carrier, parameter, gas and region, states value, unit, validity and source, and is checked
like a packaged row (``accounting.factor_rows.build_row``). Versions of a key never overlap
(``versions.chain``: 409 otherwise). Overrides are append-only; the stream worker applies them
in the same order (``accounting.overrides``) to every window it computes after they are added,
and ``parkcarbon recompute`` applies them to windows computed before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from psycopg import AsyncConnection
from psycopg import Error as PgError
from psycopg.rows import dict_row

from accounting.carriers import Carrier
from accounting.datafile import Evidence
from accounting.factor_rows import FactorRowError, build_row
from accounting.factors import load_catalogue
from accounting.parameters import load_parameters
from api import audit
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.registry import rows
from api.registry.common import Limit, Offset, Page, raise_db_error
from api.registry.enums import FactorCatalogue
from api.registry.factor_models import Factor, Override, OverrideCreate
from api.registry.proposals import propose_for_factor_version
from api.registry.versions import Version, VersionOverlapError, chain

router = APIRouter(tags=["factors"])
Reader = Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Scope.REGISTRY_WRITE))]


@cache
def packaged() -> dict[str, tuple[Factor, ...]]:
    """Every packaged version by key: emission factors, then conversion parameters."""
    found: dict[str, list[Factor]] = defaultdict(list)
    for r in load_catalogue().rows:
        found[r.key].append(
            Factor(
                catalogue=FactorCatalogue.EMISSION_FACTOR,
                key=r.key,
                version=r.version,
                series=r.series.value,
                carrier=r.carrier,
                parameter=r.kind.value,
                gas=r.gas.value if r.gas else None,
                region=r.region,
                value=r.value,
                unit=r.unit,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
                effective_to=r.valid_to,
                source=r.source,
                table=r.table,
                edition=r.edition,
                evidence=r.evidence,
                note=r.note,
                origin=r.origin,
                override_id=None,
            )
        )
    for p in load_parameters():
        found[p.key].append(
            Factor(
                catalogue=FactorCatalogue.CONVERSION_PARAMETER,
                key=p.key,
                version=f"{p.key}@{p.valid_from.isoformat()}",
                series=None,
                carrier=p.carrier,
                parameter=p.quantity.value,
                gas=None,
                region=None,
                value=p.value,
                unit=p.unit,
                valid_from=p.valid_from,
                valid_to=p.valid_to,
                effective_to=p.valid_to,
                source=p.source,
                table=p.table,
                edition=p.edition,
                evidence=p.evidence,
                note=p.note,
                origin="conversion_parameters.csv",
                override_id=None,
            )
        )
    return {key: tuple(versions) for key, versions in found.items()}


def _as_factor(row: dict[str, Any]) -> Factor:
    like = packaged()[row["factor_key"]][0]
    return like.model_copy(
        update={
            "version": f"{row['factor_key']}@{row['valid_from'].isoformat()}",
            "value": row["value"],
            "unit": row["unit"],
            "valid_from": row["valid_from"],
            "valid_to": row["valid_to"],
            "effective_to": row["valid_to"],
            "source": row["source"],
            "table": row["source_table"],
            "edition": row["edition"],
            "evidence": Evidence(row["evidence"]),
            "note": row["note"],
            "origin": "override",
            "override_id": row["override_id"],
        }
    )


def _version(f: Factor) -> Version:
    return Version(f.version, f.valid_from, f.valid_to, packaged=f.override_id is None)


def _check(body: OverrideCreate) -> Factor:
    """The override as a catalogue version; 422 naming the field when it does not fit its key."""
    if body.factor_key not in packaged():
        raise ApiError(422, f"unknown factor key {body.factor_key!r} (GET /v1/factors lists them)")
    like = packaged()[body.factor_key][0]
    if body.gas is not None and body.gas.value != like.gas:
        raise ApiError(422, f"{body.factor_key!r} is a factor for gas {like.gas}, not {body.gas}")
    if like.catalogue is FactorCatalogue.CONVERSION_PARAMETER:
        if body.value <= 0 or body.unit != like.unit:
            raise ApiError(422, f"{like.parameter} is a positive value in {like.unit!r}")
        return like
    row = next(r for r in load_catalogue().rows if r.key == body.factor_key)
    try:
        build_row(
            series=row.series,
            key=row.key,
            carrier=row.carrier,
            kind=row.kind,
            gas=row.gas,
            region=row.region,
            value=body.value,
            unit=body.unit,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            source=body.source,
            table=body.source_table,
            edition=body.edition,
            evidence=body.evidence,
            note=body.note,
        )
    except FactorRowError as exc:
        raise ApiError(422, f"{body.factor_key}: {exc}", field=exc.field) from exc
    return like


async def _overrides(conn: AsyncConnection[Any], key: str | None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM factor_override WHERE %(key)s::text IS NULL OR factor_key = %(key)s"
            " ORDER BY factor_key, override_id",  # the order they were added: versions.chain
            {"key": key},
        )
        return await cur.fetchall()


@router.post(
    "/v1/factor-overrides",
    status_code=201,
    response_model=Override,
    responses=problems(401, 403, 409, 422),
)
async def create_override(body: OverrideCreate, conn: DbDep, who: Writer) -> Override:
    """Add the park's version of a catalogue factor or parameter. An open-ended earlier version
    ends the day before it starts; any other overlap with a version of the key is 409."""
    like = _check(body)
    label = f"{body.factor_key}@{body.valid_from.isoformat()}"
    async with conn.transaction():
        # One writer per key at a time, so two overlapping versions cannot both pass the check.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"factor:{body.factor_key}",)
        )
        stored = [_as_factor(r) for r in await _overrides(conn, body.factor_key)]
        new = Version(label, body.valid_from, body.valid_to, packaged=False)
        try:
            chain(map(_version, packaged()[body.factor_key]), [*map(_version, stored), new])
        except VersionOverlapError as exc:
            raise ApiError(409, f"validity overlaps: {exc}", version=exc.old.label) from exc
        row = body.model_dump() | {
            "catalogue": like.catalogue,
            "gas": like.gas,
            "created_by": who.actor,
        }
        try:
            saved = await rows.insert(conn, "factor_override", row)
        except PgError as exc:
            raise_db_error(exc, f"factor version {label}")
        await audit.record(
            conn,
            actor=who.actor,
            action="create",
            entity="factor_override",
            entity_id=label,
            before=None,
            after=saved,
        )
        # Clause 6.5 c: baselines whose base year the version changes get a restatement
        # proposal in this same transaction (api/registry/proposals.py).
        await propose_for_factor_version(conn, saved, who.actor)
    return Override(**saved)


@router.get(
    "/v1/factor-overrides", response_model=Page[Override], responses=problems(401, 403, 422)
)
async def list_overrides(
    conn: DbDep,
    _: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    factor_key: Annotated[str | None, Query()] = None,
) -> Page[Override]:
    """The park's versions, by key and start."""
    found, total = await rows.page(
        conn,
        "factor_override",
        filters={"factor_key": factor_key},
        order=["factor_key", "valid_from"],
        limit=limit,
        offset=offset,
    )
    return Page(items=[Override(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/v1/factors", response_model=list[Factor], responses=problems(401, 403, 422))
async def list_factors(
    conn: DbDep,
    _: Reader,
    key: Annotated[str | None, Query()] = None,
    catalogue: Annotated[FactorCatalogue | None, Query()] = None,
    carrier: Annotated[Carrier | None, Query()] = None,
    on: Annotated[date | None, Query(description="Only versions in force on this day")] = None,
) -> list[Factor]:
    """The catalogue: packaged versions and the park's, each with the period it is in force
    (``effective_to``), by key and start."""
    if key is not None and key not in packaged():
        return []
    by_key: dict[str, list[Factor]] = defaultdict(list)
    for row in await _overrides(conn, key):
        by_key[row["factor_key"]].append(_as_factor(row))
    out: list[Factor] = []
    for k in sorted(packaged() if key is None else [key] if key in packaged() else []):
        mine = by_key.get(k, [])
        ends = {
            v.label: v.effective_to
            for v in chain(map(_version, packaged()[k]), map(_version, mine))
        }
        for f in (*packaged()[k], *mine):
            f = f.model_copy(update={"effective_to": ends[f.version]})
            if catalogue is not None and f.catalogue is not catalogue:
                continue
            if carrier is not None and f.carrier is not carrier:
                continue
            if on is not None and not (f.valid_from <= on <= (f.effective_to or date.max)):
                continue
            out.append(f)
    return sorted(out, key=lambda f: (f.key, f.valid_from))
