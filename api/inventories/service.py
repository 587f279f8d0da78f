"""Computing, storing and reading stored inventories (GB/T 32150 clause 6.3.1 f, 7.3).

An inventory is computed from the stored hourly windows (``store.reports.window_groups``, the
one selection of the windows that count, leaving out the meters a confirmed record replaces)
and the confirmed activity records of the period; ``accounting`` does every sum. Its content is
stored as canonical JSON (keys sorted, no spaces, UTF-8, floats as their shortest exact text)
with the sha256 of exactly those bytes, in one transaction with its audit entry.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date
from typing import Any

from psycopg import AsyncConnection

from accounting.activity import ActivityError, activity_lines, catalogue_energy_factor
from accounting.co2e import FactorResolutionError
from accounting.factor_rows import FactorRow
from accounting.factors import NoFactorError, load_catalogue
from accounting.gwp import GwpSet
from accounting.inventory import InventoryError, Totals
from accounting.inventory_record import RecordFigures, RecordLine, record_figures
from accounting.report import Breakdown, WindowGroup
from accounting.report_period import ReportPeriod
from api import audit
from api.errors import ApiError
from api.inventories import flows
from api.inventories.enums import Boundary
from api.inventories.models import (
    EmissionSource,
    EnterpriseRef,
    EnterpriseTotal,
    Entity,
    ExcludedMeter,
    FactorSource,
    GasTotal,
    InventoryContent,
    InventoryOut,
    InventorySummary,
    InventoryTotals,
    RecordUsed,
)
from api.keys import Principal
from api.reports.service import ResidualMix, period_out, quality
from store import activity as store_activity
from store import inventories as store
from store.activity import ActivityRow
from store.reports import ParkInfo, Scope, window_groups

STANDARD = (
    "GB/T 32150-2015 General guideline of greenhouse gas emissions accounting and reporting "
    "for industrial enterprises; sources by clause 6.3.1 c; ISO 14064-1:2018 categories"
)
METHOD = [
    "Metered sources: activity data x emission factor per meter and hourly window (6.3.1 e), "
    "as the stored windows hold them, summed over the period's local days per enterprise, "
    "source category, carrier, unit and factor version.",
    "Manual sources: confirmed activity records (their current version), each counted by the "
    "share of its days inside the period; a meter a record replaces is left out for the "
    "record's period, so nothing is counted twice.",
    "Per gas: tonnes x GWP of the inventory's GWP set; purchased electricity location-based at "
    "the grid average and market-based at the residual mix, side by side.",
    "Removals by green-space sinks are separate lines and a separate total, never netted.",
]
DEFAULT_GWP_SET = GwpSet.AR5  # the stream's default set when no window names one


def canonical(content: InventoryContent) -> str:
    """The content as canonical JSON: the exact text that is stored and hashed."""
    return canonical_json(content.model_dump(mode="json"))


def canonical_json(data: Any) -> str:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _rows_of() -> Any:
    by_version: dict[str, list[FactorRow]] = defaultdict(list)
    for row in load_catalogue().rows:
        by_version[row.version].append(row)

    def rows_of(version: str) -> tuple[FactorRow, ...]:
        return tuple(by_version.get(version, ()))

    return rows_of


def _gwp_set(groups: list[WindowGroup]) -> GwpSet:
    """The windows' GWP set (one, or ``record_figures`` refuses the mix), else the default."""
    sets = sorted({g.gwp_set for g in groups if g.gwp_set})
    return GwpSet(sets[0]) if sets else DEFAULT_GWP_SET


def _breakdowns(location: Totals, market: Totals, available: bool) -> list[Breakdown]:
    keys = sorted(set(location.by_category) | set(market.by_category))
    return [
        Breakdown(
            k.value,
            location.by_category.get(k, 0.0),
            market.by_category.get(k, 0.0) if available else None,
        )
        for k in keys
    ]


def _iso(location: Totals, market: Totals, available: bool) -> list[Breakdown]:
    keys = sorted(set(location.by_iso_category) | set(market.by_iso_category))
    return [
        Breakdown(
            k.value,
            location.by_iso_category.get(k, 0.0),
            market.by_iso_category.get(k, 0.0) if available else None,
        )
        for k in keys
    ]


def _sources(lines: tuple[RecordLine, ...]) -> list[EmissionSource]:
    origins: dict[tuple[str, str, str, str, str | None], set[str]] = defaultdict(set)
    for line in lines:
        key = (line.enterprise_id, line.source_category, line.iso_category, line.carrier)
        origins[(*key, line.material)].add(line.origin)
    return [
        EmissionSource(
            enterprise_id=k[0],
            source_category=k[1],
            iso_category=k[2],
            carrier=k[3],
            material=k[4],
            origins=sorted(v),
        )
        for k, v in sorted(origins.items(), key=lambda kv: tuple(str(p) for p in kv[0]))
    ]


def _factor_sources(lines: tuple[RecordLine, ...]) -> list[FactorSource]:
    found: dict[str, str] = {}
    for line in lines:
        for text in line.factor_sources:
            version, _, source = text.partition(": ")
            found.setdefault(version, source)
        for version in line.factor_versions:
            found.setdefault(
                version, "the mass of the gas released itself (1 t per t); GWP as gwp_source"
            )
    return [FactorSource(version=v, source=s) for v, s in sorted(found.items())]


def _records(rows: list[ActivityRow]) -> list[RecordUsed]:
    return [
        RecordUsed(
            record=f"{r.record_id}v{r.version}",
            enterprise_id=r.enterprise_id,
            source_category=r.source_category,
            carrier=r.carrier,
            material=r.material,
            quantity=r.quantity,
            unit=r.unit,
            period_start=r.period_start,
            period_end=r.period_end,
            share=r.share,
            document_ref=r.document_ref,
            evidence_sha256=r.evidence_sha256,
            replaces_meters=list(r.replaces_meters),
        )
        for r in rows
    ]


async def compute(
    conn: AsyncConnection[Any],
    *,
    park: ParkInfo,
    enterprise_id: str | None,
    period: ReportPeriod,
    today: date,
) -> InventoryContent:
    """The inventory's content; ``ApiError`` 422 when it cannot be accounted as stored."""
    if period.last > today:
        raise ApiError(
            422, f"the period {period.label} ends after today ({today}, {park.timezone})"
        )
    records = await store_activity.confirmed_activity(
        conn, park_id=park.park_id, enterprise_id=enterprise_id, start=period.start, end=period.last
    )
    replaced = await store_activity.replaced_meters(
        conn, park_id=park.park_id, enterprise_id=enterprise_id, start=period.start, end=period.last
    )
    scope = Scope(
        park.park_id, park.timezone, enterprise_id, period.start, period.end, tuple(replaced)
    )
    groups = await window_groups(conn, scope=scope)
    gwp_set = _gwp_set(groups)
    try:
        recorded = activity_lines(
            [r.to_input() for r in records],
            gwp_set=gwp_set,
            energy_factor=catalogue_energy_factor(
                load_catalogue(), region=park.region, gwp_set=gwp_set
            ),
        )
        figs = record_figures(
            groups,
            recorded,
            gwp_set=gwp_set,
            on=period.start,
            region=park.region,
            residual=ResidualMix(park.region),
            rows_of=_rows_of(),
        )
    except (ActivityError, InventoryError, NoFactorError, FactorResolutionError, ValueError) as exc:
        raise ApiError(422, f"the inventory cannot be computed: {exc}") from exc
    notes = list(figs.notes)
    if period.last == today:
        notes.append(f"The period includes {today}, which had not ended when this was computed.")
    return _content(
        park=park,
        enterprise_id=enterprise_id,
        period=period,
        figs=figs,
        records=records,
        replaced=[
            ExcludedMeter(
                meter_id=r.meter_id,
                record=f"{r.record_id}v{r.version}",
                starts_at=r.starts_at,
                ends_at=r.ends_at,
            )
            for r in replaced
        ],
        quality=await quality(conn, scope=scope, groups=groups),
        notes=notes,
    )


def _content(
    *,
    park: ParkInfo,
    enterprise_id: str | None,
    period: ReportPeriod,
    figs: RecordFigures,
    records: list[ActivityRow],
    replaced: list[ExcludedMeter],
    quality: Any,
    notes: list[str],
) -> InventoryContent:
    inv, available = figs.inventory, figs.market_available
    loc, mkt = inv.location, inv.market
    inside = (
        {enterprise_id: park.enterprises.get(enterprise_id, enterprise_id)}
        if enterprise_id
        else park.enterprises
    )
    subjects = sorted(set(loc.by_subject) | set(mkt.by_subject) | set(inv.removals_by_subject))
    return InventoryContent(
        standard=STANDARD,
        entity=Entity(
            park_id=park.park_id,
            park_name=park.name,
            boundary=Boundary.ENTERPRISE if enterprise_id else Boundary.PARK,
            enterprise_id=enterprise_id,
            enterprise_name=park.enterprises.get(enterprise_id) if enterprise_id else None,
            enterprises=[EnterpriseRef(enterprise_id=e, name=n) for e, n in sorted(inside.items())],
        ),
        period=period_out(period, park.timezone),
        gwp_set=inv.gwp_set.value,
        method=METHOD,
        totals=InventoryTotals(
            location_tco2e=loc.tco2e,
            market_tco2e=mkt.tco2e if available else None,
            removals_tco2=inv.removals_tco2,
        ),
        emission_sources=_sources(figs.lines),
        lines=list(figs.lines),
        removals=list(figs.removals),
        by_source_category=_breakdowns(loc, mkt, available),
        by_iso_category=_iso(loc, mkt, available),
        by_gas=[
            GasTotal(
                gas=g.value,
                location_tco2e=loc.by_gas.get(g, 0.0),
                market_tco2e=mkt.by_gas.get(g, 0.0) if available else None,
            )
            for g in sorted(set(loc.by_gas) | set(mkt.by_gas))
        ],
        by_enterprise=[
            EnterpriseTotal(
                enterprise_id=s,
                location_tco2e=loc.by_subject.get(s, 0.0),
                market_tco2e=mkt.by_subject.get(s, 0.0) if available else None,
                removals_tco2=inv.removals_by_subject.get(s, 0.0),
            )
            for s in subjects
        ],
        factor_versions=_factor_sources(figs.lines),
        activity_records=_records(records),
        excluded_meters=replaced,
        quality=quality,
        notes=notes,
    )


def summary(row: store.StoredInventory) -> InventorySummary:
    return InventorySummary(
        inventory_id=row.inventory_id,
        park_id=row.park_id,
        enterprise_id=row.enterprise_id,
        boundary=Boundary.ENTERPRISE if row.enterprise_id else Boundary.PARK,
        period_start=row.period_start,
        period_end=row.period_end,
        period_label=row.period_label,
        version=row.version,
        supersedes=row.supersedes,
        state=flows.state(row.superseded),
        gwp_set=row.gwp_set,
        location_tco2e=row.location_tco2e,
        market_tco2e=row.market_tco2e,
        removals_tco2=row.removals_tco2,
        content_sha256=row.content_sha256,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def detail(row: store.StoredInventory, content: str) -> InventoryOut:
    return InventoryOut(
        **summary(row).model_dump(), content=InventoryContent.model_validate_json(content)
    )


async def create(
    conn: AsyncConnection[Any],
    *,
    who: Principal,
    park: ParkInfo,
    enterprise_id: str | None,
    period: ReportPeriod,
    today: date,
) -> InventoryOut:
    """Compute and store the next version of the boundary's inventory for ``period``, with its
    audit entry, in one transaction."""
    content = await compute(
        conn, park=park, enterprise_id=enterprise_id, period=period, today=today
    )
    text = canonical(content)
    digest = sha256(text)
    async with conn.transaction():
        last = await store.latest(
            conn,
            park_id=park.park_id,
            enterprise_id=enterprise_id,
            period_start=period.start,
            period_end=period.last,
        )
        version, supersedes = flows.next_version(None if last is None else last[1])
        row = await store.insert(
            conn,
            store.NewInventory(
                park_id=park.park_id,
                enterprise_id=enterprise_id,
                period_start=period.start,
                period_end=period.last,
                period_label=period.label,
                gwp_set=content.gwp_set,
                location_tco2e=content.totals.location_tco2e,
                market_tco2e=content.totals.market_tco2e,
                removals_tco2=content.totals.removals_tco2,
                content=text,
                content_sha256=digest,
                created_by=who.actor,
            ),
            version=version,
            supersedes=last[0] if supersedes and last is not None else None,
        )
        await audit.record(
            conn,
            actor=who.actor,
            action="create",
            entity="inventory",
            entity_id=str(row.inventory_id),
            before=None,
            after=summary(row).model_dump(mode="json"),
        )
    return detail(row, text)
