"""Fugitive emissions: the mass of a greenhouse gas released x its GWP (clause 6.3.1 c).

A release is measured as the mass that escaped (a refrigerant top-up, an SF6 refill of
switchgear). A pure gas is one of ``gwp.Gas``; a refrigerant blend (R-410A ...) is split into its
components by mass (``data/refrigerant_blends.csv``, ASHRAE 34 nominal composition), each
weighted by the GWP of the set in force, so per-gas reporting stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from functools import cache

from accounting.carriers import Carrier
from accounting.co2e import ResolvedFactor, compose_factor
from accounting.datafile import DataFileError, package_text, parse_csv
from accounting.gwp import Gas, GwpSet
from accounting.regions import NATIONAL

BLENDS_FILE = "refrigerant_blends.csv"
COLUMNS = ("blend", "gas", "mass_fraction", "source", "table", "evidence", "note")
# Mass fractions of a blend must add up to 1 within rounding of the printed composition.
_SUM_TOLERANCE = 1e-9


class FugitiveError(ValueError):
    """A gas or blend name that is neither a known gas nor a known blend."""


def parse_blends(text: str, filename: str) -> Mapping[str, Mapping[Gas, float]]:
    """Blend name -> {component gas: mass fraction}; each blend's fractions sum to 1."""
    blends: dict[str, dict[Gas, float]] = {}
    last: dict[str, int] = {}
    for rec in parse_csv(text, filename, COLUMNS):
        name, gas = rec.text("blend"), rec.choice("gas", Gas)
        fraction = rec.number("mass_fraction")
        for cited in ("source", "table"):
            rec.text(cited)  # every row names its source
        if not 0 < fraction <= 1:
            raise rec.fail("mass_fraction", f"{fraction} is outside (0, 1]")
        if name in {g.value for g in Gas}:
            raise rec.fail("blend", f"{name!r} is a pure gas, not a blend")
        components = blends.setdefault(name, {})
        if gas in components:
            raise rec.fail("gas", f"{gas} appears twice in {name}")
        components[gas] = fraction
        last[name] = rec.line
    for name, components in blends.items():
        total = sum(components.values())
        if abs(total - 1.0) > _SUM_TOLERANCE:
            raise DataFileError(filename, last[name], "mass_fraction", f"{name} sums to {total}")
    return blends


@cache
def load_blends() -> Mapping[str, Mapping[Gas, float]]:
    """The packaged refrigerant blends, validated once per process."""
    return parse_blends(package_text(BLENDS_FILE), BLENDS_FILE)


def components(name: str) -> Mapping[Gas, float]:
    """Mass fraction of each gas in ``name``: a pure gas is itself at 1."""
    if name in {g.value for g in Gas}:
        return {Gas(name): 1.0}
    blends = load_blends()
    if name not in blends:
        known = sorted([*(g.value for g in Gas), *blends])
        raise FugitiveError(f"unknown gas or blend {name!r}; known: {', '.join(known)}")
    return blends[name]


def fugitive_release_factor(name: str, *, gwp_set: GwpSet, on: date) -> ResolvedFactor:
    """Tonnes of each component gas, and of CO2e, per tonne of ``name`` released."""
    composed = compose_factor(
        Carrier.FUGITIVE_GAS, dict(components(name)), gwp_set=gwp_set, on=on, region=NATIONAL
    )
    return replace(composed, keys=(name,))
