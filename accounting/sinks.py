"""Green-space sinks: removals = area x annual removal rate x days / 365 (clause 6.3.1 c).

Rates per vegetation type live in ``data/sink_rates.csv`` as the source prints them (tC per ha
per year) and are turned into tCO2 with 44/12. A removal is its own line
(``inventory.RemovalLine``), reported beside gross emissions and never subtracted from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from accounting.co2e import CO2_PER_C
from accounting.datafile import Evidence, package_text, parse_csv
from accounting.inventory import RemovalLine, green_space_removal

SINKS_FILE = "sink_rates.csv"
COLUMNS = ("key", "vegetation", "value", "unit", "source", "table", "edition", "evidence", "note")


class SinkError(ValueError):
    """An unknown vegetation type."""


@dataclass(frozen=True, slots=True)
class SinkRate:
    key: str
    vegetation: str
    tc_per_ha_year: float
    source: str
    table: str
    evidence: Evidence

    @property
    def tco2_per_ha_year(self) -> float:
        return self.tc_per_ha_year * CO2_PER_C


def parse_sink_rates(text: str, filename: str) -> Mapping[str, SinkRate]:
    found: dict[str, SinkRate] = {}
    for rec in parse_csv(text, filename, COLUMNS):
        key, value = rec.text("key"), rec.number("value")
        if key in found:
            raise rec.fail("key", f"{key!r} appears twice")
        if rec.text("unit") != "tC/ha/yr":
            raise rec.fail("unit", "sink rates are tC per ha per year")
        if value < 0:
            raise rec.fail("value", "a removal rate is not negative")
        found[key] = SinkRate(
            key,
            rec.text("vegetation"),
            value,
            rec.text("source"),
            rec.text("table"),
            rec.choice("evidence", Evidence),
        )
    return found


@cache
def load_sink_rates() -> Mapping[str, SinkRate]:
    """The packaged sink rates, validated once per process."""
    return parse_sink_rates(package_text(SINKS_FILE), SINKS_FILE)


def sink_rate(key: str) -> SinkRate:
    rates = load_sink_rates()
    if key not in rates:
        raise SinkError(f"unknown vegetation {key!r}; known: {', '.join(sorted(rates))}")
    return rates[key]


def sink_removal(subject: str, *, key: str, area_ha: float, days: float) -> RemovalLine:
    """tCO2 removed by ``area_ha`` of vegetation ``key`` over ``days`` (a positive amount)."""
    rate = sink_rate(key)
    cited = f"{key}: {rate.source}, {rate.table}; evidence {rate.evidence}"
    return green_space_removal(
        subject,
        area_ha=area_ha,
        rate_tco2_per_ha_year=rate.tco2_per_ha_year,
        days=days,
        source=cited,
    )
