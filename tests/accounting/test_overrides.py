"""Factor sets per enterprise (``accounting.overrides.factor_sets``): an enterprise's versions
laid over the park's for its meters only, and new keys stating their identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from accounting.carriers import Carrier
from accounting.co2e import resolve_factor
from accounting.datafile import Evidence
from accounting.factor_rows import FactorRow, Series
from accounting.gwp import GwpSet
from accounting.overrides import CONVERSION_PARAMETER, EMISSION_FACTOR, Override, factor_sets
from accounting.units import resolve_conversion

BASE = Override(
    override_id=1,
    catalogue=EMISSION_FACTOR,
    factor_key="grid_avg.CN",
    value=0.4321,
    unit="kgCO2/kWh",
    valid_from=date(2023, 3, 1),
    valid_to=date(2023, 3, 31),
    source="supplier statement",
    table="table 1",
    edition="2023",
    evidence=Evidence.SINGLE_SOURCE,
    enterprise_id="ent-a",
)


def _grid(rows: Sequence[FactorRow], on: date) -> list[str]:
    return [r.version for r in rows if r.key == "grid_avg.CN" and r.valid_on(on)]


def test_an_enterprise_version_replaces_the_park_one_on_its_days_for_it_only() -> None:
    park, own = factor_sets([BASE])
    assert set(own) == {"ent-a"} and own["ent-a"].applied == (1,)
    mine = own["ent-a"].catalogue.rows
    assert _grid(mine, date(2023, 3, 10)) == ["grid_avg.CN@2023-03-01"]
    # The packaged 2023 version resumes the day after, under the label of that day.
    assert _grid(mine, date(2023, 2, 28)) == ["grid_avg.CN@2023-01-01"]
    assert _grid(mine, date(2023, 4, 1)) == ["grid_avg.CN@2023-04-01"]
    assert _grid(park.catalogue.rows, date(2023, 3, 10)) == ["grid_avg.CN@2023-01-01"]


def test_a_park_version_applies_to_every_enterprise_under_their_own() -> None:
    park_wide = replace(
        BASE,
        override_id=2,
        enterprise_id=None,
        value=0.5,
        valid_from=date(2019, 1, 1),
        valid_to=date(2019, 12, 31),
    )
    park, own = factor_sets([park_wide, BASE])
    for rows in (park.catalogue.rows, own["ent-a"].catalogue.rows):
        assert _grid(rows, date(2019, 6, 1)) == ["grid_avg.CN@2019-01-01"]


def test_a_new_province_key_is_resolved_for_a_park_there() -> None:
    tibet = replace(
        BASE,
        factor_key="grid_avg.CN-XZ",
        enterprise_id=None,
        series=Series.MEE_NBS_GRID_AVERAGE.value,
        carrier="electricity",
        parameter="emission_factor",
        gas="CO2",
        region="CN-XZ",
        value=0.1234,
        valid_from=date(2022, 1, 1),
        valid_to=None,
    )
    park, _ = factor_sets([tibet])
    assert park.applied == (1,)
    factor = resolve_factor(
        park.catalogue,
        carrier=Carrier.ELECTRICITY,
        region=("CN-XZ", "CN-GRID-SOUTHWEST", "CN"),
        on=date(2024, 5, 1),
        series=Series.MEE_NBS_GRID_AVERAGE,
        gwp_set=GwpSet.AR5,
    )
    assert factor.versions == ("grid_avg.CN-XZ@2022-01-01",)
    assert factor.tco2e_per_unit == 0.1234 / 1000


def test_a_new_key_repeating_an_existing_identity_is_refused_not_fatal() -> None:
    twin = replace(
        BASE,
        factor_key="grid_avg.CN.twin",
        enterprise_id=None,
        series=Series.MEE_NBS_GRID_AVERAGE.value,
        carrier="electricity",
        parameter="emission_factor",
        gas="CO2",
        region="CN",
    )
    park, _ = factor_sets([twin])
    assert park.applied == () and "grid_avg.CN" in park.refused[0][1]


def test_an_enterprise_density_converts_its_litres() -> None:
    density = Override(
        override_id=5,
        catalogue=CONVERSION_PARAMETER,
        factor_key="density.lpg",
        value=0.54,
        unit="kg/L",
        valid_from=date(2020, 1, 1),
        valid_to=None,
        source="supplier certificate",
        table="-",
        edition="2020",
        evidence=Evidence.SINGLE_SOURCE,
        enterprise_id="ent-a",
        carrier="lpg",
        parameter="density",
    )
    park, own = factor_sets([density])
    conv = resolve_conversion("L", "t", Carrier.LPG, parameters=own["ent-a"].parameters)
    assert conv.factor == 0.54 / 1000  # 1 L x 0.54 kg/L = 0.54 kg
    assert [p.key for p in park.parameters if p.carrier is Carrier.LPG] == []
