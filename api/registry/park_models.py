"""Request and response bodies of ``/v1/parks``: a park's name, calendar (its time zone: local
days, months and years), how its factors are chosen (region and grid level, GB/T 32150-2015
6.3.1 e), its electricity tce convention (GB/T 2589-2020) and its default language."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field

from accounting.regions import RegionLevel, load_regions
from api.registry.common import ID_PATTERN, PatchBody
from api.registry.enums import Language, TceConvention
from api.registry.models import Strict


def _zone(name: str) -> str:
    # An IANA zone PostgreSQL and Python both know; "+08:00" is not a zone (no calendar rules).
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. Asia/Shanghai)") from exc
    return name


def _region(code: str) -> str:
    if code not in load_regions():
        raise ValueError(f"unknown region code {code!r} (accounting/data regions table)")
    return code


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]
Region = Annotated[str, Field(min_length=1, max_length=16), AfterValidator(_region)]


class ParkCreate(Strict):
    park_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZone = "Asia/Shanghai"
    region: Region = Field(
        default="CN", description="Region code whose grid factors apply (CN: national)"
    )
    grid_level: RegionLevel = Field(
        default=RegionLevel.GRID,
        description="national, grid (the province's regional grid) or province",
    )
    language: Language = Field(default=Language.ZH_CN, description="Default language: zh-CN, en")
    tce_electricity_convention: TceConvention = TceConvention.EQUAL_VALUE


class ParkPatch(PatchBody):
    """Fields to change. A new region, grid level or tce convention applies from now on;
    windows before it keep their factors until recomputed (`parkcarbon recompute`, 6.5)."""

    NOT_NULL = (
        "name",
        "timezone",
        "region",
        "grid_level",
        "language",
        "tce_electricity_convention",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: TimeZone | None = None
    region: Region | None = None
    grid_level: RegionLevel | None = None
    language: Language | None = None
    tce_electricity_convention: TceConvention | None = None


class Park(BaseModel):
    park_id: str
    name: str
    timezone: str
    region: str
    grid_level: RegionLevel
    language: Language
    tce_electricity_convention: TceConvention
    created_at: datetime
