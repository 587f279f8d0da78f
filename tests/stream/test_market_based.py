"""Contractual instruments give a market-based figure beside the location-based one, never in it.

A meter assigned green electricity certificates (``factor_key = contractual_gec``) used to get the
certificate's 0 kgCO2/kWh as its window factor: its location-based tCO2e became 0, netting the
certificates into the location-based total. The window now keeps the grid-average factor; the
report counts the meter's kWh at the instrument's factor in the market-based figure only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from accounting.gwp import GwpSet
from accounting.report import figures
from accounting.window_co2e import EmissionCalculator
from accounting.windows import WindowKey, WindowSums
from api.reports.service import ResidualMix
from store.registry import Meter, add_enterprise, add_meter, add_park
from store.reports import Scope, window_groups
from stream.recompute import recompute, select_meters
from tests.stream.test_overrides import _meter

GRID_2023 = 0.5306 / 1000  # tCO2/kWh, grid_avg.CN@2023-01-01
RESIDUAL_2023 = 0.6096 / 1000  # tCO2/kWh, residual_mix.CN@2023-01-01


def test_a_certificate_meter_keeps_its_location_based_grid_figure() -> None:
    calc = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5)
    start = datetime(2024, 5, 1, 2, tzinfo=UTC)
    meter = _meter(factor_key="contractual_gec")
    r = calc.result(WindowSums(WindowKey("E-1", 3600, start), 1000.0, 4.0, 0, False), meter)
    assert r.tco2e == pytest.approx(1000.0 * GRID_2023, rel=1e-12)  # 0.5306 t, not 0
    assert r.factor_versions == ("grid_avg.CN@2023-01-01",)


def test_a_carbon_market_series_still_replaces_the_default() -> None:
    calc = EmissionCalculator(region="CN", gwp_set=GwpSet.AR5)
    start = datetime(2024, 5, 1, 2, tzinfo=UTC)
    r = calc.result(
        WindowSums(WindowKey("E-1", 3600, start), 1000.0, 4.0, 0, False),
        _meter(factor_key="cn_ets_grid"),
    )
    assert r.factor_versions == ("ets_grid.CN@2022-01-01",)


@pytest.mark.integration
async def test_location_and_market_based_side_by_side_in_the_stored_windows_and_report(
    db: psycopg.Connection[Any], database_url: str, unique: str
) -> None:
    park, ent = f"p-{unique}", f"e-{unique}"
    add_park(db, park_id=park, name="park", actor="test")
    add_enterprise(db, enterprise_id=ent, park_id=park, name="e", actor="test")
    day = datetime(2024, 5, 1, tzinfo=UTC)  # 08:00 in the park
    for meter_id, instrument, kwh in (
        (f"G-{unique}", "contractual_gec", 100.0),
        (f"N-{unique}", None, 50.0),
    ):
        add_meter(
            db,
            actor="test",
            meter=Meter(
                meter_id=meter_id,
                enterprise_id=ent,
                carrier="electricity",
                unit="kWh",
                register_kind="cumulative",
                source_category="purchased_electricity",
                factor_key=instrument,
            ),
        )
        db.execute(
            "INSERT INTO reading (meter_id, ts, value, unit, flags, source, gateway_id, seq,"
            " interval_start, quantity, quantity_unit) VALUES"
            " (%s, %s, %s, 'kWh', 0, 'ems', 'test', 1, %s, %s, 'kWh')",
            (meter_id, day + timedelta(hours=1), kwh, day, kwh),
        )
    recompute(
        db,
        first=date(2024, 5, 1),
        last=date(2024, 5, 1),
        meters=select_meters(db, [f"G-{unique}", f"N-{unique}"], None),
        gwp_set=GwpSet.AR5,
    )
    hours = db.execute(
        "SELECT meter_id, tco2e FROM emission_window WHERE enterprise_id = %s AND width_s = 3600"
        " ORDER BY meter_id",
        (ent,),
    ).fetchall()
    # Location-based: both meters at the grid average, 100 and 50 kWh x 0.5306 kgCO2/kWh.
    assert hours == [
        (f"G-{unique}", pytest.approx(100.0 * GRID_2023, rel=1e-12)),
        (f"N-{unique}", pytest.approx(50.0 * GRID_2023, rel=1e-12)),
    ]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        groups = await window_groups(
            conn, scope=Scope(park, "Asia/Shanghai", None, date(2024, 5, 1), date(2024, 5, 2))
        )
    figs = figures(groups, residual=ResidualMix("CN"))
    # Location: 150 kWh x 0.5306 kg = 0.07959 t. Market: the certificate-covered 100 kWh at
    # 0 kg, the other 50 kWh at the residual mix 0.6096 kg = 0.03048 t.
    assert figs.location_tco2e == pytest.approx(150.0 * GRID_2023, rel=1e-12)
    assert figs.market_tco2e == pytest.approx(50.0 * RESIDUAL_2023, rel=1e-12)
    assert figs.by_gas[0].market_tonnes == pytest.approx(50.0 * RESIDUAL_2023, rel=1e-12)
