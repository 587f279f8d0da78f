"""Greenhouse gases and their 100-year global warming potentials (clauses 3.3.5, 3.3.7, 3.3.8).

CO2e = mass of gas x GWP. The GWP set (IPCC AR4, AR5 or AR6) is a parameter of every
calculation and is recorded on every result; values live in ``data/gwp.csv`` with their table.

Methane: AR6 (Table 7.15) gives a fossil value (29.8) that includes the CO2 its carbon becomes,
and a non-fossil value (27.0). ``Gas.CH4`` uses the non-fossil value, right for combustion CH4
(its carbon is already counted as CO2 through the oxidation rate) and biogenic CH4;
``Gas.CH4_FOSSIL`` is for fugitive fossil methane (gas leaks). AR4 has one CH4 value for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from accounting.datafile import DataFileError, package_text, parse_csv

GWP_FILE = "gwp.csv"
COLUMNS = ("gwp_set", "gas", "value", "source", "table", "note")


class Gas(StrEnum):
    """The GHGs of clause 3.3.5 note 1 (GB/T 32150 3.1), with common HFCs and PFCs."""

    CO2 = "CO2"
    CH4 = "CH4"
    CH4_FOSSIL = "CH4-fossil"
    N2O = "N2O"
    SF6 = "SF6"
    NF3 = "NF3"
    HFC_23 = "HFC-23"
    HFC_32 = "HFC-32"
    HFC_125 = "HFC-125"
    HFC_134A = "HFC-134a"
    HFC_143A = "HFC-143a"
    HFC_152A = "HFC-152a"
    HFC_227EA = "HFC-227ea"
    HFC_236FA = "HFC-236fa"
    HFC_245FA = "HFC-245fa"
    CF4 = "CF4"
    C2F6 = "C2F6"
    C3F8 = "C3F8"
    C_C4F8 = "c-C4F8"


class GwpSet(StrEnum):
    """IPCC assessment report whose 100-year GWPs are in force."""

    AR4 = "AR4"
    AR5 = "AR5"
    AR6 = "AR6"


class GwpNotFoundError(LookupError):
    """The GWP set in force has no value for a gas."""


@dataclass(frozen=True, slots=True)
class GwpEntry:
    gwp_set: GwpSet
    gas: Gas
    value: float
    source: str
    table: str
    note: str


@dataclass(frozen=True, slots=True)
class GwpTable:
    """All GWP values, keyed by (set, gas)."""

    entries: Mapping[tuple[GwpSet, Gas], GwpEntry]

    def value(self, gas: Gas, gwp_set: GwpSet) -> float:
        entry = self.entries.get((gwp_set, gas))
        if entry is None:
            raise GwpNotFoundError(f"GWP set {gwp_set} has no 100-year GWP for {gas}")
        return entry.value


def parse_gwp(text: str, filename: str) -> GwpTable:
    """Parse and validate the GWP table; every set must cover every ``Gas`` exactly once."""
    entries: dict[tuple[GwpSet, Gas], GwpEntry] = {}
    last_line = 1
    for rec in parse_csv(text, filename, COLUMNS):
        last_line = rec.line
        gwp_set, gas = rec.choice("gwp_set", GwpSet), rec.choice("gas", Gas)
        value = rec.number("value")
        if value <= 0:
            raise rec.fail("value", f"{value} must be positive")
        if gas is Gas.CO2 and value != 1.0:
            raise rec.fail("value", "the GWP of CO2 is 1 by definition")
        if (gwp_set, gas) in entries:
            raise rec.fail("gas", f"{gas} appears twice in {gwp_set}")
        entries[(gwp_set, gas)] = GwpEntry(
            gwp_set, gas, value, rec.text("source"), rec.text("table"), rec.optional_text("note")
        )
    for gwp_set in GwpSet:
        missing = [gas.value for gas in Gas if (gwp_set, gas) not in entries]
        if missing:
            raise DataFileError(filename, last_line, "gas", f"{gwp_set} lacks {missing}")
    return GwpTable(entries)


@cache
def load_gwp_table() -> GwpTable:
    """The packaged GWP table, validated once per process."""
    return parse_gwp(package_text(GWP_FILE), GWP_FILE)


def gwp(gas: Gas, gwp_set: GwpSet) -> float:
    """100-year GWP of ``gas`` in ``gwp_set`` (t CO2e per t of gas)."""
    return load_gwp_table().value(gas, gwp_set)
