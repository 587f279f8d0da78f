"""``/v1/factors`` and ``/v1/factor-overrides``: the emission-factor and conversion-parameter
catalogue of ``accounting/data`` plus the park's own versions (clauses 6.3.1 e, 6.5, 6.7, 7.3).

A park version (an override) is a new version of a packaged key: it keeps the key's series,
carrier, parameter, gas and region, states value, unit, validity and source, and is checked
like a packaged row (``accounting.factor_rows.build_row``). An enterprise's version
(``enterprise_id``) is the same for one enterprise's meters only (GB/T 32150-2015 6.3.1 e:
measured NCV, carbon content, oxidation rate; a supplier's steam factor). A new key (a province
without a published factor, a fuel's density) states its identity and may not repeat an
existing key's (409). Versions of one chain (a key's packaged and park versions; a key's
versions of one enterprise) never overlap (``versions.chain``: 409 otherwise). Overrides are
append-only; the stream worker applies them in the same order (``accounting.overrides``) to
every window it computes after they are added, and ``parkcarbon recompute`` applies them to
windows computed before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from psycopg import AsyncConnection, sql
from psycopg import Error as PgError
from psycopg.rows import dict_row

from accounting.carriers import Carrier
from accounting.datafile import Evidence
from accounting.factor_rows import FactorKind, FactorRowError, Series, build_row
from accounting.factors import load_catalogue
from accounting.gwp import Gas
from accounting.parameters import QUANTITY_UNIT, Quantity, load_parameters
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


_KINDS = frozenset(k.value for k in FactorKind)
_QUANTITIES = frozenset(q.value for q in Quantity)
_IDENTITY = ("series", "carrier", "parameter", "region")


def _template(
    catalogue: FactorCatalogue,
    key: str,
    *,
    series: str | None,
    carrier: Carrier,
    parameter: str,
    gas: str | None,
    region: str | None,
) -> Factor:
    """A version-less ``Factor`` of a key the catalogue does not have (its stored identity)."""
    return Factor(
        catalogue=catalogue,
        key=key,
        version="",
        series=series,
        carrier=carrier,
        parameter=parameter,
        gas=gas,
        region=region,
        value=0.0,
        unit="",
        valid_from=date.min,
        valid_to=None,
        effective_to=None,
        source="",
        table="",
        edition="",
        evidence=Evidence.UNVERIFIED,
        note="",
        origin="override",
        override_id=None,
    )


def _like_of_row(row: dict[str, Any]) -> Factor:
    """The identity of a stored version: its packaged key's, or the one it states."""
    if row["factor_key"] in packaged():
        return packaged()[row["factor_key"]][0]
    return _template(
        FactorCatalogue(row["catalogue"]),
        row["factor_key"],
        series=row["series"],
        carrier=Carrier(row["carrier"]),
        parameter=row["parameter"],
        gas=row["gas"],
        region=row["region"],
    )


def _as_factor(row: dict[str, Any]) -> Factor:
    return _like_of_row(row).model_copy(
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
            "enterprise_id": row["enterprise_id"],
        }
    )


def _version(f: Factor) -> Version:
    return Version(f.version, f.valid_from, f.valid_to, packaged=f.override_id is None)


def _new_key(body: OverrideCreate) -> Factor:
    """The identity a new key states; 422 naming what is missing or unknown."""
    if body.parameter in _QUANTITIES:
        if body.carrier is None:
            raise ApiError(422, "a new conversion parameter names its carrier", field="carrier")
        if body.series is not None or body.region is not None or body.gas is not None:
            raise ApiError(422, "a conversion parameter has no series, region or gas")
        return _template(
            FactorCatalogue.CONVERSION_PARAMETER,
            body.factor_key,
            series=None,
            carrier=body.carrier,
            parameter=body.parameter,
            gas=None,
            region=None,
        )
    if body.parameter in _KINDS:
        for name in ("series", "carrier", "region"):
            if getattr(body, name) is None:
                raise ApiError(422, f"a new emission-factor key names its {name}", field=name)
        assert body.series is not None and body.carrier is not None  # checked just above
        return _template(
            FactorCatalogue.EMISSION_FACTOR,
            body.factor_key,
            series=body.series.value,
            carrier=body.carrier,
            parameter=body.parameter,
            gas=body.gas.value if body.gas else None,
            region=body.region,
        )
    raise ApiError(
        422,
        f"unknown factor key {body.factor_key!r} (GET /v1/factors lists them); a new key names"
        f" its parameter: one of {', '.join(sorted(_KINDS | _QUANTITIES))}",
        field="parameter",
    )


def _same_identity(like: Factor, body: OverrideCreate) -> None:
    """Identity fields given for an existing key must be the key's own."""
    for name in _IDENTITY:
        given = getattr(body, name)
        if given is not None and str(given) != getattr(like, name):
            raise ApiError(
                422,
                f"{body.factor_key!r} has {name} {getattr(like, name)!r}, not {str(given)!r}",
                field=name,
            )
    if body.gas is not None and body.gas.value != like.gas:
        raise ApiError(422, f"{body.factor_key!r} is a factor for gas {like.gas}, not {body.gas}")


async def _stored_like(conn: AsyncConnection[Any], key: str) -> Factor | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM factor_override WHERE factor_key = %s ORDER BY override_id LIMIT 1",
            (key,),
        )
        row = await cur.fetchone()
    return None if row is None else _like_of_row(row)


def _clash(like: Factor, stored: list[Factor]) -> str | None:
    """An existing key with the identity of a new one (it would be the same factor twice)."""
    if like.catalogue is FactorCatalogue.CONVERSION_PARAMETER:
        for p in load_parameters():
            if (p.carrier, p.quantity.value) == (like.carrier, like.parameter):
                return p.key
    else:
        for r in load_catalogue().rows:
            ident = (r.series.value, r.carrier, r.kind.value, r.gas.value if r.gas else None)
            if (*ident, r.region) == (
                like.series,
                like.carrier,
                like.parameter,
                like.gas,
                like.region,
            ):
                return r.key
    for f in stored:
        if f.key != like.key and (f.series, f.carrier, f.parameter, f.gas, f.region) == (
            like.series,
            like.carrier,
            like.parameter,
            like.gas,
            like.region,
        ):
            return f.key
    return None


async def _check(conn: AsyncConnection[Any], body: OverrideCreate) -> Factor:
    """The override's key as a catalogue entry; 422 naming the field when it does not fit."""
    if body.enterprise_id is not None:
        found = await (
            await conn.execute(
                "SELECT 1 FROM enterprise WHERE enterprise_id = %s", (body.enterprise_id,)
            )
        ).fetchone()
        if found is None:
            raise ApiError(422, f"unknown enterprise {body.enterprise_id!r}", field="enterprise_id")
    if body.factor_key in packaged():
        like = packaged()[body.factor_key][0]
    else:
        stored_like = await _stored_like(conn, body.factor_key)
        like = _new_key(body) if stored_like is None else stored_like
        if stored_like is None:
            # the park's new keys and this enterprise's (another's are no concern of its)
            others = [
                _like_of_row(r)
                for r in await _overrides(conn, None)
                if r["enterprise_id"] in (None, body.enterprise_id)
            ]
            clash = _clash(like, others)
            if clash is not None:
                raise ApiError(
                    409, f"{clash!r} is that factor already: add a version of it", key=clash
                )
    _same_identity(like, body)
    if like.catalogue is FactorCatalogue.CONVERSION_PARAMETER:
        unit = QUANTITY_UNIT[Quantity(like.parameter)]
        if body.value <= 0 or body.unit != unit:
            raise ApiError(422, f"{like.parameter} is a positive value in {unit!r}")
        return like
    try:
        build_row(
            series=Series(str(like.series)),
            key=like.key,
            carrier=like.carrier,
            kind=FactorKind(like.parameter),
            gas=Gas(like.gas) if like.gas else None,
            region=like.region or "",
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


async def _overrides(
    conn: AsyncConnection[Any], key: str | None, visible_to: str | None = None
) -> list[dict[str, Any]]:
    """Stored versions (of ``key``); ``visible_to``: an enterprise key's view, the park's
    versions and its own enterprise's only."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM factor_override WHERE (%(key)s::text IS NULL OR factor_key = %(key)s)"
            " AND (%(ent)s::text IS NULL OR enterprise_id IS NULL OR enterprise_id = %(ent)s)"
            " ORDER BY factor_key, override_id",  # the order they were added: versions.chain
            {"key": key, "ent": visible_to},
        )
        return await cur.fetchall()


@router.post(
    "/v1/factor-overrides",
    status_code=201,
    response_model=Override,
    responses=problems(401, 403, 409, 422),
)
async def create_override(body: OverrideCreate, conn: DbDep, who: Writer) -> Override:
    """Add a version of a catalogue factor or parameter: the park's, or one enterprise's
    (``enterprise_id``: its measured NCV, carbon content, oxidation rate, its supplier's steam
    factor, applied to its meters only, in place of the park's versions on the days it covers),
    or the first version of a new key (``parameter`` and, for an emission factor, ``series``,
    ``carrier``, ``region``: a province without a published factor, a fuel's density). An
    open-ended earlier version of the same chain (the park's, or the enterprise's) ends the day
    before it starts; any other overlap within the chain is 409."""
    label = f"{body.factor_key}@{body.valid_from.isoformat()}"
    async with conn.transaction():
        # One writer per key at a time, so two overlapping versions cannot both pass the check.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"factor:{body.factor_key}",)
        )
        like = await _check(conn, body)
        stored = [
            _as_factor(r)
            for r in await _overrides(conn, body.factor_key)
            if r["enterprise_id"] == body.enterprise_id
        ]
        base = packaged().get(body.factor_key, ()) if body.enterprise_id is None else ()
        new = Version(label, body.valid_from, body.valid_to, packaged=False)
        try:
            chain(map(_version, base), [*map(_version, stored), new])
        except VersionOverlapError as exc:
            raise ApiError(409, f"validity overlaps: {exc}", version=exc.old.label) from exc
        new_key = body.factor_key not in packaged()
        row = body.model_dump() | {
            "catalogue": like.catalogue,
            "gas": like.gas,
            "created_by": who.actor,
            # a packaged key's identity is the key's own; a new key's is stored with it
            **{name: getattr(like, name) if new_key else None for name in _IDENTITY},
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
            entity_id=label if body.enterprise_id is None else f"{label}:{body.enterprise_id}",
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
    who: Reader,
    limit: Limit = 100,
    offset: Offset = 0,
    factor_key: Annotated[str | None, Query()] = None,
) -> Page[Override]:
    """The park's and the enterprises' versions, by key and start (an enterprise key: the
    park's and its own enterprise's)."""
    extra, params = None, []
    if who.enterprise_id is not None:
        extra = sql.SQL("(enterprise_id IS NULL OR enterprise_id = %s)")
        params = [who.enterprise_id]
    found, total = await rows.page(
        conn,
        "factor_override",
        filters={"factor_key": factor_key},
        order=["factor_key", "valid_from", "override_id"],
        limit=limit,
        offset=offset,
        extra=extra,
        extra_params=params,
    )
    return Page(items=[Override(**r) for r in found], total=total, limit=limit, offset=offset)


@router.get("/v1/factors", response_model=list[Factor], responses=problems(401, 403, 422))
async def list_factors(
    conn: DbDep,
    who: Reader,
    key: Annotated[str | None, Query()] = None,
    catalogue: Annotated[FactorCatalogue | None, Query()] = None,
    carrier: Annotated[Carrier | None, Query()] = None,
    on: Annotated[date | None, Query(description="Only versions in force on this day")] = None,
) -> list[Factor]:
    """The catalogue: packaged versions, the park's and the enterprises' (``enterprise_id``;
    an enterprise key sees its own only), each with the period it is in force in its chain
    (``effective_to``), by key, enterprise and start."""
    chains: dict[tuple[str, str | None], list[Factor]] = defaultdict(list)
    for row in await _overrides(conn, key, who.enterprise_id):
        chains[(row["factor_key"], row["enterprise_id"])].append(_as_factor(row))
    keys = set(packaged()) | {k for k, _ in chains}
    for k in keys if key is None else {key} & keys:
        chains.setdefault((k, None), [])
    out: list[Factor] = []
    for (k, ent), mine in chains.items():
        base = packaged().get(k, ()) if ent is None else ()
        ends = {v.label: v.effective_to for v in chain(map(_version, base), map(_version, mine))}
        for f in (*base, *mine):
            f = f.model_copy(update={"effective_to": ends[f.version]})
            if catalogue is not None and f.catalogue is not catalogue:
                continue
            if carrier is not None and f.carrier is not carrier:
                continue
            if on is not None and not (f.valid_from <= on <= (f.effective_to or date.max)):
                continue
            out.append(f)
    return sorted(out, key=lambda f: (f.key, f.enterprise_id or "", f.valid_from))
