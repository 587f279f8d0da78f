"""Market-based tCO2e beside the location-based figure of ``GET /v1/emissions``
(``include_market=true``; GHG Protocol Scope 2 Guidance 2015, ch. 6 and 7.5).

The rule of the inventory report (``accounting.report``): purchased electricity of a meter
assigned a contractual instrument (its ``factor_key``: green electricity certificates, a green
power contract) counts at the instrument's factor, 0 kgCO2/kWh; every other purchased kWh at the
residual-mix factor valid on its park-local day in the park's region; every other source as
stored. The location-based ``tco2e`` never nets an instrument. Where a day of purchased
electricity has no residual-mix factor, the market-based figure of its row is null rather than
a number made up. Parts are read rounded to 1 g each.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from accounting.carriers import Carrier
from accounting.categories import SourceCategory
from accounting.factor_rows import MARKET_INSTRUMENTS
from accounting.report import INSTRUMENT_T_PER_KWH
from api.queries import emissions
from api.queries.enums import Bucket, GroupBy
from api.queries.parts import Part, parts
from api.reports.service import ResidualMix

RowKey = tuple[datetime, datetime, tuple[str | None, ...]]


def _market(part: Part, residual: ResidualMix) -> Decimal | None:
    if (
        part.source_category != SourceCategory.PURCHASED_ELECTRICITY.value
        or part.carrier != Carrier.ELECTRICITY.value
    ):
        return part.tco2e
    if part.factor_key in MARKET_INSTRUMENTS:
        return Decimal(repr(part.activity * INSTRUMENT_T_PER_KWH))
    factor = residual(part.day, None)  # a CO2 factor: the GWP set does not change it
    if factor is None:
        return None
    return Decimal(repr(part.activity * factor.tco2e_per_unit))


async def market_tco2e(
    conn: AsyncConnection[Any],
    *,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    group_by: list[GroupBy],
    filters: emissions.Filters,
) -> dict[RowKey, Decimal | None]:
    """Market-based tCO2e per (bucket_start, bucket_end, group values) row."""
    residuals: dict[str, ResidualMix] = {}
    out: dict[RowKey, Decimal | None] = {}
    for part in await parts(
        conn, start=start, end=end, bucket=bucket, group_by=group_by, filters=filters
    ):
        residual = residuals.setdefault(part.park.region, ResidualMix(part.park.region))
        key = (part.bucket_start, part.bucket_end, part.group)
        value = _market(part, residual)
        before = out.get(key, Decimal(0))
        out[key] = None if value is None or before is None else before + value
    return out
