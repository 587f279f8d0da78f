"""Queries over stored windows: emissions, intensity, progress, data quality (issue 6 item 4).

Tenancy: an enterprise key is confined to its own enterprise; naming another enterprise is 404,
and filters on another tenant's sites or meters just match nothing. Pages: ``limit``/``offset``
over a total order (bucket, then group keys; enterprise; target; meter id), with a ``next`` URL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from psycopg import AsyncConnection
from pydantic import AwareDatetime

from accounting.intensity import OutputUnit
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.params import CommaList, IdQuery, IdsQuery
from api.queries import emissions, energy, market, performance, present, quality, shapes
from api.queries.common import dec, enterprises_for, next_link, page
from api.queries.compare import Compare, OutOfCalendarError, change, earlier, earlier_bound
from api.queries.enums import BUCKETS, Bucket, GroupBy
from api.queries.models import (
    Emissions,
    Energy,
    EnergyFlows,
    Heatmap,
    IntensityPage,
    ProgressPage,
    QualityPage,
)
from api.queries.parts import MAX_ROWS

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
CompareQuery = Annotated[
    Compare | None,
    Query(
        description="yoy: each row gains the same bucket one year earlier (同比); mom: one"
        " month earlier (环比), in the park's local calendar, with the change absolute and in"
        " per cent (field previous). A query over parks in several time zones must name its"
        " park_id"
    ),
]


def _range(start: datetime, end: datetime, compare: Compare | None = None) -> None:
    if end <= start:
        raise ApiError(422, "'to' must be after 'from'")
    if compare is not None:
        try:  # a park's zone is between UTC-12 and UTC+14: both ends shift in each
            for instant in (start, end):
                for zone in ("Etc/GMT-14", "Etc/GMT+12"):
                    earlier_bound(instant, ZoneInfo(zone), compare)
        except OutOfCalendarError as e:
            raise ApiError(422, f"compare={compare.value}: {e}") from e


Previous = Callable[[tuple[Any, ...]], dict[str, Any] | None]


async def _earlier_emissions(
    conn: AsyncConnection[Any],
    rows: list[tuple[Any, ...]],
    compare: Compare,
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    groups: list[GroupBy],
    filters: emissions.Filters,
    detail: bool,
) -> Previous:
    """The earlier figures of a page of emission rows, read with the same query over the
    earlier span of the page's buckets (never past the earlier range's own ends, so a partial
    first or last bucket is set beside an equally partial one)."""
    zone = await shapes.zone_of(conn, filters)
    lo = max(earlier_bound(start, zone, compare), earlier_bound(rows[0][0], zone, compare))
    hi = min(earlier_bound(end, zone, compare), earlier_bound(rows[-1][1], zone, compare))
    found = (
        await emissions.query(
            conn,
            start=lo,
            end=hi,
            bucket=bucket,
            group_by=groups,
            filters=filters,
            limit=MAX_ROWS + 1,
            offset=0,
            detail=detail,
        )
        if hi > lo
        else []
    )
    if len(found) > MAX_ROWS:
        raise ApiError(422, f"more than {MAX_ROWS} earlier rows to compare: narrow the query")
    n = len(groups)
    # tCO2e, or the gas's mass when grouped by gas; keyed by bucket start and group
    by_key = {(r[0], tuple(r[2 : 2 + n])): r for r in found}
    by_gas = GroupBy.GAS in groups

    def previous(row: tuple[Any, ...]) -> dict[str, Any] | None:
        at = earlier(row[0], zone, compare)
        if at is None:
            return None
        old = by_key.get((at, tuple(row[2 : 2 + n])))
        measure = 4 + n if by_gas else 3 + n  # row: start, end, keys, activity, tco2e, mass
        moved = change(row[measure], None if old is None else old[measure])
        return {
            "bucket_start": at,
            "bucket_end": old[1] if old else earlier_bound(row[1], zone, compare),
            "tco2e": None if old is None else dec(old[3 + n]),
            "mass_t": None if old is None else dec(old[4 + n]),
            "change": dec(moved.absolute),
            "change_pct": dec(moved.percent, 2),
        }

    return previous


def _previous_energy(
    row: energy.EnergyRow,
    before: dict[tuple[Any, ...], energy.EnergyRow],
    zone: ZoneInfo,
    compare: Compare,
) -> dict[str, Any] | None:
    at = earlier(row.bucket_start, zone, compare)
    if at is None:
        return None
    old = before.get((at, row.group))
    now_tce, old_tce = row.total().tce, None if old is None else old.total().tce
    moved = change(
        None if now_tce is None else Decimal(repr(now_tce)),
        None if old_tce is None else Decimal(repr(old_tce)),
    )
    return {
        "bucket_start": at,
        "bucket_end": old.bucket_end if old else earlier_bound(row.bucket_end, zone, compare),
        "tce": dec(old_tce),
        "change": dec(moved.absolute),
        "change_pct": dec(moved.percent, 2),
    }


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
    compare: CompareQuery = None,
) -> dict[str, Any]:
    """tCO2e and activity per bucket and group, summed from stored windows starting in
    [from, to). Buckets of a day or longer are the park's local days, months, years. ``tco2e``
    is location-based (a contractual instrument never nets into it); ``include_market=true``
    adds the market-based figure beside it (GHG Protocol Scope 2 Guidance, ch. 6)."""
    _range(start, to, compare)
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
    before = (
        await _earlier_emissions(
            conn,
            rows,
            compare,
            start=start,
            end=to,
            bucket=bucket,
            groups=groups,
            filters=filters,
            detail=detail,
        )
        if compare and rows
        else None
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
                "previous": None if before is None else before(row),
            }
        )
    return {
        "from": start,
        "to": to,
        "bucket": bucket,
        "width_s": BUCKETS[bucket][0],
        "group_by": groups,
        "detail": detail,
        "compare": compare,
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
    compare: CompareQuery = None,
) -> dict[str, Any]:
    """Energy consumption in tonnes of standard coal equivalent (tce, GB/T 2589-2020) per
    bucket and group, with each carrier's activity and tce: the windows, buckets, groups,
    filters and tenancy of ``/v1/emissions`` (no ``gas`` grouping). Each carrier's quantity is
    converted with the GB/T 2589 coefficient in force on its local day; electricity at the
    park's ``tce_electricity_convention`` (equal value 当量值 0.1229 kgce/kWh, or the
    equivalent value 等价值 published for the year). Water and outputs are not energy."""
    _range(start, to, compare)
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
    before: dict[tuple[Any, ...], energy.EnergyRow] = {}
    zone = None
    if compare and rows:
        zone = await shapes.zone_of(conn, filters)
        for old in await energy.rows(
            conn,
            start=earlier_bound(start, zone, compare),
            end=earlier_bound(to, zone, compare),
            bucket=bucket,
            group_by=groups,
            filters=filters,
        ):
            before[(old.bucket_start, old.group)] = old
    items = []
    for row in rows:
        total = row.total()
        previous = None
        if compare and zone is not None:
            previous = _previous_energy(row, before, zone, compare)
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
                "previous": previous,
            }
        )
    return {
        "from": start,
        "to": to,
        "bucket": bucket,
        "group_by": groups,
        "compare": compare,
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


@router.get("/energy-flows", response_model=EnergyFlows, responses=_ERRORS)
async def get_energy_flows(
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    park_id: IdsQuery = None,
    enterprise_id: IdsQuery = None,
) -> dict[str, Any]:
    """The flow of [from, to) through park -> enterprise -> energy carrier -> source category
    (the levels of a Sankey diagram), each node and link with its counted tCO2e (as
    ``/v1/emissions`` counts it, docs/boundary.md) and its energy in tce (as ``/v1/energy``,
    GB/T 2589-2020). Output and water meters are left out; removals are negative tCO2e.
    Tenancy as ``/v1/emissions``: an enterprise key sees its own enterprise's flow."""
    _range(start, to)
    filters = emissions.Filters(
        parks=park_id,
        enterprises=enterprises_for(who, enterprise_id),
        sites=None,
        meters=None,
        categories=None,
    )
    found = await shapes.flows(conn, start=start, end=to, filters=filters)
    names = await _names(conn, found)
    levels = list(shapes.NodeKind)

    def node_id(key: tuple[shapes.NodeKind, str]) -> str:
        return f"{key[0].value}/{key[1]}"

    def order(key: tuple[shapes.NodeKind, str], flow: shapes.Flow) -> tuple[Any, ...]:
        return (levels.index(key[0]), -flow.tco2e, key[1])

    nodes = sorted(found.nodes.items(), key=lambda kv: order(kv[0], kv[1]))
    links = sorted(found.links.items(), key=lambda kv: (*order(kv[0][0], kv[1]), kv[0][1][1]))
    return {
        "from": start,
        "to": to,
        "levels": levels,
        "nodes": [
            {
                "id": node_id(key),
                "kind": key[0],
                "key": key[1],
                "name": names.get(key),
                "tco2e": dec(flow.tco2e),
                "tce": dec(flow.tce()),
            }
            for key, flow in nodes
        ],
        "links": [
            {
                "source": node_id(a),
                "target": node_id(b),
                "tco2e": dec(flow.tco2e),
                "tce": dec(flow.tce()),
            }
            for (a, b), flow in links
        ],
    }


async def _names(
    conn: AsyncConnection[Any], found: shapes.Flows
) -> dict[tuple[shapes.NodeKind, str], str]:
    parks = [k for kind, k in found.nodes if kind is shapes.NodeKind.PARK]
    ents = [k for kind, k in found.nodes if kind is shapes.NodeKind.ENTERPRISE]
    cur = await conn.execute(
        "SELECT 'park', park_id, name FROM park WHERE park_id = ANY(%s)"
        " UNION ALL SELECT 'enterprise', enterprise_id, name FROM enterprise"
        " WHERE enterprise_id = ANY(%s)",
        (parks, ents),
    )
    return {(shapes.NodeKind(k), str(i)): str(n) for k, i, n in await cur.fetchall()}


@router.get("/heatmap", response_model=Heatmap, responses=_ERRORS)
async def get_heatmap(
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    metric: shapes.Metric = shapes.Metric.TCO2E,
    park_id: IdsQuery = None,
    enterprise_id: IdsQuery = None,
    site_id: IdsQuery = None,
    meter_id: IdsQuery = None,
    source_category: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """An hour-of-day x day grid of [from, to) (at most 366 days): counted tCO2e (``tco2e``,
    as ``/v1/emissions``) or energy in tce (``tce``, as ``/v1/energy``) per park-local day and
    hour, one cell per hour with stored windows. Filters and tenancy as ``/v1/emissions``."""
    _range(start, to)
    filters = emissions.Filters(
        parks=park_id,
        enterprises=enterprises_for(who, enterprise_id),
        sites=site_id,
        meters=meter_id,
        categories=source_category,
    )
    cells = await shapes.heatmap(conn, start=start, end=to, metric=metric, filters=filters)
    return {
        "from": start,
        "to": to,
        "metric": metric,
        "unit": "tCO2e" if metric is shapes.Metric.TCO2E else "tce",
        "cells": [
            {
                "park_id": c.park_id,
                "day": c.day,
                "hour": c.hour,
                "value": dec(c.value),
                "windows": c.windows,
            }
            for c in cells
        ],
    }
