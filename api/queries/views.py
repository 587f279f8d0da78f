"""Queries over stored windows: emissions, intensity, progress, data quality (issue 6 item 4).

Tenancy: an enterprise key is confined to its own enterprise; naming another enterprise is 404,
and filters on another tenant's sites or meters just match nothing. Pages: ``limit``/``offset``
over a total order (bucket, then group keys; enterprise; target; meter id), with a ``next`` URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from accounting.intensity import OutputUnit
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import CommaList, IdQuery, IdsQuery
from api.queries import emissions, energy, market, performance, present, quality
from api.queries.common import dec, enterprises_for, next_link, page
from api.queries.enums import BUCKETS, Bucket, GroupBy
from api.queries.models import Emissions, Energy, IntensityPage, ProgressPage, QualityPage

router = APIRouter(prefix="/v1", tags=["queries"])
Reader = Annotated[Principal, Depends(require(Scope.EMISSIONS_READ))]
From = Annotated[AwareDatetime, Query(alias="from", description="Inclusive, with a UTC offset")]
To = Annotated[AwareDatetime, Query(description="Exclusive, with a UTC offset")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
GroupByQuery = Annotated[
    list[GroupBy],
    CommaList,
    Query(description="Dimensions, repeated (group_by=a&group_by=b) or comma-separated (a,b)"),
]
_ERRORS = problems(401, 403, 404, 422, 503)
_MAX_MINUTE_SPAN = timedelta(days=31)  # 1-minute buckets: at most a month per query


def _range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ApiError(422, "'to' must be after 'from'")


@router.get("/emissions", response_model=Emissions, responses=_ERRORS)
async def get_emissions(
    request: Request,
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    bucket: Bucket = Bucket.HOUR,
    group_by: GroupByQuery = [GroupBy.ENTERPRISE],  # noqa: B006 - FastAPI copies
    park_id: IdsQuery = None,
    enterprise_id: IdsQuery = None,
    site_id: IdsQuery = None,
    meter_id: IdsQuery = None,
    source_category: Annotated[list[str] | None, Query()] = None,
    detail: Annotated[
        bool,
        Query(
            description="false (default): totals as the boundary counts them (root meters in"
            " the boundary, exports netted; docs/boundary.md). true: every meter's windows as"
            " measured, sub-meters and out-of-boundary meters included (detail, not a total)"
        ),
    ] = False,
    limit: Limit = 1000,
    offset: Offset = 0,
    include_market: Annotated[
        bool, Query(description="Add market_tco2e beside tco2e (not with group_by=gas)")
    ] = False,
) -> dict[str, Any]:
    """tCO2e and activity per bucket and group, summed from stored windows starting in
    [from, to). Buckets of a day or longer are the park's local days, months, years. ``tco2e``
    is location-based (a contractual instrument never nets into it); ``include_market=true``
    adds the market-based figure beside it (GHG Protocol Scope 2 Guidance, ch. 6)."""
    _range(start, to)
    if bucket is Bucket.MINUTE and to - start > _MAX_MINUTE_SPAN:
        raise ApiError(422, "1-minute buckets cover at most 31 days per query")
    groups = list(dict.fromkeys(group_by))  # each dimension once, in the order asked
    if include_market and GroupBy.GAS in groups:
        raise ApiError(422, "market_tco2e is not split by gas: drop include_market or gas")
    filters = emissions.Filters(
        parks=park_id,
        enterprises=enterprises_for(who, enterprise_id),
        sites=site_id,
        meters=meter_id,
        categories=source_category,
    )
    rows, more = page(
        await emissions.query(
            conn,
            start=start,
            end=to,
            bucket=bucket,
            group_by=groups,
            filters=filters,
            limit=limit + 1,
            offset=offset,
            detail=detail,
        ),
        limit,
    )
    n = len(groups)
    markets = (
        await market.market_tco2e(
            conn, start=start, end=to, bucket=bucket, group_by=groups, filters=filters
        )
        if include_market and rows
        else {}
    )
    items = []
    for row in rows:
        activity, tco2e, mass, completeness, windows = row[2 + n :]
        market_t = markets.get((row[0], row[1], tuple(row[2 : 2 + n])))
        items.append(
            {
                "bucket_start": row[0],
                "bucket_end": row[1],
                "group": {g.value: row[2 + i] for i, g in enumerate(groups)},
                "tco2e": dec(tco2e),
                "mass_t": dec(mass),
                "activity": [
                    {"value": dec(Decimal(str(v))), "unit": u}
                    for u, v in sorted((activity or {}).items())
                ],
                "completeness": dec(completeness, 4),
                "windows": windows,
                "market_tco2e": dec(market_t),
            }
        )
    return {
        "from": start,
        "to": to,
        "bucket": bucket,
        "width_s": BUCKETS[bucket][0],
        "group_by": groups,
        "detail": detail,
        "items": items,
        "limit": limit,
        "offset": offset,
        "next": next_link(request, offset=offset, limit=limit, more=more),
    }


@router.get("/energy", response_model=Energy, responses=_ERRORS)
async def get_energy(
    request: Request,
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    bucket: Bucket = Bucket.HOUR,
    group_by: GroupByQuery = [GroupBy.ENTERPRISE],  # noqa: B006 - FastAPI copies
    park_id: IdsQuery = None,
    enterprise_id: IdsQuery = None,
    site_id: IdsQuery = None,
    meter_id: IdsQuery = None,
    source_category: Annotated[list[str] | None, Query()] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Energy consumption in tonnes of standard coal equivalent (tce, GB/T 2589-2020) per
    bucket and group, with each carrier's activity and tce: the windows, buckets, groups,
    filters and tenancy of ``/v1/emissions`` (no ``gas`` grouping). Each carrier's quantity is
    converted with the GB/T 2589 coefficient in force on its local day; electricity at the
    park's ``tce_electricity_convention`` (equal value 当量值 0.1229 kgce/kWh, or the
    equivalent value 等价值 published for the year). Water and outputs are not energy."""
    _range(start, to)
    if bucket is Bucket.MINUTE and to - start > _MAX_MINUTE_SPAN:
        raise ApiError(422, "1-minute buckets cover at most 31 days per query")
    groups = list(dict.fromkeys(group_by))
    filters = emissions.Filters(
        parks=park_id,
        enterprises=enterprises_for(who, enterprise_id),
        sites=site_id,
        meters=meter_id,
        categories=source_category,
    )
    found = await energy.rows(
        conn, start=start, end=to, bucket=bucket, group_by=groups, filters=filters
    )
    rows, more = page(found[offset : offset + limit + 1], limit)
    items = []
    for row in rows:
        total = row.total()
        items.append(
            {
                "bucket_start": row.bucket_start,
                "bucket_end": row.bucket_end,
                "group": {g.value: row.group[i] for i, g in enumerate(groups)},
                "tce": dec(total.tce),
                "carriers": [
                    {
                        "carrier": c.carrier.value,
                        "activity": {"value": dec(c.activity), "unit": c.unit},
                        "tce": dec(c.tce),
                        "coefficient_versions": list(c.versions),
                        "missing_coefficient_days": list(c.missing),
                    }
                    for c in total.carriers
                ],
                "windows": row.windows,
            }
        )
    return {
        "from": start,
        "to": to,
        "bucket": bucket,
        "group_by": groups,
        "items": items,
        "limit": limit,
        "offset": offset,
        "next": next_link(request, offset=offset, limit=limit, more=more),
    }


@router.get("/intensity", response_model=IntensityPage, responses=_ERRORS)
async def get_intensity(
    request: Request,
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    enterprise_id: IdsQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """tCO2e per tonne of product and per 10^4 CNY of output value, per enterprise (clause
    3.3.10), from the hour windows of its emission and output meters starting in [from, to);
    beside them energy in tce and tce per output unit (GB/T 2589-2020, as ``/v1/energy``)."""
    _range(start, to)
    rows, more = page(
        await performance.intensity_rows(
            conn,
            start=start,
            end=to,
            enterprises=enterprises_for(who, enterprise_id),
            limit=limit + 1,
            offset=offset,
        ),
        limit,
    )
    tce: dict[str, Decimal | None] = {}
    if rows:
        filters = emissions.Filters(None, [str(r[0]) for r in rows], None, None, None)
        for erow in await energy.rows(
            conn,
            start=start,
            end=to,
            bucket=Bucket.DAY,  # the day picks each coefficient version
            group_by=[GroupBy.ENTERPRISE],
            filters=filters,
            whole=True,
        ):
            total = erow.total().tce
            tce[str(erow.group[0])] = None if total is None else Decimal(repr(total))
    items = []
    for ent, tco2e, product, value in rows:
        ent_tce = tce.get(ent, Decimal(0))
        outputs = []
        for unit, amount in ((OutputUnit.TONNE_PRODUCT, product), (OutputUnit.CNY_10K, value)):
            if amount is None:
                continue
            ratio = dec(tco2e / amount) if amount > 0 else None
            outputs.append(
                {
                    "output": {"value": dec(amount), "unit": str(unit)},
                    "intensity": None
                    if ratio is None
                    else {"value": ratio, "unit": f"tCO2e/{unit}"},
                    "energy_intensity": None
                    if ent_tce is None or not amount > 0
                    else {"value": dec(ent_tce / amount), "unit": f"tce/{unit}"},
                }
            )
        items.append(
            {
                "enterprise_id": ent,
                "tco2e": {"value": dec(tco2e), "unit": "tCO2e"},
                "energy": None if ent_tce is None else {"value": dec(ent_tce), "unit": "tce"},
                "outputs": outputs,
            }
        )
    return {
        "from": start,
        "to": to,
        "items": items,
        "limit": limit,
        "offset": offset,
        "next": next_link(request, offset=offset, limit=limit, more=more),
    }


@router.get("/progress", response_model=ProgressPage, responses=_ERRORS)
async def get_progress(
    request: Request,
    conn: DbDep,
    who: Reader,
    as_of: Annotated[AwareDatetime | None, Query(description="Default: now")] = None,
    subject_kind: Annotated[str | None, Query(pattern="^(park|enterprise|meter)$")] = None,
    subject_id: IdQuery = None,
    enterprise_id: IdsQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Targets whose local period contains ``as_of`` (location-based, clause 6.2): tCO2e of the
    period to date, the share of the limit used, a linear projection to the period's end, and
    the subject's current baseline (the head of its restatement chain, clause 6.5). Each limit
    set (absolute, intensity) is reported; ``on_track`` is true only when every one is (false
    when one is missed, null while one cannot be judged, e.g. no output yet). Enterprise
    keys see their enterprise's and meters' targets, not the park's."""
    moment = as_of or datetime.now(UTC)
    enterprises = enterprises_for(who, enterprise_id)
    rows, more = page(
        await performance.progress_rows(
            conn,
            as_of=moment,
            enterprises=enterprises,
            subject_kind=subject_kind,
            subject_id=subject_id,
            limit=limit + 1,
            offset=offset,
        ),
        limit,
    )
    items = [performance.progress_item(row, moment) for row in rows]
    return {
        "as_of": moment,
        "items": items,
        "limit": limit,
        "offset": offset,
        "next": next_link(request, offset=offset, limit=limit, more=more),
    }


@router.get("/quality", response_model=QualityPage, responses=_ERRORS)
async def get_quality(
    request: Request,
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    enterprise_id: IdsQuery = None,
    meter_id: IdsQuery = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Data quality in [from, to): completeness (readings present / expected in hour windows),
    quarantined readings by reason (clause 8.4) and calibration status (due within 30 days,
    overdue) per meter and per enterprise."""
    _range(start, to)
    enterprises = enterprises_for(who, enterprise_id)
    summary, rejects = await quality.enterprise_rows(
        conn, start=start, end=to, enterprises=enterprises, meters=meter_id
    )
    by_ent: dict[str, dict[str, int]] = {}
    for ent, reason, n in rejects:
        by_ent.setdefault(ent, {})[reason] = n
    rows, more = page(
        await quality.meter_rows(
            conn,
            start=start,
            end=to,
            enterprises=enterprises,
            meters=meter_id,
            limit=limit + 1,
            offset=offset,
        ),
        limit,
    )
    meters = [
        {
            "meter_id": mid,
            "enterprise_id": ent,
            "status": status,
            "completeness": None if not expected else dec(Decimal(str(got / expected)), 4),
            "windows": windows,
            "rejected": dict(sorted(rejected.items())),
            "calibration_due": due,
            "calibration": present.calibration(due, today),
        }
        for mid, ent, status, due, today, got, expected, windows, rejected in rows
    ]
    return {
        "from": start,
        "to": to,
        "enterprises": [
            {
                "enterprise_id": ent,
                "meters": n,
                "completeness": None if c is None else dec(Decimal(str(c)), 4),
                "calibration_overdue": overdue,
                "calibration_due_soon": soon,
                "rejected": by_ent.get(ent, {}),
            }
            for ent, n, c, overdue, soon in summary
        ],
        # Readings naming no registered meter belong to no tenant: park-wide keys only.
        "unattributed_rejected": by_ent.get("", {}) if who.enterprise_id is None else None,
        "meters": meters,
        "limit": limit,
        "offset": offset,
        "next": next_link(request, offset=offset, limit=limit, more=more),
    }
