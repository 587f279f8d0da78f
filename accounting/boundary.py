"""Which meters count in a total, and with which sign: the accounting boundary and the meter
hierarchy (clauses 4.3 and 6.3.1; GB/T 32150-2015, its accounting formula of an enterprise's
total: purchased electricity and heat added, exported electricity and heat deducted).

The database applies this rule (view ``meter_count_basis``, migration 0022) to every total it
serves; this module states it purely, for the docs, the API's checks and a test that the two
agree (docs/boundary.md).

- A meter outside the boundary (``in_boundary`` false) is stored and shown, never counted.
- A sub-meter (one naming a parent meter) measures part of its parent's flow: detail only.
- An export meter measures electricity or heat its enterprise sells or passes on. GB/T 32150
  counts an enterprise's *net* purchased electricity and heat (purchased minus exported), so
  an export counts with the sign -1. The buying enterprise counts its purchase as usual; the
  park total then holds the seller's combustion once.
- Every other meter counts as measured.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from accounting.carriers import Carrier
from accounting.categories import SourceCategory


class MeterRole(StrEnum):
    CONSUMPTION = "consumption"  # energy used (or produced and used) by the meter's enterprise
    EXPORT = "export"  # electricity or heat sold or passed on to another enterprise or the grid


class CountBasis(StrEnum):
    """Why a meter's windows are, or are not, in a total."""

    COUNTED = "counted"
    EXPORT = "export"
    SUB_METER = "sub_meter"
    OUT_OF_BOUNDARY = "out_of_boundary"


class Weight(IntEnum):
    """The factor a meter's activity, gases and tCO2e are multiplied by in a total."""

    LEFT_OUT = 0
    COUNTED = 1
    NETTED = -1


WEIGHT: dict[CountBasis, Weight] = {
    CountBasis.COUNTED: Weight.COUNTED,
    CountBasis.EXPORT: Weight.NETTED,
    CountBasis.SUB_METER: Weight.LEFT_OUT,
    CountBasis.OUT_OF_BOUNDARY: Weight.LEFT_OUT,
}

# What an export may measure: the purchased energies GB/T 32150 nets (electricity, and heat;
# steam is heat measured as mass).
EXPORTABLE: dict[Carrier, SourceCategory] = {
    Carrier.ELECTRICITY: SourceCategory.PURCHASED_ELECTRICITY,
    Carrier.STEAM: SourceCategory.PURCHASED_HEAT,
    Carrier.HEAT: SourceCategory.PURCHASED_HEAT,
}


def count_basis(*, in_boundary: bool, parent_meter_id: str | None, role: MeterRole) -> CountBasis:
    """The basis of one meter; the boundary comes first, then the hierarchy, then the role."""
    if not in_boundary:
        return CountBasis.OUT_OF_BOUNDARY
    if parent_meter_id is not None:
        return CountBasis.SUB_METER
    if role is MeterRole.EXPORT:
        return CountBasis.EXPORT
    return CountBasis.COUNTED


def export_problem(*, carrier: Carrier, source_category: str) -> str | None:
    """Why a meter cannot be an export, or None when it can."""
    wanted = EXPORTABLE.get(carrier)
    if wanted is None:
        known = ", ".join(sorted(EXPORTABLE))
        return f"an export meter measures electricity or heat ({known}), not '{carrier}'"
    if source_category != wanted:
        return f"an export of '{carrier}' is netted against '{wanted}', not '{source_category}'"
    return None
