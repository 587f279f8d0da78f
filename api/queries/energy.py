"""``GET /v1/energy``: energy consumption in tonnes of standard coal equivalent (GB/T 2589-2020).

The same stored windows, buckets, groups, filters and tenancy as ``GET /v1/emissions``: the
activity of each energy carrier per bucket, group and park (``parts``) is converted with the
coefficient version in force on its local day (or local month: coefficient versions span whole
months, ``accounting.energy``) under the park's ``tce_electricity_convention``. Water, outputs,
fugitive gases and sinks are not energy and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from accounting.carriers import Carrier
from accounting.categories import SourceCategory
from accounting.energy import ElectricityConvention, EnergySums, EnergyTotal, energy_carriers
from accounting.report import ACTIVITY_ONLY
from api.queries import emissions
from api.queries.enums import Bucket, GroupBy
from api.queries.parts import parts

# Output and water meters, and sinks (removals, whatever their meter measures), use no energy.
NOT_ENERGY = frozenset({ACTIVITY_ONLY, SourceCategory.GREEN_SPACE_SINK.value})


@dataclass
class EnergyRow:
    bucket_start: datetime
    bucket_end: datetime
    group: tuple[str | None, ...]
    sums: EnergySums
    windows: int = 0

    def total(self) -> EnergyTotal:
        return self.sums.total()


async def rows(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: list[GroupBy],
    filters: emissions.Filters,
    whole: bool = False,
) -> list[EnergyRow]:
    """Energy rows per bucket and group, in the order of ``GET /v1/emissions``; ``whole``: one
    row per group over all of [start, end) (the buckets only pick coefficient versions)."""
    out: dict[tuple[Any, ...], EnergyRow] = {}
    for part in await parts(
        conn, start=start, end=end, bucket=bucket, group_by=group_by, filters=filters
    ):
        carrier = Carrier(part.carrier)
        if carrier not in energy_carriers() or part.source_category in NOT_ENERGY:
            continue
        convention = ElectricityConvention(part.park.tce_electricity_convention)
        span = (start, end) if whole else (part.bucket_start, part.bucket_end)
        key = (*span, part.group)
        if key not in out:
            out[key] = EnergyRow(*span, part.group, EnergySums(convention))
        out[key].sums.add(carrier, part.activity, part.day, convention)
        out[key].windows += part.windows
    return sorted(out.values(), key=_order)


def _order(r: EnergyRow) -> tuple[Any, ...]:
    # bucket, then group keys with nulls first, as /v1/emissions orders its rows
    return (r.bucket_start, r.bucket_end, *((k is not None, k or "") for k in r.group))
