"""Energy carriers and other metered quantities, each with its canonical unit.

The canonical unit is the one every reading of that carrier is converted to before accounting
(clause 6.3.1 activity data). Keep this list and ``CANONICAL_UNIT`` in step.
"""

from __future__ import annotations

from enum import StrEnum


class Carrier(StrEnum):
    ELECTRICITY = "electricity"
    NATURAL_GAS = "natural_gas"
    RAW_COAL = "raw_coal"
    COKE = "coke"
    DIESEL = "diesel"
    GASOLINE = "gasoline"
    FUEL_OIL = "fuel_oil"
    LPG = "lpg"
    STEAM = "steam"
    HEAT = "heat"
    WATER = "water"
    PRODUCTION_OUTPUT = "production_output"
    OUTPUT_VALUE = "output_value"
    # Mass of one greenhouse gas released (refrigerant top-ups, SF6 switchgear losses); the gas
    # itself is named by the factor, so one carrier covers every fugitive gas.
    FUGITIVE_GAS = "fugitive_gas"
    # Mass of a raw material whose decomposition or reaction releases CO2 (limestone, dolomite:
    # clause 6.3.1 c process emissions); the material is named by its process factor
    # (``accounting.process``), so one carrier covers every process material.
    PROCESS_MATERIAL = "process_material"
    # Area of green space (trees, lawn) whose removals are estimated (clause 6.3.1 c sink).
    GREEN_SPACE = "green_space"


# The fuels burned for energy (GB/T 32150 annex tables): combustion carriers with NCV-based
# default factors.
FUELS = frozenset(
    {
        Carrier.NATURAL_GAS,
        Carrier.RAW_COAL,
        Carrier.COKE,
        Carrier.DIESEL,
        Carrier.GASOLINE,
        Carrier.FUEL_OIL,
        Carrier.LPG,
    }
)

CANONICAL_UNIT: dict[Carrier, str] = {
    Carrier.ELECTRICITY: "kWh",
    Carrier.NATURAL_GAS: "Nm3",
    Carrier.RAW_COAL: "t",
    Carrier.COKE: "t",
    Carrier.DIESEL: "t",
    Carrier.GASOLINE: "t",
    Carrier.FUEL_OIL: "t",
    Carrier.LPG: "t",
    Carrier.STEAM: "GJ",
    Carrier.HEAT: "GJ",
    Carrier.WATER: "m3",
    Carrier.PRODUCTION_OUTPUT: "t",
    # Output value in units of 10^4 CNY, as Chinese intensity statistics report it.
    Carrier.OUTPUT_VALUE: "10^4 CNY",
    Carrier.FUGITIVE_GAS: "t",
    Carrier.PROCESS_MATERIAL: "t",
    Carrier.GREEN_SPACE: "ha",
}
