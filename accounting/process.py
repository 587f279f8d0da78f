"""Industrial process emissions: CO2 released by a raw material's decomposition (6.3.1 c).

Carbonates give off CO2 when calcined: E = m x EF x purity x F, with EF the stoichiometric
tCO2 per t of pure carbonate (2006 IPCC Guidelines Vol 3 Ch 2, Table 2.1; GB/T 32151 sector
parts use the same figures), ``purity`` the carbonate's mass fraction in the material and ``F``
the fraction calcined. This is not a combustion formula: no NCV, no oxidation rate. Factors live
in ``data/process_factors.csv`` with their source in each row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cache

from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, compose_factor
from accounting.datafile import Evidence, package_text, parse_csv
from accounting.gwp import Gas, GwpSet
from accounting.regions import NATIONAL

PROCESS_FILE = "process_factors.csv"
COLUMNS = (
    "key",
    "material",
    "gas",
    "value",
    "unit",
    "source",
    "table",
    "edition",
    "evidence",
    "note",
)


class ProcessError(ValueError):
    """An unknown process material, or a purity / calcination fraction outside (0, 1]."""


@dataclass(frozen=True, slots=True)
class ProcessFactor:
    """Tonnes of ``gas`` released per tonne of the pure material, with its source."""

    key: str
    material: str
    gas: Gas
    tonnes_per_tonne: float
    source: str
    table: str
    edition: str
    evidence: Evidence
    note: str


def parse_process_factors(text: str, filename: str) -> Mapping[str, ProcessFactor]:
    """Parse and validate the process factors; keys are unique, values per tonne in (0, 1]."""
    found: dict[str, ProcessFactor] = {}
    for rec in parse_csv(text, filename, COLUMNS):
        key, value = rec.text("key"), rec.number("value")
        if key in found:
            raise rec.fail("key", f"{key!r} appears twice")
        if rec.text("unit") != "tCO2/t" or rec.choice("gas", Gas) is not Gas.CO2:
            raise rec.fail("unit", "process factors are tCO2 per t of material")
        if not 0 < value <= 1:
            # No carbonate releases more than its own mass of CO2.
            raise rec.fail("value", f"{value} tCO2/t is outside (0, 1]")
        found[key] = ProcessFactor(
            key,
            rec.text("material"),
            Gas.CO2,
            value,
            rec.text("source"),
            rec.text("table"),
            rec.text("edition"),
            rec.choice("evidence", Evidence),
            rec.optional_text("note"),
        )
    return found


@cache
def load_process_factors() -> Mapping[str, ProcessFactor]:
    """The packaged process factors, validated once per process."""
    return parse_process_factors(package_text(PROCESS_FILE), PROCESS_FILE)


def process_factor_by_key(key: str) -> ProcessFactor:
    factors = load_process_factors()
    if key not in factors:
        raise ProcessError(f"unknown process material {key!r}; known: {', '.join(sorted(factors))}")
    return factors[key]


def process_factor(
    key: str,
    *,
    gwp_set: GwpSet,
    on: date,
    purity: float = 1.0,
    calcination: float = 1.0,
) -> ResolvedFactor:
    """Tonnes of CO2 (and CO2e) per tonne of material ``key``: EF x purity x calcination."""
    for name, value in (("purity", purity), ("calcination", calcination)):
        if not 0 < value <= 1:
            raise ProcessError(f"{name} is a fraction in (0, 1], got {value}")
    found = process_factor_by_key(key)
    per_t = found.tonnes_per_tonne * purity * calcination
    composed = compose_factor(
        Carrier.PROCESS_MATERIAL, {found.gas: per_t}, gwp_set=gwp_set, on=on, region=NATIONAL
    )
    return replace(composed, keys=(key,))
