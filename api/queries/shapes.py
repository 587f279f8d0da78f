"""Views operators read besides the time series: the energy flow through the park and the load
shape of its hours.

``flows``: park -> enterprise -> energy carrier -> source category, each link with its tCO2e
and energy in tce (GB/T 2589-2020, the coefficients of ``/v1/energy``), counted as the boundary
counts (docs/boundary.md: sub-meters and meters outside the boundary left out, exports netted),
so the park node equals ``/v1/emissions`` grouped by park over the same range. Output and water
meters (activity only) carry neither and are left out; a sink's removals are negative tCO2e.

``heatmap``: one cell per park-local day and hour of the day (GB 17167-2006 clause 4.3.2 asks
for metering that shows consumption per period; the hour-of-day by day grid is how a load shape
is read). Local hours follow the park's time zone; in a zone with daylight saving the repeated
hour sums both UTC hours and the skipped hour has no cell.

Both read the ``parts`` of ``api.queries.parts`` (one ``emissions.query`` over the rollups), so
tenancy and filters are those of ``/v1/emissions``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from accounting.carriers import Carrier
from accounting.energy import ElectricityConvention, EnergySums, energy_carriers
from accounting.report import ACTIVITY_ONLY
from api.errors import ApiError
from api.queries import emissions
from api.queries.energy import NOT_ENERGY
from api.queries.enums import Bucket, GroupBy
from api.queries.parts import Part, parts


class NodeKind(StrEnum):
    PARK = "park"
    ENTERPRISE = "enterprise"
    CARRIER = "carrier"
    SOURCE_CATEGORY = "source_category"


class Metric(StrEnum):
    TCO2E = "tco2e"
    TCE = "tce"


@dataclass
class Flow:
    """tCO2e and energy summed over the parts of one node or link."""

    tco2e: Decimal = Decimal(0)
    energy: EnergySums = field(
        default_factory=lambda: EnergySums(ElectricityConvention.EQUAL_VALUE)
    )

    def add(self, part: Part) -> None:
        self.tco2e += part.tco2e
        if part.source_category not in NOT_ENERGY:
            convention = ElectricityConvention(part.park.tce_electricity_convention)
            self.energy.add(Carrier(part.carrier), part.activity, part.day, convention)

    def tce(self) -> float | None:
        """tce of the energy carriers in it; None without one, or where a day has no
        coefficient (nothing is guessed)."""
        total = self.energy.total()
        return total.tce if total.carriers else None


NodeKey = tuple[NodeKind, str]


@dataclass
class Flows:
    nodes: dict[NodeKey, Flow]
    links: dict[tuple[NodeKey, NodeKey], Flow]


def _counted(part: Part) -> bool:
    # Outputs and water meters carry activity only: no emissions and no energy to show.
    return part.source_category != ACTIVITY_ONLY


async def flows(
    conn: AsyncConnection[Any], *, start: datetime, end: datetime, filters: emissions.Filters
) -> Flows:
    """Nodes and links of park -> enterprise -> carrier -> source category in [start, end).
    Carriers and source categories are park-wide nodes: each enterprise's flow joins them."""
    found = await parts(
        conn,
        start=start,
        end=end,
        # local months pick coefficient versions exactly (versions span whole months)
        bucket=Bucket.MONTH,
        group_by=[GroupBy.ENTERPRISE],
        filters=filters,
    )
    out = Flows({}, {})
    for part in filter(_counted, found):
        enterprise = str(part.group[0])
        path: list[NodeKey] = [
            (NodeKind.PARK, part.park_id),
            (NodeKind.ENTERPRISE, enterprise),
            (NodeKind.CARRIER, part.carrier),
            (NodeKind.SOURCE_CATEGORY, part.source_category),
        ]
        for node in path:
            out.nodes.setdefault(node, Flow()).add(part)
        for link in itertools.pairwise(path):
            out.links.setdefault(link, Flow()).add(part)
    return out


@dataclass(frozen=True, slots=True)
class Cell:
    park_id: str
    day: date  # the park-local day
    hour: int  # 0..23, park-local
    value: float | Decimal | None  # None: tce where a day has no coefficient
    windows: int


MAX_DAYS = 366


async def heatmap(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    metric: Metric,
    filters: emissions.Filters,
) -> list[Cell]:
    """Cells of (park, local day, local hour) in [start, end), ordered by park, day, hour. Hour
    buckets are UTC hours; a park with a whole-hour offset maps each onto one local hour."""
    if end - start > timedelta(days=MAX_DAYS):
        raise ApiError(422, f"a heatmap covers at most {MAX_DAYS} days per query")
    cells: dict[tuple[str, date, int], Flow] = {}
    windows: dict[tuple[str, date, int], int] = {}
    zones: dict[str, ZoneInfo] = {}
    for part in await parts(
        conn, start=start, end=end, bucket=Bucket.HOUR, group_by=[GroupBy.PARK], filters=filters
    ):
        if metric is Metric.TCE and (
            part.source_category in NOT_ENERGY or Carrier(part.carrier) not in energy_carriers()
        ):
            continue
        if not _counted(part):
            continue
        zone = zones.setdefault(part.park.timezone, ZoneInfo(part.park.timezone))
        local = part.bucket_start.astimezone(zone)  # part.day is this local day already
        key = (part.park_id, local.date(), local.hour)
        cells.setdefault(key, Flow()).add(part)
        windows[key] = windows.get(key, 0) + part.windows
    out = []
    for key in sorted(cells):
        flow = cells[key]
        value: float | Decimal | None = flow.tco2e if metric is Metric.TCO2E else flow.tce()
        out.append(Cell(key[0], key[1], key[2], value, windows[key]))
    return out


_ZONES = """
SELECT DISTINCT p.timezone FROM park p
WHERE (%(parks)s::text[] IS NULL OR p.park_id = ANY(%(parks)s))
  AND (%(enterprises)s::text[] IS NULL OR EXISTS (
        SELECT 1 FROM enterprise e
        WHERE e.park_id = p.park_id AND e.enterprise_id = ANY(%(enterprises)s)))
"""


async def zone_of(conn: AsyncConnection[Any], filters: emissions.Filters) -> ZoneInfo:
    """The one time zone of the parks a query covers, whose calendar a comparison follows; a
    query over parks in several zones must name its park (its buckets are each park's own)."""
    cur = await conn.execute(_ZONES, {"parks": filters.parks, "enterprises": filters.enterprises})
    zones = sorted(str(z) for (z,) in await cur.fetchall())
    if len(zones) > 1:
        raise ApiError(
            422,
            "compare follows one park calendar: these parks are in several time zones"
            f" ({', '.join(zones)}); filter on park_id",
        )
    return ZoneInfo(zones[0] if zones else "UTC")
