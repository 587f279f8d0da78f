"""Region chains: province -> regional grid -> national, never widened implicitly."""

from __future__ import annotations

import pytest

from accounting.datafile import DataFileError
from accounting.regions import COLUMNS, UnknownRegionError, parse_regions, region_chain


def test_a_province_falls_back_to_its_grid_then_the_nation_only_when_asked() -> None:
    assert region_chain("CN-JS") == ("CN-JS", "CN-GRID-EAST", "CN")
    assert region_chain("CN-SC") == ("CN-SC", "CN-GRID-SOUTHWEST", "CN")
    assert region_chain("CN-GRID-NORTH") == ("CN-GRID-NORTH", "CN")
    assert region_chain("CN") == ("CN",)


def test_unknown_region_code_is_named() -> None:
    with pytest.raises(UnknownRegionError, match="'CN-XX'"):
        region_chain("CN-XX")


def _text(*rows: str) -> str:
    return "\n".join([",".join(COLUMNS), "CN,national,,全国,China,s,", *rows]) + "\n"


def test_a_province_must_name_a_grid_listed_before_it() -> None:
    with pytest.raises(DataFileError, match=r"r\.csv:3: field 'grid'"):
        parse_regions(_text("CN-JS,province,,江苏,Jiangsu,s,"), "r.csv")
    with pytest.raises(DataFileError, match="'CN-GRID-EAST' is not a grid"):
        parse_regions(_text("CN-JS,province,CN-GRID-EAST,江苏,Jiangsu,s,"), "r.csv")


def test_duplicate_codes_and_a_missing_national_row_are_rejected() -> None:
    with pytest.raises(DataFileError, match="'CN' appears twice"):
        parse_regions(_text("CN,national,,全国,China,s,"), "r.csv")
    with pytest.raises(DataFileError, match="national region 'CN' is missing"):
        parse_regions(",".join(COLUMNS) + "\nCN-GRID-EAST,grid,,华东,East,s,\n", "r.csv")
