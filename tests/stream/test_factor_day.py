"""The factor version in force is chosen by the park's local day, not the UTC day.

A factor published for a year is in force from 1 January 00:00 in the park's time zone. In
Beijing (UTC+8) that instant is 16:00 UTC on 31 December: choosing by the UTC day would give
the first eight hours of every year the previous year's factor.

Golden case: 2024-01-01 00:30 Asia/Shanghai = 2023-12-31 16:30 UTC picks the 2024 version.
End to end: a real worker and a park version for December 2019 and one for January 2020 (no
packaged version covers them, so nothing another test sees changes); registers across the
local new year are computed with the version of each window's local day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from accounting.gwp import GwpSet
from accounting.overrides import apply_overrides
from accounting.window_co2e import EmissionCalculator
from accounting.windows import WindowKey, WindowSums
from stream.recompute import recompute, select_meters
from tests.conftest import RunningWorker
from tests.stream.test_overrides import (
    _meter,
    _override,
    add_grid_override,
    electricity_meter,
    push_registers,
)
from tests.stream.test_worker import _wait_rows

NEW_YEAR_UTC = datetime(2023, 12, 31, 16, 0, tzinfo=UTC)  # 2024-01-01 00:00 Asia/Shanghai


def _calculator(timezone: str = "Asia/Shanghai") -> EmissionCalculator:
    factors = apply_overrides([_override(1, "grid_avg.CN", 0.6, date(2024, 1, 1))])
    return EmissionCalculator(
        region="CN",
        gwp_set=GwpSet.AR5,
        timezone=timezone,
        catalogue=factors.catalogue,
        parameters=factors.parameters,
    )


def _quarter(start: datetime, kwh: float) -> WindowSums:
    return WindowSums(WindowKey("E-1", 900, start), kwh, 1.0, 0, False)


def test_half_past_midnight_on_new_years_day_in_beijing_uses_the_new_years_factor() -> None:
    at = datetime(2024, 1, 1, 0, 30, tzinfo=UTC) - timedelta(hours=8)
    assert at == datetime(2023, 12, 31, 16, 30, tzinfo=UTC)
    result = _calculator().result(_quarter(at, 100.0), _meter())
    assert result.factor_versions == ("grid_avg.CN@2024-01-01",)
    assert result.tco2e == pytest.approx(100.0 * 0.6 / 1000, rel=1e-12)  # 100 kWh x 0.6 kg/kWh


def test_the_last_quarter_of_the_local_year_keeps_the_old_factor() -> None:
    at = NEW_YEAR_UTC - timedelta(minutes=15)  # 2023-12-31 23:45 in Beijing
    result = _calculator().result(_quarter(at, 100.0), _meter())
    assert result.factor_versions == ("grid_avg.CN@2023-01-01",)
    assert result.tco2e == pytest.approx(100.0 * 0.5306 / 1000, rel=1e-12)


def test_a_park_on_utc_changes_factor_at_utc_midnight() -> None:
    calc = _calculator("UTC")
    assert calc.result(_quarter(NEW_YEAR_UTC, 1.0), _meter()).factor_versions == (
        "grid_avg.CN@2023-01-01",
    )
    midnight = datetime(2024, 1, 1, tzinfo=UTC)
    assert calc.result(_quarter(midnight, 1.0), _meter()).factor_versions == (
        "grid_avg.CN@2024-01-01",
    )


# -- end to end ----------------------------------------------------------------------------------

DECEMBER, JANUARY = 0.61, 0.73  # kgCO2/kWh, the test's park versions


@pytest.mark.integration
async def test_the_worker_and_recompute_pick_versions_by_the_parks_local_day(
    worker: RunningWorker, kafka_bootstrap: str, db: psycopg.Connection, unique: str
) -> None:
    add_grid_override(db, DECEMBER, date(2019, 12, 1), date(2019, 12, 31))
    add_grid_override(db, JANUARY, date(2020, 1, 1), date(2020, 1, 31))
    meter = electricity_meter(db, unique)  # park time zone: the default Asia/Shanghai
    # Hourly registers from 2019-12-31 15:00 UTC (23:00 in Beijing): 10 kWh in the last local
    # hour of 2019, 20 kWh in the first local hour of 2020.
    t0 = int(datetime(2019, 12, 31, 15, tzinfo=UTC).timestamp() * 1000)
    regs = [0, 2.5, 5, 7.5, 10, 15, 20, 25, 30]
    await push_registers(worker, kafka_bootstrap, unique, meter, t0, regs)
    hours = _wait_rows(
        db,
        "SELECT window_start, activity, tco2e, factor_versions FROM emission_window"
        " WHERE meter_id = %s AND width_s = 3600 ORDER BY window_start",
        (meter,),
        2,
    )
    assert [(h[0], h[1], h[3]) for h in hours] == [
        (datetime(2019, 12, 31, 15, tzinfo=UTC), 10.0, ["grid_avg.CN@2019-12-01"]),
        (datetime(2019, 12, 31, 16, tzinfo=UTC), 20.0, ["grid_avg.CN@2020-01-01"]),
    ]
    # 10 kWh x 0.61 kg/kWh = 6.1 kg; 20 kWh x 0.73 kg/kWh = 14.6 kg
    assert [h[2] for h in hours] == pytest.approx([0.0061, 0.0146], rel=1e-12)

    # `parkcarbon recompute` computes as the worker did: nothing changes.
    summary = recompute(
        db,
        first=date(2019, 12, 31),
        last=date(2019, 12, 31),
        meters=select_meters(db, [meter], None),
        gwp_set=GwpSet.AR5,
    )
    assert summary.windows > 0
    assert summary.changed == 0
    assert summary.tco2e_after == pytest.approx(0.0061 + 0.0146, rel=1e-12)
