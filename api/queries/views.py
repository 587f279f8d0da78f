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
from api.queries import emissions, performance, present, quality
from api.queries.common import dec, enterprises_for, next_link, page
from api.queries.enums import BUCKETS, Bucket, GroupBy
from api.queries.models import Emissions, IntensityPage, ProgressPage, QualityPage

router = APIRouter(prefix="/v1", tags=["queries"])
Reader = Annotated[Principal, Depends(require(Scope.EMISSIONS_READ))]
From = Annotated[AwareDatetime, Query(alias="from", description="Inclusive, with a UTC offset")]
To = Annotated[AwareDatetime, Query(description="Exclusive, with a UTC offset")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Ids = Annotated[list[str] | None, Query()]
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
    group_by: Annotated[list[GroupBy], Query()] = [GroupBy.ENTERPRISE],  # noqa: B006 - FastAPI copies
    park_id: Ids = None,
    enterprise_id: Ids = None,
    site_id: Ids = None,
    meter_id: Ids = None,
    source_category: Ids = None,
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
) -> dict[str, Any]:
    """tCO2e and activity per bucket and group, summed from stored windows starting in
    [from, to). Buckets of a day or longer are the park's local days, months, years."""
    _range(start, to)
    if bucket is Bucket.MINUTE and to - start > _MAX_MINUTE_SPAN:
        raise ApiError(422, "1-minute buckets cover at most 31 days per query")
    groups = list(dict.fromkeys(group_by))  # each dimension once, in the order asked
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
    items = []
    for row in rows:
        activity, tco2e, mass, completeness, windows = row[2 + n :]
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


@router.get("/intensity", response_model=IntensityPage, responses=_ERRORS)
async def get_intensity(
    request: Request,
    conn: DbDep,
    who: Reader,
    start: From,
    to: To,
    enterprise_id: Ids = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """tCO2e per tonne of product and per 10^4 CNY of output value, per enterprise (clause
    3.3.10), from the hour windows of its emission and output meters starting in [from, to)."""
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
    items = []
    for ent, tco2e, product, value in rows:
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
                }
            )
        items.append(
            {
                "enterprise_id": ent,
                "tco2e": {"value": dec(tco2e), "unit": "tCO2e"},
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
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    enterprise_id: Ids = None,
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
    enterprise_id: Ids = None,
    meter_id: Ids = None,
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
