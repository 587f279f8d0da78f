"""Regions an emission factor applies to: national, the seven regional grids, provinces.

Codes are ``CN``, ``CN-GRID-<NAME>`` and ISO 3166-2:CN province codes. A province belongs to
one regional grid (MEE/NBS grid definitions). Falling back from a province to its grid and to
the national factor is an accounting choice, so it is never implicit: ``region_chain`` spells
the chain out and the resolved factor records which region matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from accounting.datafile import DataFileError, package_text, parse_csv

REGIONS_FILE = "regions.csv"
COLUMNS = ("code", "level", "grid", "name_zh", "name_en", "source", "note")
NATIONAL = "CN"


class RegionLevel(StrEnum):
    NATIONAL = "national"
    GRID = "grid"
    PROVINCE = "province"


class UnknownRegionError(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown region code {code!r}; see accounting/data/{REGIONS_FILE}")


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    level: RegionLevel
    grid: str | None
    name_zh: str
    name_en: str


def parse_regions(text: str, filename: str) -> dict[str, Region]:
    """Parse and validate region rows: unique codes, each province inside a known grid."""
    regions: dict[str, Region] = {}
    for rec in parse_csv(text, filename, COLUMNS):
        code, level = rec.text("code"), rec.choice("level", RegionLevel)
        if code in regions:
            raise rec.fail("code", f"{code!r} appears twice")
        grid = rec.optional_text("grid") or None
        if (level is RegionLevel.PROVINCE) != (grid is not None):
            raise rec.fail("grid", "a province names its grid; other levels leave it empty")
        parent = regions.get(grid) if grid is not None else None
        if grid is not None and (parent is None or parent.level is not RegionLevel.GRID):
            raise rec.fail("grid", f"{grid!r} is not a grid listed above this row")
        regions[code] = Region(code, level, grid, rec.text("name_zh"), rec.text("name_en"))
    if NATIONAL not in regions:
        raise DataFileError(filename, 1, "code", f"the national region {NATIONAL!r} is missing")
    return regions


@cache
def load_regions() -> dict[str, Region]:
    """The packaged region table, validated once per process."""
    return parse_regions(package_text(REGIONS_FILE), REGIONS_FILE)


def region_chain(code: str) -> tuple[str, ...]:
    """``code``, then its grid (for a province), then the national region: most specific first."""
    regions = load_regions()
    region = regions.get(code)
    if region is None:
        raise UnknownRegionError(code)
    chain = [code]
    if region.grid is not None:
        chain.append(region.grid)
    if code != NATIONAL:
        chain.append(NATIONAL)
    return tuple(chain)
