"""Conversion parameters: versioned rows with sources, validated on load."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.carriers import Carrier
from accounting.datafile import DataFileError
from accounting.parameters import (
    COLUMNS,
    ParameterNotFoundError,
    Quantity,
    load_parameters,
    parse_parameters,
    select_parameter,
)

HEADER = ",".join(COLUMNS)
ROW = "density.diesel,diesel,density,{value},{unit},{start},{end},src,tab,ed,unverified,"


def _text(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_every_packaged_parameter_names_its_source() -> None:
    assert all(p.source and p.table and p.edition for p in load_parameters())


def test_the_version_valid_on_the_date_is_selected() -> None:
    rows = parse_parameters(
        _text(
            ROW.format(value=0.83, unit="kg/L", start="2017-01-01", end="2022-12-31"),
            ROW.format(value=0.84, unit="kg/L", start="2023-01-01", end=""),
        ),
        "p.csv",
    )
    pick = select_parameter(Quantity.DENSITY, Carrier.DIESEL, date(2020, 5, 1), rows)
    assert pick.value == 0.83
    assert select_parameter(Quantity.DENSITY, Carrier.DIESEL, None, rows).value == 0.84


def test_overlapping_versions_are_rejected() -> None:
    with pytest.raises(DataFileError, match=r"p\.csv:3: field 'valid_from': overlaps"):
        parse_parameters(
            _text(
                ROW.format(value=0.83, unit="kg/L", start="2017-01-01", end=""),
                ROW.format(value=0.84, unit="kg/L", start="2023-01-01", end=""),
            ),
            "p.csv",
        )


def test_a_unit_that_does_not_fit_the_quantity_is_rejected() -> None:
    with pytest.raises(DataFileError, match="field 'unit': 'kg/m3' must be 'kg/L'"):
        parse_parameters(
            _text(ROW.format(value=835, unit="kg/m3", start="2017-01-01", end="")), "p.csv"
        )


def test_non_positive_values_and_reversed_periods_are_rejected() -> None:
    with pytest.raises(DataFileError, match="field 'value'"):
        parse_parameters(
            _text(ROW.format(value=0, unit="kg/L", start="2017-01-01", end="")), "p.csv"
        )
    with pytest.raises(DataFileError, match="field 'valid_to'"):
        parse_parameters(
            _text(ROW.format(value=0.8, unit="kg/L", start="2017-01-01", end="2016-01-01")), "p.csv"
        )


def test_missing_parameter_names_quantity_carrier_and_date() -> None:
    with pytest.raises(ParameterNotFoundError, match="steam_enthalpy parameter for carrier 'heat'"):
        select_parameter(Quantity.STEAM_ENTHALPY, Carrier.HEAT, date(2024, 1, 1))
