"""Units of metered quantities and the conversion factor between two units of one carrier.

Activity data (clause 6.3.1 e) reach the accounting engine in each carrier's canonical unit
(``CANONICAL_UNIT``). A conversion is a single float, so an array of readings converts with one
multiply. Conversions that need a physical parameter (liquid density, steam enthalpy) take it
explicitly or select a versioned row of ``conversion_parameters.csv`` and record which.

Natural gas metered in plain ``m3`` (at line pressure and temperature) is refused by
``conversion_factor``: the volume depends on the metering conditions, so the caller converts it
with ``gas_m3_to_nm3_factor(pressure, temperature)`` first. ``Nm3`` is at 0 degC, 101.325 kPa.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from accounting.carriers import Carrier
from accounting.parameters import Parameter, Quantity, select_parameter


class Unit(StrEnum):
    KWH = "kWh"
    MWH = "MWh"
    GWH = "GWh"
    MJ = "MJ"
    GJ = "GJ"
    TJ = "TJ"
    NM3 = "Nm3"
    NM3_10K = "10^4 Nm3"
    M3 = "m3"
    L = "L"
    KG = "kg"
    T = "t"
    CNY = "CNY"
    CNY_10K = "10^4 CNY"
    HA = "ha"
    M2 = "m2"


class Dimension(StrEnum):
    ENERGY = "energy"  # base GJ
    NORMAL_VOLUME = "normal_volume"  # base Nm3 (gas at 0 degC, 101.325 kPa)
    VOLUME = "volume"  # base m3 at metering conditions
    MASS = "mass"  # base t
    CURRENCY = "currency"  # base CNY
    AREA = "area"  # base ha


# Size of one unit in its dimension's base unit; 1 kWh = 3.6 MJ exactly.
_SCALE: dict[Unit, tuple[Dimension, float]] = {
    Unit.KWH: (Dimension.ENERGY, 0.0036),
    Unit.MWH: (Dimension.ENERGY, 3.6),
    Unit.GWH: (Dimension.ENERGY, 3600.0),
    Unit.MJ: (Dimension.ENERGY, 0.001),
    Unit.GJ: (Dimension.ENERGY, 1.0),
    Unit.TJ: (Dimension.ENERGY, 1000.0),
    Unit.NM3: (Dimension.NORMAL_VOLUME, 1.0),
    Unit.NM3_10K: (Dimension.NORMAL_VOLUME, 1e4),
    Unit.M3: (Dimension.VOLUME, 1.0),
    Unit.L: (Dimension.VOLUME, 0.001),
    Unit.KG: (Dimension.MASS, 0.001),
    Unit.T: (Dimension.MASS, 1.0),
    Unit.CNY: (Dimension.CURRENCY, 1.0),
    Unit.CNY_10K: (Dimension.CURRENCY, 1e4),
    Unit.HA: (Dimension.AREA, 1.0),
    Unit.M2: (Dimension.AREA, 1e-4),
}

_ALIASES: dict[str, Unit] = {
    **{u.value.casefold().replace(" ", ""): u for u in Unit},
    "kw·h": Unit.KWH,
    "nm³": Unit.NM3,
    "m³": Unit.M3,
    "万nm3": Unit.NM3_10K,
    "10⁴nm3": Unit.NM3_10K,
    "万元": Unit.CNY_10K,
    "10⁴cny": Unit.CNY_10K,
    "yuan": Unit.CNY,
    "litre": Unit.L,
    "liter": Unit.L,
    "tonne": Unit.T,
    "m²": Unit.M2,
    "hectare": Unit.HA,
    "公顷": Unit.HA,
}

# Which dimensions a reading of each carrier may come in.
_CARRIER_DIMENSIONS: dict[Carrier, frozenset[Dimension]] = {
    Carrier.ELECTRICITY: frozenset({Dimension.ENERGY}),
    Carrier.NATURAL_GAS: frozenset({Dimension.NORMAL_VOLUME}),
    Carrier.RAW_COAL: frozenset({Dimension.MASS}),
    Carrier.COKE: frozenset({Dimension.MASS}),
    Carrier.DIESEL: frozenset({Dimension.MASS, Dimension.VOLUME}),
    Carrier.GASOLINE: frozenset({Dimension.MASS, Dimension.VOLUME}),
    Carrier.FUEL_OIL: frozenset({Dimension.MASS, Dimension.VOLUME}),
    Carrier.LPG: frozenset({Dimension.MASS, Dimension.VOLUME}),
    Carrier.STEAM: frozenset({Dimension.ENERGY, Dimension.MASS}),
    Carrier.HEAT: frozenset({Dimension.ENERGY}),
    Carrier.WATER: frozenset({Dimension.VOLUME}),
    Carrier.PRODUCTION_OUTPUT: frozenset({Dimension.MASS}),
    Carrier.OUTPUT_VALUE: frozenset({Dimension.CURRENCY}),
    Carrier.FUGITIVE_GAS: frozenset({Dimension.MASS}),
    Carrier.PROCESS_MATERIAL: frozenset({Dimension.MASS}),
    Carrier.GREEN_SPACE: frozenset({Dimension.AREA}),
}

STANDARD_PRESSURE_KPA = 101.325
ZERO_CELSIUS_K = 273.15


class UnitError(ValueError):
    """A unit that is unknown, or cannot be converted for this carrier."""


class UnknownUnitError(UnitError):
    def __init__(self, text: str) -> None:
        super().__init__(f"unknown unit {text!r}; known units: {', '.join(Unit)}")


class IncompatibleUnitsError(UnitError):
    def __init__(self, from_unit: Unit, to_unit: Unit, carrier: Carrier | None) -> None:
        self.from_unit, self.to_unit, self.carrier = from_unit, to_unit, carrier
        subject = f" for carrier '{carrier}'" if carrier is not None else ""
        super().__init__(f"cannot convert '{from_unit}' to '{to_unit}'{subject}")


class GasAtMeteringConditionsError(IncompatibleUnitsError):
    """Gas in plain m3 depends on line pressure and temperature: normalise it explicitly."""

    def __init__(self, from_unit: Unit, to_unit: Unit) -> None:
        super().__init__(from_unit, to_unit, Carrier.NATURAL_GAS)
        self.args = (
            f"{self.args[0]}: 'm3' is gas at metering conditions; multiply by "
            "gas_m3_to_nm3_factor(pressure_kpa_abs, temperature_c) to get Nm3 first",
        )


@dataclass(frozen=True, slots=True)
class ParameterUse:
    """A physical parameter a conversion used: a data row (key, version) or an explicit value."""

    quantity: Quantity
    value: float
    key: str  # "explicit" when the caller passed the value
    valid_from: date | None


@dataclass(frozen=True, slots=True)
class Conversion:
    """``factor`` multiplies a quantity in ``from_unit`` to give it in ``to_unit``."""

    factor: float
    from_unit: Unit
    to_unit: Unit
    carrier: Carrier
    parameters: tuple[ParameterUse, ...] = ()


def parse_unit(text: str | Unit) -> Unit:
    """The ``Unit`` a meter's unit label denotes (case and spaces ignored, a few aliases)."""
    if isinstance(text, Unit):
        return text
    unit = _ALIASES.get(text.strip().casefold().replace(" ", ""))
    if unit is None:
        raise UnknownUnitError(text)
    return unit


def dimension(unit: str | Unit) -> Dimension:
    return _SCALE[parse_unit(unit)][0]


def scale(from_unit: str | Unit, to_unit: str | Unit) -> float:
    """Factor between two units of one dimension, whatever the carrier (MWh -> kWh = 1000)."""
    a, b = parse_unit(from_unit), parse_unit(to_unit)
    (dim_a, size_a), (dim_b, size_b) = _SCALE[a], _SCALE[b]
    if dim_a != dim_b:
        raise IncompatibleUnitsError(a, b, None)
    return size_a / size_b


def gas_m3_to_nm3_factor(
    pressure_kpa_abs: float, temperature_c: float, compressibility: float = 1.0
) -> float:
    """Nm3 per m3 of gas metered at p (kPa, absolute) and T (degC); ideal gas law over Z."""
    if pressure_kpa_abs <= 0 or temperature_c <= -ZERO_CELSIUS_K or compressibility <= 0:
        raise UnitError(
            f"implausible metering conditions: {pressure_kpa_abs} kPa, {temperature_c} degC, "
            f"Z={compressibility}"
        )
    kelvin = ZERO_CELSIUS_K + temperature_c
    return (pressure_kpa_abs / STANDARD_PRESSURE_KPA) * (ZERO_CELSIUS_K / kelvin) / compressibility


def steam_gj_per_tonne(enthalpy_kj_per_kg: float, reference_kj_per_kg: float) -> float:
    """Heat in GJ per tonne of steam: (h - h_feedwater) x 10^-3, the guideline's steam formula."""
    if enthalpy_kj_per_kg <= reference_kj_per_kg:
        raise UnitError(
            f"steam enthalpy {enthalpy_kj_per_kg} kJ/kg must exceed the feed-water reference "
            f"{reference_kj_per_kg} kJ/kg"
        )
    return (enthalpy_kj_per_kg - reference_kj_per_kg) * 1e-3


def resolve_conversion(
    from_unit: str | Unit,
    to_unit: str | Unit,
    carrier: Carrier,
    *,
    on: date | None = None,
    density_kg_per_l: float | None = None,
    steam_enthalpy_kj_per_kg: float | None = None,
    parameters: tuple[Parameter, ...] | None = None,
) -> Conversion:
    """The factor from ``from_unit`` to ``to_unit`` for ``carrier``, with the parameters it used.

    Parameters not passed explicitly come from the version valid on ``on`` (latest if None),
    among ``parameters`` (the packaged ones if None; e.g. with a park's versions added).
    """
    a, b = parse_unit(from_unit), parse_unit(to_unit)
    (dim_a, size_a), (dim_b, size_b) = _SCALE[a], _SCALE[b]
    allowed = _CARRIER_DIMENSIONS[carrier]
    if carrier is Carrier.NATURAL_GAS and Dimension.VOLUME in (dim_a, dim_b):
        raise GasAtMeteringConditionsError(a, b)
    if dim_a not in allowed or dim_b not in allowed:
        raise IncompatibleUnitsError(a, b, carrier)
    if dim_a == dim_b:
        return Conversion(size_a / size_b, a, b, carrier)
    dims = {dim_a, dim_b}
    if dims == {Dimension.VOLUME, Dimension.MASS}:
        use = _explicit_or_row(Quantity.DENSITY, carrier, on, density_kg_per_l, parameters)
        t_per_m3 = use.value  # kg/L equals t/m3
        forward = t_per_m3 if dim_a is Dimension.VOLUME else 1.0 / t_per_m3
        return Conversion(size_a * forward / size_b, a, b, carrier, (use,))
    if dims == {Dimension.MASS, Dimension.ENERGY}:
        use = _explicit_or_row(
            Quantity.STEAM_ENTHALPY, carrier, on, steam_enthalpy_kj_per_kg, parameters
        )
        ref = _explicit_or_row(Quantity.REFERENCE_WATER_ENTHALPY, carrier, on, None, parameters)
        gj_per_t = steam_gj_per_tonne(use.value, ref.value)
        forward = gj_per_t if dim_a is Dimension.MASS else 1.0 / gj_per_t
        return Conversion(size_a * forward / size_b, a, b, carrier, (use, ref))
    raise IncompatibleUnitsError(a, b, carrier)


def conversion_factor(
    from_unit: str | Unit,
    to_unit: str | Unit,
    carrier: Carrier,
    *,
    on: date | None = None,
    density_kg_per_l: float | None = None,
    steam_enthalpy_kj_per_kg: float | None = None,
) -> float:
    """The float that multiplies readings (scalar or array) in ``from_unit`` into ``to_unit``."""
    return resolve_conversion(
        from_unit,
        to_unit,
        carrier,
        on=on,
        density_kg_per_l=density_kg_per_l,
        steam_enthalpy_kj_per_kg=steam_enthalpy_kj_per_kg,
    ).factor


def _explicit_or_row(
    quantity: Quantity,
    carrier: Carrier,
    on: date | None,
    explicit: float | None,
    parameters: tuple[Parameter, ...] | None = None,
) -> ParameterUse:
    if explicit is not None:
        if explicit <= 0:
            raise UnitError(f"{quantity} must be positive, got {explicit}")
        return ParameterUse(quantity, explicit, "explicit", None)
    row = select_parameter(quantity, carrier, on, parameters)
    return ParameterUse(quantity, row.value, row.key, row.valid_from)
