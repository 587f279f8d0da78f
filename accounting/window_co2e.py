"""Window sums -> CO2e window results: the default-factor policy and a window's arithmetic.

The one place a window's CO2e is computed: the stream worker and ``parkcarbon recompute``
(``stream.window_sink.WindowComputer``) and baseline restatements (``accounting.restatement``)
all call ``EmissionCalculator``. The factor choice per carrier is ``DEFAULT_SERIES`` (below);
the units are converted by ``accounting.units`` and the factor applied by ``accounting.co2e``
(clause 6.3.1: activity data x emission factor), the same arithmetic the reports and
inventories use. A meter's ``factor_key``
in the registry, when set, names the factor series to use instead of its carrier's default
(e.g. ``cn_ets_grid`` for a carbon-market report). A contractual instrument (green certificates,
a green power contract) is not such a series: it only changes the market-based figure, which
the reports compute beside the location-based one, so the window keeps the location-based grid
factor (an instrument netted into it would hide the grid emissions the catalogue requires).

Process and fugitive meters (clause 6.3.1 c) are not combustion: a ``process_material`` meter
gets the stoichiometric factor its ``factor_key`` names (``accounting.process``, e.g.
``process.caco3``), a ``fugitive_gas`` meter the GWP of the gas or blend its ``factor_key``
names (``SF6``, ``R-410A``). A fuel meter marked ``process`` (feedstock) gets no factor: its
activity is kept and its CO2 is a carbon mass balance, entered as a process activity record.

``catalogue`` and ``parameters`` are the packaged ones unless the caller passes a set with the
park's own versions (``accounting.overrides.apply_overrides``); either way the version valid on
the window's day in the park's time zone is used (a factor published for a year is in force
from 1 January 00:00 local time: the first eight hours of a Beijing year are not the previous
year's), and ``factor_versions`` names every version used: the emission
factor rows and any conversion parameter (density, steam enthalpy) the unit conversion needed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np

from accounting.carriers import CANONICAL_UNIT, FUELS, Carrier
from accounting.categories import DEFAULT_ISO_CATEGORY, SourceCategory
from accounting.co2e import (
    FactorResolutionError,
    ResolvedFactor,
    resolve_factor,
    tonnes_each,
)
from accounting.factor_rows import MARKET_INSTRUMENTS, Series
from accounting.factors import Catalogue, NoFactorError, load_catalogue
from accounting.fugitive import FugitiveError, fugitive_release_factor
from accounting.gwp import GwpSet
from accounting.parameters import Parameter, ParameterNotFoundError, load_parameters
from accounting.process import ProcessError, process_factor
from accounting.reasons import Reason
from accounting.regions import NATIONAL, RegionLevel, level_chain
from accounting.units import Conversion, UnitError, resolve_conversion
from accounting.windows import (
    ResultTerms,
    WindowResult,
    WindowResults,
    WindowSumColumns,
    WindowSums,
    utc,
)


class Meter(Protocol):
    """What a window's computation needs of a registry meter (``store.registry.Meter``)."""

    @property
    def meter_id(self) -> str: ...
    @property
    def enterprise_id(self) -> str: ...
    @property
    def carrier(self) -> str: ...  # an ``accounting.carriers.Carrier`` value
    @property
    def unit(self) -> str: ...
    @property
    def source_category(self) -> str: ...
    @property
    def factor_key(self) -> str | None: ...
    @property
    def expected_interval_s(self) -> int: ...


def ignore_warning(message: str) -> None:
    """The default ``warn``: a caller that wants the calculator's warnings passes a logger's."""


DEFAULT_SERIES: dict[Carrier, Series] = {
    Carrier.ELECTRICITY: Series.MEE_NBS_GRID_AVERAGE,  # location-based (GB/T 32150 purchases)
    Carrier.STEAM: Series.NDRC_HEAT_DEFAULT,
    Carrier.HEAT: Series.NDRC_HEAT_DEFAULT,
    **{fuel: Series.GBT32150_FUEL_DEFAULTS for fuel in FUELS},
}


_CATEGORIES = frozenset(c.value for c in SourceCategory)
_RECIPES_KEPT = 100_000  # (meter, day) pairs and window starts remembered; then forgotten


@dataclass(frozen=True, slots=True)
class WindowRecipe:
    """The part of a window's result that depends on its meter and day only."""

    to_canonical: float  # activity in the meter's unit -> the carrier's canonical unit
    canonical: str  # the activity's unit (the meter's own when it cannot be converted)
    factor: ResolvedFactor | None  # None: no CO2e (activity only, unconvertible, no factor)
    flags: int  # FACTOR_LEVEL_FALLBACK when the factor came from a coarser level
    iso_category: str | None
    gwp_set: str | None
    factor_versions: tuple[str, ...]


@dataclass
class EmissionCalculator:
    """Resolves and caches one factor per (carrier, series, day); converts window sums."""

    region: str
    gwp_set: GwpSet
    timezone: str = "Asia/Shanghai"  # the park's: its calendar day picks the version in force
    grid_level: RegionLevel = RegionLevel.GRID  # the park's, for every year (regions.level_chain)
    catalogue: Catalogue = field(default_factory=load_catalogue)
    parameters: tuple[Parameter, ...] = field(default_factory=load_parameters)
    _factors: dict[tuple[Carrier, Series, date], ResolvedFactor | None] = field(
        default_factory=dict
    )
    _conversions: dict[tuple[str, Carrier, date], Conversion | UnitError] = field(
        default_factory=dict
    )
    _unconvertible: set[str] = field(default_factory=set)  # meters already warned about
    _zone: ZoneInfo = field(init=False, repr=False)
    _chain: tuple[str, ...] = field(init=False, repr=False)
    _fallback: set[tuple[Carrier, Series, date]] = field(default_factory=set)
    _recipes: dict[tuple[str, date], tuple[Meter, WindowRecipe]] = field(default_factory=dict)
    _days: dict[int, date] = field(default_factory=dict)  # window start (ms) -> local day
    # Where "no emission factor" and "unconvertible unit" go: the domain does no I/O, so the
    # caller (the worker) passes its logger's warning.
    warn: Callable[[str], None] = field(default=ignore_warning, repr=False)

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.timezone)
        self._chain = level_chain(self.region, self.grid_level)

    def factor(self, carrier: Carrier, series: Series, on: date) -> ResolvedFactor | None:
        key = (carrier, series, on)
        if key not in self._factors:
            try:
                found = resolve_factor(
                    self.catalogue,
                    carrier=carrier,
                    region=self._chain,
                    on=on,
                    series=series,
                    gwp_set=self.gwp_set,
                )
                self._factors[key] = found
                if found.region != self._chain[0] and self._regionalised(carrier, series):
                    self._fallback.add(key)
            except (NoFactorError, FactorResolutionError) as exc:
                # Methodology missing (clause 9.1 b): the window is stored with tCO2e 0 and no
                # factor version, which the deviation rules report.
                self.warn(f"no emission factor: {exc}")
                self._factors[key] = None
        return self._factors[key]

    def meter_series(self, meter: Meter, carrier: Carrier) -> Series | None:
        """The series of an energy or combustion meter's factor: its ``factor_key``, else the
        carrier's default. A contractual instrument never replaces the location-based grid
        factor: its market-based figure is reported beside it (queries, reports). None for
        process materials and fugitive gases, whose ``factor_key`` names a material, not a
        series, and for feedstock."""
        if carrier in (Carrier.PROCESS_MATERIAL, Carrier.FUGITIVE_GAS):
            return None
        if meter.source_category == SourceCategory.PROCESS.value:
            return None
        name = meter.factor_key
        if name is None or name in MARKET_INSTRUMENTS:
            name = DEFAULT_SERIES[carrier].value if carrier in DEFAULT_SERIES else None
        return None if name is None else Series(name)

    def meter_factor(self, meter: Meter, carrier: Carrier, on: date) -> ResolvedFactor | None:
        """The factor of a meter's carrier and category (see the module docstring)."""
        if carrier in (Carrier.PROCESS_MATERIAL, Carrier.FUGITIVE_GAS):
            return self.material_factor(carrier, meter.factor_key, on)
        series = self.meter_series(meter, carrier)  # None for feedstock: not combustion
        return None if series is None else self.factor(carrier, series, on)

    def window_factor(self, meter: Meter, day: date, *, convertible: bool) -> ResolvedFactor | None:
        """The factor a window of ``meter`` on the park's local ``day`` is computed with; None
        when the window gets no CO2e: its activity is not in the canonical unit, or the meter is
        activity only. Baseline restatements (clause 6.5 c) recompute stored activity with this
        same choice."""
        if not convertible or meter.source_category == "activity_only":
            return None
        return self.meter_factor(meter, Carrier(meter.carrier), day)

    def material_factor(self, carrier: Carrier, key: str | None, on: date) -> ResolvedFactor | None:
        """Process material or fugitive gas ``key``'s factor; None (logged) if unknown."""
        if key is None:
            self.warn(f"no emission factor: a '{carrier}' meter names no material in factor_key")
            return None
        try:
            if carrier is Carrier.PROCESS_MATERIAL:
                return process_factor(key, gwp_set=self.gwp_set, on=on)
            return fugitive_release_factor(key, gwp_set=self.gwp_set, on=on)
        except (ProcessError, FugitiveError) as exc:
            self.warn(f"no emission factor: {exc}")
            return None

    def _regionalised(self, carrier: Carrier, series: Series) -> bool:
        """Whether ``series`` has factors below the national level (the grid series do; fuel
        defaults are national only, so resolving them nationally is no fallback)."""
        return any(
            r.series is series and r.carrier is carrier and r.region != NATIONAL
            for r in self.catalogue.rows
        )

    def fell_back(self, carrier: Carrier, series: Series, on: date) -> bool:
        """Whether the factor of ``on`` came from a level coarser than the park's grid level."""
        return (carrier, series, on) in self._fallback

    def conversion(self, unit: str, carrier: Carrier, on: date) -> Conversion:
        """``unit`` -> the carrier's canonical unit on ``on``; raises ``UnitError``."""
        key = (unit, carrier, on)
        if key not in self._conversions:
            canonical = CANONICAL_UNIT[carrier]
            try:
                try:
                    found: Conversion | UnitError = resolve_conversion(
                        unit, canonical, carrier, on=on, parameters=self.parameters
                    )
                except ParameterNotFoundError:
                    # Before a parameter's first version: its earliest-known value, as before
                    # conversions were dated (the latest version).
                    found = resolve_conversion(unit, canonical, carrier, parameters=self.parameters)
            except UnitError as exc:
                found = exc
            except ParameterNotFoundError as exc:
                # No density row at all for the fuel (the API refuses such meters; one stored
                # before that check): activity kept in its own unit, said once per meter.
                found = UnitError(str(exc))
            self._conversions[key] = found
        found = self._conversions[key]
        if isinstance(found, UnitError):
            raise found
        return found

    def recipe(self, meter: Meter, day: date) -> WindowRecipe:
        """What every window of ``meter`` starting on the park's local ``day`` is computed
        with (kept per meter and day: the flush computes thousands of windows of few days)."""
        cached = self._recipes.get((meter.meter_id, day))
        if cached is not None and cached[0] is meter:  # the same registry entry
            return cached[1]
        carrier = Carrier(meter.carrier)
        canonical = CANONICAL_UNIT[carrier]
        convertible = True
        parameter_versions: tuple[str, ...] = ()
        try:
            conversion = self.conversion(meter.unit, carrier, day)
            to_canonical = conversion.factor
            parameter_versions = tuple(
                f"{p.key}@{p.valid_from.isoformat()}"
                for p in conversion.parameters
                if p.valid_from is not None
            )
        except UnitError as exc:
            # Activity stays in the meter's own unit; no factor can apply to it (a factor is per
            # canonical unit). Said once per meter, not once per window.
            convertible = False
            if meter.meter_id not in self._unconvertible:
                self._unconvertible.add(meter.meter_id)
                self.warn(f"meter {meter.meter_id}: {exc}; activity kept, no emission factor")
            to_canonical, canonical = 1.0, meter.unit
        factor = self.window_factor(meter, day, convertible=convertible)
        flags = 0
        series = self.meter_series(meter, carrier) if factor is not None else None
        if series is not None and self.fell_back(carrier, series, day):
            flags |= Reason.FACTOR_LEVEL_FALLBACK
        category = meter.source_category
        made = WindowRecipe(
            to_canonical=to_canonical,
            canonical=canonical,
            factor=factor,
            flags=int(flags),
            iso_category=(
                DEFAULT_ISO_CATEGORY[SourceCategory(category)].value
                if category in _CATEGORIES
                else None
            ),
            gwp_set=factor.gwp_set.value if factor else None,
            factor_versions=(*factor.versions, *parameter_versions) if factor else (),
        )
        if len(self._recipes) > _RECIPES_KEPT:
            self._recipes.clear()
        self._recipes[(meter.meter_id, day)] = (meter, made)
        return made

    def result(self, sums: WindowSums, meter: Meter) -> WindowResult:
        """One window's result: ``results`` of a single window."""
        columns = WindowSumColumns.of([sums])
        return self.results(columns, {meter.meter_id: meter}).rows()[0]

    def results(self, sums: WindowSumColumns, meters: Mapping[str, Meter]) -> WindowResults:
        """The result of every window in ``sums`` (each window's meter must be in ``meters``),
        a column at a time: the terms of each (meter, local day) are worked out once
        (``recipe``), then every window's figures are the same few multiplications as arrays.

        activity = quantity x conversion to the canonical unit; tCO2e and each gas = activity x
        the factor's tonnes per unit (``accounting.co2e``: clause 6.3.1, activity data x emission
        factor); completeness = present / expected readings, at most 1.
        """
        n = len(sums)
        ids: dict[str, int] = {}
        meter_of = np.fromiter(
            (ids.setdefault(m, len(ids)) for m in sums.meter_id), dtype=np.intp, count=n
        )
        by_index = [meters[m] for m in ids]
        starts, start_of = np.unique(sums.start_ms, return_inverse=True)
        days: dict[date, int] = {}
        day_of_start = np.array(
            [days.setdefault(self._local_day(s), len(days)) for s in starts.tolist()],
            dtype=np.intp,
        )
        pair = meter_of * max(len(days), 1) + day_of_start[start_of.reshape(-1)]
        pairs, recipe_of = np.unique(pair, return_inverse=True)
        recipe_of = recipe_of.reshape(-1)
        day_list = list(days)
        recipes = [
            (by_index[meter], self.recipe(by_index[meter], day_list[day]))
            for meter, day in (divmod(p, len(day_list)) for p in pairs.tolist())
        ]
        names = tuple(sorted({g.gas.value for _, r in recipes if r.factor for g in r.factor.gases}))
        to_canonical = np.array([r.to_canonical for _, r in recipes], dtype=np.float64)
        has_factor = np.array([r.factor is not None for _, r in recipes], dtype=np.bool_)
        per_unit = np.array(
            [r.factor.tco2e_per_unit if r.factor else 0.0 for _, r in recipes], dtype=np.float64
        )
        gas_per_unit = np.zeros((len(recipes), len(names)), dtype=np.float64)
        for k, (_, r) in enumerate(recipes):
            for g in r.factor.gases if r.factor else ():
                gas_per_unit[k, names.index(g.gas.value)] = g.tonnes_per_unit
        recipe_flags = np.array([r.flags for _, r in recipes], dtype=np.int64)
        interval_s = np.array([m.expected_interval_s for m in by_index], dtype=np.int64)
        shared = [
            ResultTerms(
                meter_id=m.meter_id,
                enterprise_id=m.enterprise_id,
                source_category=m.source_category,
                iso_category=r.iso_category,
                activity_unit=r.canonical,
                gwp_set=r.gwp_set,
                factor_versions=r.factor_versions,
                gases=tuple(g.gas.value for g in r.factor.gases) if r.factor else (),
            )
            for m, r in recipes
        ]
        activity = sums.quantity * to_canonical[recipe_of]
        factor_of = has_factor[recipe_of]
        tco2e = np.where(factor_of, tonnes_each(activity, per_unit[recipe_of]), 0.0)
        gas_t = tonnes_each(activity[:, None], gas_per_unit[recipe_of])
        expected = sums.width_s / interval_s[meter_of]
        with np.errstate(divide="ignore", invalid="ignore"):
            completeness = np.where(
                expected != 0, np.minimum(1.0, sums.readings_present / expected), 0.0
            )
        return WindowResults(
            width_s=sums.width_s,
            start_ms=sums.start_ms,
            activity=activity,
            tco2e=tco2e,
            readings_present=sums.readings_present,
            readings_expected=expected,
            completeness=completeness,
            flags=sums.flags | recipe_flags[recipe_of],
            interpolated=sums.interpolated,
            terms=recipe_of.astype(np.intp),
            shared=shared,
            gas_names=names,
            gas_t=gas_t,
        )

    def _local_day(self, start_ms: int) -> date:
        """The park's calendar day a window starts on: the day whose factor versions apply."""
        day = self._days.get(start_ms)
        if day is None:
            if len(self._days) > _RECIPES_KEPT:
                self._days.clear()
            day = self._days[start_ms] = utc(start_ms).astimezone(self._zone).date()
        return day
