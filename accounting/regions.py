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


_ORDER = (RegionLevel.NATIONAL, RegionLevel.GRID, RegionLevel.PROVINCE)


def level_chain(code: str, level: RegionLevel) -> tuple[str, ...]:
    """The regions a park in ``code`` takes its grid factor from at ``level``, then coarser.

    One level for every year of the park (MEE/NBS publishes national, regional-grid and
    provincial average factors; mixing them across years makes the series jump): a province
    park at the ``grid`` level uses its regional grid, at ``national`` the national factor. A
    region coarser than ``level`` is its own first entry (a park registered at grid level has
    no province). The entries after the first are the documented fallback, used only for a day
    the first has no factor; ``accounting.window_co2e`` flags such windows.
    """
    chain = region_chain(code)
    regions = load_regions()
    wanted = _ORDER.index(level)
    kept = tuple(c for c in chain if _ORDER.index(regions[c].level) <= wanted)
    return kept


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
