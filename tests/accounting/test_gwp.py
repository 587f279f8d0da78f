"""GWP tables: AR4/AR5/AR6 100-year values, complete per set, each with its IPCC table."""

from __future__ import annotations

import pytest

from accounting.datafile import DataFileError
from accounting.gwp import (
    COLUMNS,
    Gas,
    GwpNotFoundError,
    GwpSet,
    GwpTable,
    gwp,
    load_gwp_table,
    parse_gwp,
)


@pytest.mark.parametrize(
    ("gas", "ar4", "ar5", "ar6"),
    [
        (Gas.CO2, 1, 1, 1),
        (Gas.CH4, 25, 28, 27.0),
        (Gas.N2O, 298, 265, 273),
        (Gas.SF6, 22800, 23500, 25200),
        (Gas.NF3, 17200, 16100, 17400),
        (Gas.HFC_134A, 1430, 1300, 1530),
        (Gas.CF4, 7390, 6630, 7380),
    ],
)
def test_reference_values_per_assessment_report(
    gas: Gas, ar4: float, ar5: float, ar6: float
) -> None:
    assert (gwp(gas, GwpSet.AR4), gwp(gas, GwpSet.AR5), gwp(gas, GwpSet.AR6)) == (ar4, ar5, ar6)


def test_ar6_fossil_methane_is_higher_than_combustion_and_biogenic_methane() -> None:
    assert gwp(Gas.CH4_FOSSIL, GwpSet.AR6) == 29.8
    assert gwp(Gas.CH4, GwpSet.AR6) == 27.0


def test_every_set_covers_every_gas_and_cites_an_ipcc_table() -> None:
    table = load_gwp_table()
    for gwp_set in GwpSet:
        for gas in Gas:
            entry = table.entries[(gwp_set, gas)]
            assert entry.source.startswith("IPCC") and entry.table


def _text(rows: list[str]) -> str:
    return "\n".join([",".join(COLUMNS), *rows]) + "\n"


def _complete_rows(skip: str = "") -> list[str]:
    return [f"{s},{g},{1 if g == 'CO2' else 10},IPCC,t," for s in GwpSet for g in Gas if g != skip]


def test_a_set_missing_a_gas_is_a_load_error() -> None:
    with pytest.raises(DataFileError, match=r"AR4 lacks \['SF6'\]"):
        parse_gwp(_text(_complete_rows(skip="SF6")), "g.csv")


def test_co2_gwp_other_than_one_is_a_load_error() -> None:
    rows = [r.replace("AR5,CO2,1,", "AR5,CO2,2,") for r in _complete_rows()]
    with pytest.raises(DataFileError, match="field 'value': the GWP of CO2 is 1"):
        parse_gwp(_text(rows), "g.csv")


def test_a_duplicated_gas_is_a_load_error() -> None:
    rows = _complete_rows()
    with pytest.raises(DataFileError, match="field 'gas': N2O appears twice in AR6"):
        parse_gwp(_text([*rows, "AR6,N2O,300,IPCC,t,"]), "g.csv")


def test_lookup_of_a_gas_the_table_lacks_names_set_and_gas() -> None:
    entries = dict(parse_gwp(_text(_complete_rows()), "g.csv").entries)
    del entries[(GwpSet.AR5, Gas.NF3)]
    with pytest.raises(GwpNotFoundError, match="AR5 has no 100-year GWP for NF3"):
        GwpTable(entries).value(Gas.NF3, GwpSet.AR5)
