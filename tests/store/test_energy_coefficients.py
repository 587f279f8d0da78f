"""The tce coefficients SQL reads are the packaged GB/T 2589 catalogue's, copied by every
migration run (one source of truth: accounting/data/gbt2589_energy_coefficients.csv)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from accounting.energy import load_coefficients
from store.energy_coefficients import sync

pytestmark = pytest.mark.integration


def _rows(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT version, carrier, convention, tce_per_unit, unit, valid_from, valid_to"
        " FROM energy_coefficient ORDER BY version"
    ).fetchall()


def test_the_migrated_table_holds_the_catalogue_and_a_second_sync_changes_nothing(
    db: psycopg.Connection[Any],
) -> None:
    catalogue = sorted(
        (c.version, c.carrier.value, c.convention.value, c.tce_per_unit, c.valid_from, c.valid_to)
        for c in load_coefficients()
    )
    stored = _rows(db)
    assert [(v, ca, co, t, f, to) for v, ca, co, t, _, f, to in stored] == catalogue
    # The equal value of electricity, by hand: 0.1229 kgce/kWh = 0.0001229 tce per kWh.
    electricity = [r for r in stored if r[0].startswith("tce.electricity.equal_value@")]
    assert [(r[3], r[4]) for r in electricity] == [(pytest.approx(0.1229e-3), "kWh")]

    assert sync(db) == len(catalogue)
    assert _rows(db) == stored
