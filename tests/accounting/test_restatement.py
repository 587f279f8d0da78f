"""A base year recomputed from stored activity exactly as the worker would compute its windows
now: the packaged catalogue plus the park's versions, the park's region (clause 6.5 c)."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.baseline import BaselineError, StoredActivity
from accounting.datafile import Evidence
from accounting.gwp import GwpSet
from accounting.overrides import EMISSION_FACTOR, Override, apply_overrides, packaged_factors
from accounting.restatement import restate_activity
from store.registry import Meter

KEY = "grid_avg.CN-GRID-SOUTHWEST"  # packaged 2023 version: 0.2472 kgCO2/kWh, open-ended
REGION = "CN-SC"  # Sichuan: its chain reaches the southwest grid's factor
PACKAGED = f"{KEY}@2023-01-01"
PARK_VERSION = f"{KEY}@2023-07-01"

METERS = {
    "E-1": Meter(
        meter_id="E-1",
        enterprise_id="e",
        carrier="electricity",
        unit="kWh",
        register_kind="cumulative",
        source_category="purchased_electricity",
    ),
    "O-1": Meter(
        meter_id="O-1",
        enterprise_id="e",
        carrier="production_output",
        unit="t",
        register_kind="cumulative",
        source_category="activity_only",
    ),
}
# Two days of 2023 as the worker stored them with the packaged factor: 1000 kWh x 0.2472 kg.
STORED = [
    StoredActivity("E-1", date(2023, 3, 15), 1000.0, "kWh", 0.2472, (PACKAGED,), windows=10),
    StoredActivity("E-1", date(2023, 9, 10), 1000.0, "kWh", 0.2472, (PACKAGED,), windows=10),
]


def _park_version(value: float) -> Override:
    return Override(
        override_id=1,
        catalogue=EMISSION_FACTOR,
        factor_key=KEY,
        value=value,
        unit="kgCO2/kWh",
        valid_from=date(2023, 7, 1),
        valid_to=None,
        source="Provincial grid factor notice",
        table="table 1",
        edition="2024",
        evidence=Evidence.UNVERIFIED,
    )


def test_a_park_version_changes_the_days_it_covers_only() -> None:
    result = restate_activity(
        STORED,
        meters=METERS,
        factors=apply_overrides([_park_version(0.3)]),
        region=REGION,
        gwp_set=GwpSet.AR5,
    )
    # 1000 kWh x 0.2472 kg (March, packaged) + 1000 kWh x 0.3 kg (September, park version)
    assert result.restated_tco2e == pytest.approx(0.5472, rel=1e-12)
    assert result.stored_tco2e == pytest.approx(0.4944, rel=1e-12)
    assert result.versions_after == (PACKAGED, PARK_VERSION)
    assert result.windows == 20


def test_the_packaged_catalogue_gives_back_the_stored_figure() -> None:
    result = restate_activity(
        STORED, meters=METERS, factors=packaged_factors(), region=REGION, gwp_set=GwpSet.AR5
    )
    assert result.restated_tco2e == pytest.approx(result.stored_tco2e, rel=1e-12)
    assert result.versions_after == result.versions_before == (PACKAGED,)


def test_activity_only_meters_and_unconverted_activity_get_no_factor() -> None:
    output = StoredActivity("O-1", date(2023, 3, 15), 50.0, "t", 0.0, ())
    raw = StoredActivity("E-1", date(2023, 3, 16), 7.0, "m3", 0.0, ())  # kept in its own unit
    result = restate_activity(
        [*STORED, output, raw],
        meters=METERS,
        factors=packaged_factors(),
        region=REGION,
        gwp_set=GwpSet.AR5,
    )
    assert result.restated_tco2e == pytest.approx(0.4944, rel=1e-12)
    assert result.lacking_factor == ()


def test_an_unregistered_meter_is_refused() -> None:
    stray = StoredActivity("X-9", date(2023, 3, 15), 1.0, "kWh", 0.0002472, (PACKAGED,))
    with pytest.raises(BaselineError, match="'X-9'"):
        restate_activity(
            [stray], meters=METERS, factors=packaged_factors(), region=REGION, gwp_set=GwpSet.AR5
        )
