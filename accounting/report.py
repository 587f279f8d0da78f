"""The period inventory from stored window sums (clause 6.3.1 f, reported per 6.3.1 and 9.5).

Input is hourly windows summed per enterprise, source, local day and UTC day (``WindowGroup``);
out come gross emissions location- and market-based, broken down by source category, ISO 14064-1
category, gas, enterprise and month. Sinks are removals, reported apart and never subtracted.
Market-based electricity is the kWh of meters with a contractual instrument (green electricity
certificates, green power contracts; the meter's ``factor_key``) at the instrument's factor, and
every other purchased kWh at the residual mix; where no residual-mix factor is valid the
market-based figure is *not available*, and says why, rather than a number made up. The
location-based figure never includes an instrument (GHG Protocol Scope 2 Guidance, ch. 7.5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from accounting.categories import SourceCategory
from accounting.co2e import ResolvedFactor, co2e_tonnes, gas_tonnes
from accounting.gwp import Gas, GwpNotFoundError, GwpSet, gwp

ACTIVITY_ONLY = "activity_only"  # output and water meters: activity, no emissions
_ELECTRICITY = SourceCategory.PURCHASED_ELECTRICITY.value
_SINK = SourceCategory.GREEN_SPACE_SINK.value

INSTRUMENTS_NOTE = (
    "Market-based electricity counts the kWh of meters assigned a contractual instrument (green "
    "electricity certificate, green power contract) at the instrument's factor and every other "
    "purchased kWh at the residual mix; location-based electricity never nets an instrument."
)
# Both contractual series of accounting/data/contractual_instruments.csv are 0 kgCO2/kWh by
# definition of the market-based method (GHG Protocol Scope 2 Guidance 2015, ch. 6).
INSTRUMENT_T_PER_KWH = 0.0
SINK_NOTE = (
    "Green-space sink windows are removals (tCO2, the magnitude of their figure): reported apart "
    "and never subtracted from gross emissions."
)

# The residual-mix factor valid on a park-local day for a GWP set, or None where there is none.
ResidualFactor = Callable[[date, str | None], ResolvedFactor | None]


@dataclass(frozen=True, slots=True)
class WindowGroup:
    """Hourly windows of one enterprise and source over one local day (and one UTC day)."""

    enterprise_id: str
    source_category: str
    iso_category: str | None
    carrier: str | None
    activity_unit: str
    gwp_set: str | None
    local_day: date
    utc_day: date
    activity: float
    tco2e: float
    gases: Mapping[str, float]  # tonnes of each gas
    readings_present: float
    readings_expected: float
    windows: int
    interpolated_windows: int
    interpolated_tco2e: float
    unfactored_windows: int  # emitting activity stored without an emission factor
    contractual_activity: float = 0.0  # of meters with a contractual instrument (market-based)
    factor_versions: tuple[str, ...] = ()  # the versions the windows were computed with


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Gross tCO2e of one key; ``market_tco2e`` None where it is not available."""

    key: str
    location_tco2e: float
    market_tco2e: float | None


@dataclass(frozen=True, slots=True)
class Line:
    """One enterprise's source in one carrier and unit: activity is never summed across units."""

    enterprise_id: str
    source_category: str
    iso_category: str
    carrier: str | None  # the meters' carrier (natural_gas, diesel ...); None if unregistered
    activity: float
    activity_unit: str
    location_tco2e: float
    market_tco2e: float | None


@dataclass(frozen=True, slots=True)
class GasRow:
    gas: str
    location_tonnes: float
    location_tco2e: float | None  # None: no GWP for this gas in the window's set
    market_tonnes: float | None
    market_tco2e: float | None


@dataclass(frozen=True, slots=True)
class Removal:
    enterprise_id: str
    tco2_removed: float


@dataclass(frozen=True, slots=True)
class Figures:
    """Gross emissions of a period on both bases, their breakdowns, and removals apart."""

    location_tco2e: float
    market_tco2e: float | None
    lines: tuple[Line, ...]
    by_category: tuple[Breakdown, ...]
    by_iso_category: tuple[Breakdown, ...]
    by_enterprise: tuple[Breakdown, ...]
    by_month: tuple[Breakdown, ...]  # key: first day of the local month
    by_day: Mapping[tuple[str, date], Breakdown]  # (enterprise, local day): for comparisons
    by_gas: tuple[GasRow, ...]
    removals_tco2: float
    removals: tuple[Removal, ...]
    gwp_sets: tuple[str, ...]
    residual_versions: tuple[str, ...]
    notes: tuple[str, ...]


K = TypeVar("K", bound=Hashable)


class _Sums(Generic[K]):
    """Location and market sums per key; a key loses its market figure once any part lacks one."""

    def __init__(self) -> None:
        self.location: dict[K, float] = defaultdict(float)
        self.market: dict[K, float | None] = {}

    def add(self, key: K, location: float, market: float | None) -> None:
        self.location[key] += location
        before = self.market.get(key, 0.0)
        self.market[key] = None if before is None or market is None else before + market

    def get(self, key: K) -> Breakdown:
        return Breakdown(str(key), self.location[key], self.market[key])

    def rows(self) -> tuple[Breakdown, ...]:
        return tuple(sorted((self.get(k) for k in self.location), key=lambda r: r.key))


@dataclass
class _GasSums:
    location_tonnes: float = 0.0
    location_tco2e: float | None = 0.0
    market_tonnes: float | None = 0.0
    market_tco2e: float | None = 0.0


def _market(
    group: WindowGroup, residual: ResidualFactor
) -> tuple[float | None, ResolvedFactor | None]:
    """The group's market-based tCO2e: electricity at the residual mix, the rest as stored."""
    if group.source_category != _ELECTRICITY:
        return group.tco2e, None
    # The stream picks factor versions by the park's local day; the residual mix follows suit.
    factor = residual(group.local_day, group.gwp_set) if group.activity_unit == "kWh" else None
    covered = group.contractual_activity if group.activity_unit == "kWh" else 0.0
    uncovered = group.activity - covered
    instruments = covered * INSTRUMENT_T_PER_KWH
    if factor is None:
        return (instruments, None) if uncovered == 0 else (None, None)
    return co2e_tonnes(uncovered, factor) + instruments, factor


def figures(groups: Iterable[WindowGroup], *, residual: ResidualFactor) -> Figures:
    """Sum window groups into the period's figures (see the module docstring)."""
    # A line per (enterprise, category, ISO category, carrier, unit): Nm3 of gas and tonnes of
    # diesel under one category are two lines, never one sum of "mixed units".
    lines: _Sums[tuple[str, str, str, str, str]] = _Sums()
    cats: _Sums[str] = _Sums()
    isos: _Sums[str] = _Sums()
    ents: _Sums[str] = _Sums()
    months: _Sums[str] = _Sums()
    days: _Sums[tuple[str, date]] = _Sums()
    activity: dict[tuple[str, str, str, str, str], float] = defaultdict(float)
    gases: dict[str, _GasSums] = defaultdict(_GasSums)
    removals: dict[str, float] = defaultdict(float)
    gwp_sets: set[str] = set()
    residual_versions: set[str] = set()
    missing: set[date] = set()
    for g in groups:
        if g.source_category == _SINK:
            removals[g.enterprise_id] += abs(g.tco2e)
            continue
        if g.source_category == ACTIVITY_ONLY:
            continue
        if g.gwp_set:
            gwp_sets.add(g.gwp_set)
        market, factor = _market(g, residual)
        if market is None:
            missing.add(g.local_day)
        if factor is not None:
            residual_versions.update(factor.versions)
        iso = g.iso_category or ""
        key = (g.enterprise_id, g.source_category, iso, g.carrier or "", g.activity_unit)
        activity[key] += g.activity
        lines.add(key, g.tco2e, market)
        cats.add(g.source_category, g.tco2e, market)
        isos.add(iso, g.tco2e, market)
        ents.add(g.enterprise_id, g.tco2e, market)
        months.add(g.local_day.replace(day=1).isoformat(), g.tco2e, market)
        days.add((g.enterprise_id, g.local_day), g.tco2e, market)
        _add_gases(gases, g, factor, market is not None)
    line_rows = tuple(
        Line(k[0], k[1], k[2], k[3] or None, activity[k], k[4], lines.location[k], lines.market[k])
        for k in sorted(lines.location)
    )
    location = sum(r.location_tco2e for r in line_rows)
    markets = [r.market_tco2e for r in line_rows]
    market_total = None if None in markets else sum(m for m in markets if m is not None)
    notes = [INSTRUMENTS_NOTE, SINK_NOTE]
    if missing:
        notes.append(
            "Market-based totals are not available: no residual-mix factor is valid for purchased "
            f"electricity on {_days(missing)} (local days) in the park's region."
        )
    if len(gwp_sets) > 1:
        notes.append(f"Windows use several GWP sets ({', '.join(sorted(gwp_sets))}).")
    return Figures(
        location_tco2e=location,
        market_tco2e=market_total,
        lines=line_rows,
        by_category=cats.rows(),
        by_iso_category=isos.rows(),
        by_enterprise=ents.rows(),
        by_month=months.rows(),
        by_day={k: days.get(k) for k in days.location},
        by_gas=tuple(
            GasRow(
                gas,
                gases[gas].location_tonnes,
                gases[gas].location_tco2e,
                gases[gas].market_tonnes,
                gases[gas].market_tco2e,
            )
            for gas in sorted(gases)
        ),
        removals_tco2=sum(removals.values()),
        removals=tuple(Removal(e, t) for e, t in sorted(removals.items())),
        gwp_sets=tuple(sorted(gwp_sets)),
        residual_versions=tuple(sorted(residual_versions)),
        notes=tuple(notes),
    )


def _days(days: set[date]) -> str:
    ordered = sorted(days)
    if len(ordered) == 1:
        return ordered[0].isoformat()
    return f"{len(ordered)} days from {ordered[0].isoformat()} to {ordered[-1].isoformat()}"


def _gwp(gas: str, gwp_set: str | None) -> float | None:
    try:
        return gwp(Gas(gas), GwpSet(gwp_set or ""))
    except (ValueError, GwpNotFoundError):
        return None


def _add_gases(
    into: dict[str, _GasSums],
    group: WindowGroup,
    factor: ResolvedFactor | None,
    market_known: bool,
) -> None:
    """Tonnes and tCO2e of each gas on both bases; a figure turns None once a part is unknown."""
    market: dict[str, tuple[float, float | None]] = {}
    if factor is not None:
        # Instrument-covered kWh are 0 t of every gas (INSTRUMENT_T_PER_KWH).
        uncovered = group.activity - group.contractual_activity
        per_gas = gas_tonnes(uncovered, factor)
        market = {c.gas.value: (per_gas[c.gas], c.gwp) for c in factor.gases}
    elif group.source_category != _ELECTRICITY:
        market = {gas: (t, _gwp(gas, group.gwp_set)) for gas, t in group.gases.items()}
    for gas in set(group.gases) | set(market):
        sums = into[gas]
        tonnes = group.gases.get(gas, 0.0)
        factor_gwp = _gwp(gas, group.gwp_set) if tonnes else 1.0
        sums.location_tonnes += tonnes
        sums.location_tco2e = _plus(
            sums.location_tco2e, None if factor_gwp is None else tonnes * factor_gwp
        )
        m_tonnes, m_gwp = market.get(gas, (0.0, 1.0))
        known = market_known and m_gwp is not None
        sums.market_tonnes = _plus(sums.market_tonnes, m_tonnes if market_known else None)
        sums.market_tco2e = _plus(sums.market_tco2e, m_tonnes * (m_gwp or 0.0) if known else None)


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b
