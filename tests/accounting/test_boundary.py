"""The boundary rule as accounting states it (accounting/boundary.py, docs/boundary.md)."""

from __future__ import annotations

import pytest

from accounting.boundary import (
    WEIGHT,
    CountBasis,
    MeterRole,
    Weight,
    count_basis,
    export_problem,
)
from accounting.carriers import Carrier


def test_a_root_consumption_meter_in_the_boundary_counts_as_measured() -> None:
    basis = count_basis(in_boundary=True, parent_meter_id=None, role=MeterRole.CONSUMPTION)
    assert (basis, WEIGHT[basis]) == (CountBasis.COUNTED, Weight.COUNTED)


def test_an_export_is_deducted_from_its_enterprise() -> None:
    basis = count_basis(in_boundary=True, parent_meter_id=None, role=MeterRole.EXPORT)
    assert (basis, WEIGHT[basis]) == (CountBasis.EXPORT, Weight.NETTED)


def test_a_sub_meter_is_detail_of_its_parent() -> None:
    basis = count_basis(in_boundary=True, parent_meter_id="P", role=MeterRole.CONSUMPTION)
    assert (basis, WEIGHT[basis]) == (CountBasis.SUB_METER, Weight.LEFT_OUT)


@pytest.mark.parametrize("parent", [None, "P"])
@pytest.mark.parametrize("role", list(MeterRole))
def test_outside_the_boundary_nothing_counts_whatever_the_place_or_role(
    parent: str | None, role: MeterRole
) -> None:
    basis = count_basis(in_boundary=False, parent_meter_id=parent, role=role)
    assert (basis, WEIGHT[basis]) == (CountBasis.OUT_OF_BOUNDARY, Weight.LEFT_OUT)


def test_an_export_nets_purchased_electricity_or_heat_only() -> None:
    assert (
        export_problem(carrier=Carrier.ELECTRICITY, source_category="purchased_electricity") is None
    )
    assert export_problem(carrier=Carrier.STEAM, source_category="purchased_heat") is None
    assert "not 'natural_gas'" in (
        export_problem(carrier=Carrier.NATURAL_GAS, source_category="stationary_combustion") or ""
    )
    assert "netted against 'purchased_heat'" in (
        export_problem(carrier=Carrier.HEAT, source_category="purchased_electricity") or ""
    )
