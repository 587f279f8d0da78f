"""Activity records -> emission and removal lines, for every source category of 6.3.1 c.

Manual activity data (fuel invoices, a diesel ledger, steam bills, refrigerant top-ups,
carbonate consumption, green-space areas) are accounted by category, each with its own formula:

- stationary / mobile combustion: quantity x the fuel's catalogue factor (GB/T 32150
  E = FC x NCV x CC x OF x 44/12); a lab-measured NCV replaces the catalogue NCV;
- purchased electricity and heat: quantity x the grid or heat factor;
- process: tonnes of material x stoichiometric factor x purity x calcination
  (``accounting.process``). A fuel is never a process material here: a fuel used as feedstock
  is accounted by carbon mass balance, which is a process record of its own;
- fugitive: tonnes of gas (or blend) released x GWP (``accounting.fugitive``);
- green-space sink: a ``RemovalLine`` (area x rate x days / 365, ``accounting.sinks``), never
  an emission and never netted.

``validate_activity`` checks a record without factors (for data entry); ``activity_lines``
resolves the factors and returns lines that ``inventory.summarise`` sums.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from accounting.carriers import CANONICAL_UNIT, FUELS, Carrier
from accounting.categories import IsoCategory, SourceCategory
from accounting.co2e import GasCoefficient, ResolvedFactor, resolve_factor
from accounting.factor_rows import Basis, FactorKind
from accounting.factors import Catalogue
from accounting.fugitive import FugitiveError, components, fugitive_release_factor
from accounting.gwp import GwpSet
from accounting.inventory import EmissionLine, RemovalLine, emission_line
from accounting.process import ProcessError, process_factor, process_factor_by_key
from accounting.regions import region_chain
from accounting.sinks import SinkError, sink_rate, sink_removal
from accounting.units import UnitError, resolve_conversion
from accounting.window_co2e import DEFAULT_SERIES

# The carriers each category accepts; anything else is refused with the list.
CATEGORY_CARRIERS: Mapping[SourceCategory, frozenset[Carrier]] = {
    SourceCategory.STATIONARY_COMBUSTION: FUELS,
    SourceCategory.MOBILE_COMBUSTION: FUELS,
    SourceCategory.PURCHASED_ELECTRICITY: frozenset({Carrier.ELECTRICITY}),
    SourceCategory.PURCHASED_HEAT: frozenset({Carrier.STEAM, Carrier.HEAT}),
    SourceCategory.PROCESS: frozenset({Carrier.PROCESS_MATERIAL}),
    SourceCategory.FUGITIVE: frozenset({Carrier.FUGITIVE_GAS}),
    SourceCategory.GREEN_SPACE_SINK: frozenset({Carrier.GREEN_SPACE}),
}


class ActivityError(ValueError):
    """An activity record that cannot be accounted as given; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityInput:
    """One activity record as accounting needs it. Period days are inclusive local dates."""

    record: str  # the record's id and version, e.g. "42v2": carried onto its lines
    subject: str  # enterprise id, or the park id for a park-level record
    category: SourceCategory
    carrier: Carrier
    quantity: float  # in ``unit``
    unit: str
    # Process material key (process.caco3), gas or blend (SF6, R-410A), or vegetation key
    # (sink.urban_tree_crown); None for energy carriers.
    material: str | None = None
    period_start: date
    period_end: date
    iso_category: IsoCategory | None = None  # overrides the category's default
    purity: float = 1.0  # process: carbonate mass fraction of the material
    calcination: float = 1.0  # process: fraction calcined
    ncv_gj_per_unit: float | None = None  # combustion: lab-measured NCV per canonical unit
    density_kg_per_l: float | None = None  # liquid fuels metered by volume

    @property
    def days(self) -> int:
        return (self.period_end - self.period_start).days + 1


@dataclass(frozen=True, slots=True)
class ActivityLines:
    emissions: tuple[EmissionLine, ...]
    removals: tuple[RemovalLine, ...]


EnergyFactor = Callable[[Carrier, date], ResolvedFactor]


def catalogue_energy_factor(catalogue: Catalogue, *, region: str, gwp_set: GwpSet) -> EnergyFactor:
    """Resolve an energy carrier's factor from ``catalogue`` on a day: the series the stream
    worker uses for a meter of that carrier (``accounting.window_co2e.DEFAULT_SERIES``)."""

    def resolve(carrier: Carrier, on: date) -> ResolvedFactor:
        return resolve_factor(
            catalogue,
            carrier=carrier,
            region=region_chain(region),
            on=on,
            series=DEFAULT_SERIES[carrier],
            gwp_set=gwp_set,
        )

    return resolve


def validate_activity(item: ActivityInput) -> float:
    """Check ``item`` without factors; return its quantity in the carrier's canonical unit."""
    allowed = CATEGORY_CARRIERS[item.category]
    if item.carrier not in allowed:
        hint = ""
        if item.category is SourceCategory.PROCESS and item.carrier in FUELS:
            hint = (
                "; a fuel used as feedstock is accounted by carbon mass balance: record the"
                " CO2 it releases as a process material, or the fuel as combustion"
            )
        raise ActivityError(
            "carrier",
            f"'{item.carrier}' is not a carrier of category '{item.category}' (allowed: "
            f"{', '.join(sorted(allowed))}){hint}",
        )
    if not item.quantity >= 0:
        raise ActivityError("quantity", f"{item.quantity} must not be negative")
    if item.period_end < item.period_start:
        raise ActivityError("period_end", "is before period_start")
    _check_material(item)
    try:
        conversion = resolve_conversion(
            item.unit,
            CANONICAL_UNIT[item.carrier],
            item.carrier,
            on=item.period_start,
            density_kg_per_l=item.density_kg_per_l,
        )
    except UnitError as exc:
        raise ActivityError("unit", str(exc)) from exc
    if item.ncv_gj_per_unit is not None and (
        item.carrier not in FUELS or not item.ncv_gj_per_unit > 0
    ):
        raise ActivityError("ncv_gj_per_unit", "a positive NCV applies to fuels only")
    for name, value in (("purity", item.purity), ("calcination", item.calcination)):
        if not 0 < value <= 1:
            raise ActivityError(name, f"is a fraction in (0, 1], got {value}")
    return item.quantity * conversion.factor


def _check_material(item: ActivityInput) -> None:
    needs_material = item.carrier in {
        Carrier.PROCESS_MATERIAL,
        Carrier.FUGITIVE_GAS,
        Carrier.GREEN_SPACE,
    }
    if not needs_material:
        if item.material is not None:
            raise ActivityError("material", f"'{item.carrier}' takes no material")
        return
    if item.material is None:
        raise ActivityError("material", f"'{item.carrier}' needs the material, gas or vegetation")
    try:
        if item.carrier is Carrier.PROCESS_MATERIAL:
            process_factor_by_key(item.material)
        elif item.carrier is Carrier.FUGITIVE_GAS:
            components(item.material)
        else:
            sink_rate(item.material)
    except (ProcessError, FugitiveError, SinkError) as exc:
        raise ActivityError("material", str(exc)) from exc


def activity_lines(
    items: Iterable[ActivityInput], *, gwp_set: GwpSet, energy_factor: EnergyFactor
) -> ActivityLines:
    """Emission lines (per gas, CO2e in ``gwp_set``, ISO category) and removal lines.

    Each emission line's ``label`` is the record (id and version) it came from. An energy
    carrier's factor is the one valid on the record's first day (``energy_factor``). Raises
    ``ActivityError`` for a record that does not validate; lookup errors of the factor
    catalogue (``NoFactorError``) pass through.
    """
    emissions: list[EmissionLine] = []
    removals: list[RemovalLine] = []
    for item in items:
        activity = validate_activity(item)
        if item.category is SourceCategory.GREEN_SPACE_SINK:
            assert item.material is not None  # checked by validate_activity
            removal = sink_removal(
                item.subject, key=item.material, area_ha=activity, days=item.days
            )
            removals.append(
                replace(removal, iso_category=item.iso_category or removal.iso_category)
            )
            continue
        factor = _factor(item, gwp_set, energy_factor)
        emissions.append(
            emission_line(
                item.subject,
                item.category,
                activity,
                factor,
                iso_category=item.iso_category,
                label=item.record,
            )
        )
    return ActivityLines(tuple(emissions), tuple(removals))


def _factor(item: ActivityInput, gwp_set: GwpSet, energy_factor: EnergyFactor) -> ResolvedFactor:
    on = item.period_start
    if item.carrier is Carrier.PROCESS_MATERIAL:
        assert item.material is not None
        return process_factor(
            item.material,
            gwp_set=gwp_set,
            on=on,
            purity=item.purity,
            calcination=item.calcination,
        )
    if item.carrier is Carrier.FUGITIVE_GAS:
        assert item.material is not None
        return fugitive_release_factor(item.material, gwp_set=gwp_set, on=on)
    factor = energy_factor(item.carrier, on)
    if factor.gwp_set is not gwp_set:
        raise ActivityError("gwp_set", f"energy factor uses {factor.gwp_set}, lines {gwp_set}")
    return factor if item.ncv_gj_per_unit is None else with_ncv(factor, item.ncv_gj_per_unit)


def with_ncv(factor: ResolvedFactor, ncv_gj_per_unit: float) -> ResolvedFactor:
    """``factor`` with a measured NCV in place of the catalogue's (GB/T 32150: the measured
    value takes precedence over the default). Every gas coefficient of a fuel factor is
    proportional to the NCV (carbon content and non-CO2 factors are per GJ), so each scales by
    measured / default; a factor with a per-unit row (not per GJ) cannot take an NCV."""
    ncv = [row for row in factor.rows if row.kind is FactorKind.NCV]
    per_unit = [
        row
        for row in factor.rows
        if row.kind is FactorKind.EMISSION_FACTOR and row.basis is not Basis.GJ
    ]
    if len(ncv) != 1 or per_unit:
        raise ActivityError(
            "ncv_gj_per_unit", f"the factor for '{factor.carrier}' is not built on one NCV"
        )
    ratio = ncv_gj_per_unit / ncv[0].normalised
    gases = tuple(GasCoefficient(g.gas, g.tonnes_per_unit * ratio, g.gwp) for g in factor.gases)
    return replace(factor, gases=gases, tco2e_per_unit=factor.tco2e_per_unit * ratio)
