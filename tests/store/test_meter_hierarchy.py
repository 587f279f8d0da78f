"""The meter hierarchy and boundary of migration 0022: a parent is a meter of the same
enterprise and carrier, no meter is its own ancestor, an export is electricity or heat; the one
counting rule (``meter_count_basis``) is the rule ``accounting.boundary`` states; the counted
views carry every column of the tables they read."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest

from accounting.boundary import WEIGHT, MeterRole, count_basis

pytestmark = pytest.mark.integration


@pytest.fixture
def park(db: psycopg.Connection[Any], unique: str) -> str:
    db.execute("INSERT INTO park (park_id, name) VALUES (%s, 'hierarchy')", (f"ph-{unique}",))
    for ent in ("a", "b"):
        db.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (f"{ent}-{unique}", f"ph-{unique}", ent),
        )
    return unique


def _meter(
    db: psycopg.Connection[Any],
    meter_id: str,
    enterprise_id: str,
    *,
    carrier: str = "electricity",
    category: str = "purchased_electricity",
    parent: str | None = None,
    role: str = "consumption",
    in_boundary: bool = True,
) -> None:
    db.execute(
        "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
        " source_category, parent_meter_id, role, in_boundary)"
        " VALUES (%s, %s, %s, 'kWh', 'cumulative', %s, %s, %s, %s)",
        (meter_id, enterprise_id, carrier, category, parent, role, in_boundary),
    )


def _refused(db: psycopg.Connection[Any], statement: str, params: tuple[Any, ...]) -> str:
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        db.execute(statement, params)
    return str(caught.value)


def test_a_parent_measures_the_same_carrier_of_the_same_enterprise(
    db: psycopg.Connection[Any], park: str
) -> None:
    _meter(db, f"main-{park}", f"a-{park}")
    _meter(db, f"sub-{park}", f"a-{park}", parent=f"main-{park}")
    gas = _refused(
        db,
        "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
        " source_category, parent_meter_id) VALUES (%s, %s, 'natural_gas', 'm3', 'cumulative',"
        " 'stationary_combustion', %s)",
        (f"gas-{park}", f"a-{park}", f"main-{park}"),
    )
    assert "measures electricity" in gas
    other = _refused(
        db,
        "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
        " source_category, parent_meter_id) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
        " 'purchased_electricity', %s)",
        (f"b1-{park}", f"b-{park}", f"main-{park}"),
    )
    assert f"of enterprise a-{park}" in other
    # and a parent keeps its children valid when it changes
    changed = _refused(
        db, "UPDATE meter SET carrier = 'steam' WHERE meter_id = %s", (f"main-{park}",)
    )
    assert f"parent of sub-{park}" in changed


def test_no_meter_is_its_own_ancestor(db: psycopg.Connection[Any], park: str) -> None:
    top, mid, low = (f"{n}-{park}" for n in ("top", "mid", "low"))
    _meter(db, top, f"a-{park}")
    _meter(db, mid, f"a-{park}", parent=top)
    _meter(db, low, f"a-{park}", parent=mid)
    cycle = _refused(db, "UPDATE meter SET parent_meter_id = %s WHERE meter_id = %s", (low, top))
    assert "its own ancestor" in cycle
    itself = _refused(db, "UPDATE meter SET parent_meter_id = %s WHERE meter_id = %s", (top, top))
    assert "its own ancestor" in itself


def test_an_export_is_electricity_or_heat_and_stands_alone(
    db: psycopg.Connection[Any], park: str
) -> None:
    _meter(db, f"sold-{park}", f"a-{park}", role="export")
    fuel = _refused(
        db,
        "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
        " source_category, role) VALUES (%s, %s, 'natural_gas', 'm3', 'cumulative',"
        " 'stationary_combustion', 'export')",
        (f"gas-{park}", f"a-{park}"),
    )
    assert "meter_export_is_energy" in fuel
    child = _refused(
        db,
        "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
        " source_category, parent_meter_id) VALUES (%s, %s, 'electricity', 'kWh', 'cumulative',"
        " 'purchased_electricity', %s)",
        (f"under-{park}", f"a-{park}", f"sold-{park}"),
    )
    assert "neither a sub-meter nor a parent" in child


def test_the_database_counts_by_the_rule_accounting_states(
    db: psycopg.Connection[Any], park: str
) -> None:
    _meter(db, f"p-{park}", f"a-{park}")
    cases = list(itertools.product((True, False), (None, f"p-{park}"), list(MeterRole)))
    ids = []
    for i, (in_boundary, parent, role) in enumerate(cases):
        if parent is not None and role is MeterRole.EXPORT:
            continue  # refused above: an export is never a sub-meter
        meter_id = f"c{i}-{park}"
        _meter(db, meter_id, f"a-{park}", parent=parent, role=role, in_boundary=in_boundary)
        ids.append((meter_id, in_boundary, parent, role))
    found = dict(
        (m, (b, w))
        for m, b, w in db.execute(
            "SELECT meter_id, basis, weight FROM meter_count_basis WHERE meter_id = ANY(%s)",
            ([i[0] for i in ids],),
        ).fetchall()
    )
    assert len(found) == 6
    for meter_id, in_boundary, parent, role in ids:
        basis = count_basis(in_boundary=in_boundary, parent_meter_id=parent, role=role)
        assert found[meter_id] == (basis.value, int(WEIGHT[basis])), meter_id


@pytest.mark.parametrize(
    ("view", "table"),
    [
        ("counted_window", "emission_window"),
        ("counted_day", "emission_day"),
        ("counted_month", "emission_month"),
    ],
)
def test_a_counted_view_carries_every_column_of_its_table(
    db: psycopg.Connection[Any], view: str, table: str
) -> None:
    """A column added to a window table must be added to its view (re-created) too."""

    def columns(name: str) -> list[str]:
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (name,),
        ).fetchall()
        return [r[0] for r in rows]

    assert columns(view) == [*columns(table), "weight"]
