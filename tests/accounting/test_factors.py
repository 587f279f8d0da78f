"""The factor catalogue: versioned series with sources, selection by date, park overrides."""

from __future__ import annotations

from datetime import date

import pytest

from accounting.carriers import Carrier
from accounting.datafile import DataFileError, Evidence
from accounting.factors import (
    COLUMNS,
    Basis,
    FactorKind,
    FactorRow,
    FactorRowError,
    FactorVersionError,
    NoFactorError,
    Series,
    add_version,
    build_row,
    load_catalogue,
    parse_catalogue,
    select,
)
from accounting.gwp import Gas
from accounting.regions import region_chain

E = Carrier.ELECTRICITY


def _value(series: Series, region: str, on: date) -> float:
    (row,) = select(load_catalogue(), carrier=E, region=region, on=on, series=series).rows
    return row.value


def test_every_row_names_its_source_table_edition_and_evidence() -> None:
    rows = load_catalogue().rows
    assert len(rows) > 50
    for row in rows:
        assert row.source and row.table and row.edition and row.origin
        assert isinstance(row.evidence, Evidence)


def test_mee_nbs_national_average_by_data_year() -> None:
    cases = [(date(2021, 7, 1), 0.5568), (date(2022, 7, 1), 0.5366), (date(2023, 7, 1), 0.5306)]
    for day, value in cases:
        assert _value(Series.MEE_NBS_GRID_AVERAGE, "CN", day) == value


def test_carbon_market_series_is_kept_apart_from_the_mee_nbs_series() -> None:
    day = date(2021, 7, 1)
    market = select(load_catalogue(), carrier=E, region="CN", on=day, series=Series.CN_ETS_GRID)
    assert [(r.value, r.unit) for r in market.rows] == [(0.5810, "tCO2/MWh")]
    assert market.rows[0].normalised == pytest.approx(0.000581, rel=1e-12)  # t per kWh
    assert _value(Series.MEE_NBS_GRID_AVERAGE, "CN", day) == 0.5568
    assert _value(Series.CN_ETS_GRID, "CN", date(2020, 7, 1)) == 0.6101


def test_no_factor_valid_on_date_names_carrier_region_and_date() -> None:
    with pytest.raises(NoFactorError) as err:
        select(
            load_catalogue(),
            carrier=E,
            region=region_chain("CN-JS"),
            on=date(2020, 3, 1),
            series=Series.MEE_NBS_GRID_AVERAGE,
        )
    message = str(err.value)
    assert "'electricity'" in message and "CN-JS" in message and "2020-03-01" in message
    assert "2021-01-01..2021-12-31" in message  # what does exist, to guide the fix


def test_a_region_is_never_widened_unless_the_chain_says_so() -> None:
    day = date(2023, 7, 1)
    with pytest.raises(NoFactorError):
        select(
            load_catalogue(), carrier=E, region="CN-JS", on=day, series=Series.MEE_NBS_GRID_AVERAGE
        )
    sel = select(
        load_catalogue(),
        carrier=E,
        region=region_chain("CN-JS"),
        on=day,
        series=Series.MEE_NBS_GRID_AVERAGE,
    )
    assert sel.region == "CN-GRID-EAST" and sel.rows[0].value == 0.5500


def test_provincial_factor_wins_over_its_grid_when_present() -> None:
    sel = select(
        load_catalogue(),
        carrier=E,
        region=region_chain("CN-YN"),
        on=date(2022, 7, 1),
        series=Series.MEE_NBS_GRID_AVERAGE,
    )
    assert sel.region == "CN-YN" and sel.rows[0].value == 0.1073


def test_latest_published_year_is_open_ended_until_a_new_version_is_added() -> None:
    assert _value(Series.MEE_NBS_GRID_AVERAGE, "CN", date(2026, 1, 1)) == 0.5306


def _override(value: float, start: date, end: date | None = None) -> FactorRow:
    return build_row(
        series=Series.MEE_NBS_GRID_AVERAGE,
        key="grid_avg.CN",
        carrier=E,
        kind=FactorKind.EMISSION_FACTOR,
        gas=Gas.CO2,
        region="CN",
        value=value,
        unit="kgCO2/kWh",
        valid_from=start,
        valid_to=end,
        source="MEE/NBS 2024 factors",
        table="Annex 1",
        edition="test",
        evidence=Evidence.UNVERIFIED,
    )


def test_a_park_override_adds_a_version_and_closes_the_open_one() -> None:
    before = load_catalogue()
    after = add_version(before, _override(0.5000, date(2024, 1, 1)))
    assert _value(Series.MEE_NBS_GRID_AVERAGE, "CN", date(2024, 6, 1)) == 0.5306  # input unchanged
    (new,) = select(
        after, carrier=E, region="CN", on=date(2024, 6, 1), series=Series.MEE_NBS_GRID_AVERAGE
    ).rows
    (old,) = select(
        after, carrier=E, region="CN", on=date(2023, 12, 31), series=Series.MEE_NBS_GRID_AVERAGE
    ).rows
    assert (new.value, new.origin) == (0.5000, "override")
    assert (old.value, old.valid_to) == (0.5306, date(2023, 12, 31))


def test_an_override_overlapping_a_closed_version_is_refused() -> None:
    with pytest.raises(
        FactorVersionError, match=r"grid_avg\.CN@2022-06-01 overlaps grid_avg\.CN@2022-01-01"
    ):
        add_version(load_catalogue(), _override(0.5, date(2022, 6, 1), date(2022, 12, 31)))


def test_an_override_row_is_validated_like_a_file_row() -> None:
    with pytest.raises(FactorRowError, match="field 'unit'"):
        build_row(
            series=Series.MEE_NBS_GRID_AVERAGE,
            key="k",
            carrier=E,
            kind=FactorKind.EMISSION_FACTOR,
            gas=Gas.CO2,
            region="CN",
            value=0.5,
            unit="kgCO2/t",
            valid_from=date(2024, 1, 1),
            valid_to=None,
            source="s",
            table="t",
            edition="e",
            evidence=Evidence.UNVERIFIED,
        )
    with pytest.raises(FactorRowError, match="field 'region': unknown region code 'CN-XX'"):
        _override_region("CN-XX")


def _override_region(region: str) -> None:
    build_row(
        series=Series.MEE_NBS_GRID_AVERAGE,
        key="k",
        carrier=E,
        kind=FactorKind.EMISSION_FACTOR,
        gas=Gas.CO2,
        region=region,
        value=0.5,
        unit="kgCO2/kWh",
        valid_from=date(2024, 1, 1),
        valid_to=None,
        source="s",
        table="t",
        edition="e",
        evidence=Evidence.UNVERIFIED,
    )


HEADER = ",".join(COLUMNS)


def _csv_row(
    series: str, key: str, carrier: str, kind: str, gas: str, value: str, unit: str
) -> str:
    """A catalogue row for region CN with placeholder source fields."""
    return f"{series},{key},{carrier},{kind},{gas},CN,{value},{unit},2016-06-01,,s,t,e,unverified,"


GOOD = (
    "mee_nbs_grid_average,grid_avg.CN,electricity,emission_factor,CO2,CN,0.5,kgCO2/kWh,"
    "2021-01-01,2021-12-31,src,tab,ed,unverified,"
)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (GOOD.replace(",0.5,", ",x,"), r"f\.csv:2: field 'value': 'x' is not a number"),
        (GOOD.replace(",0.5,", ",-0.5,"), r"f\.csv:2: field 'value'"),
        (
            GOOD.replace("mee_nbs_grid_average", "made_up"),
            r"field 'series': 'made_up' is not one of",
        ),
        (GOOD.replace("kgCO2/kWh", "kgCO2/t"), r"field 'unit': 'kgCO2/t' is not per 'kWh'"),
        (
            GOOD.replace("kgCO2/kWh", "kgCH4/kWh"),
            r"field 'unit': 'kgCH4/kWh' must be a mass of CO2",
        ),
        (GOOD.replace(",CO2,CN", ",,CN"), r"field 'unit'.*gas column set"),
        (GOOD.replace(",CN,0.5", ",CN-XX,0.5"), r"field 'region': unknown region code"),
        (GOOD.replace("2021-12-31", "2020-12-31"), r"field 'valid_to': 2020-12-31 is before"),
        (GOOD.replace(",src,", ",,"), r"field 'source': is empty"),
    ],
)
def test_row_errors_name_file_line_and_field(row: str, message: str) -> None:
    with pytest.raises(DataFileError, match=message):
        parse_catalogue(f"{HEADER}\n{row}\n", "f.csv")


def test_fuel_rows_are_checked_against_their_kind() -> None:
    fuel = "gbt32150_fuel_defaults"
    ncv = _csv_row(fuel, "fuel.diesel.ncv", "diesel", "ncv", "", "42.652", "GJ/t")
    (row,) = parse_catalogue(f"{HEADER}\n{ncv}\n", "f.csv")
    assert (row.normalised, row.basis) == (42.652, Basis.ACTIVITY)
    with pytest.raises(DataFileError, match="field 'unit': NCV is energy per unit"):
        parse_catalogue(f"{HEADER}\n{ncv.replace('GJ/t', 'kg/t')}\n", "f.csv")
    cc = _csv_row(fuel, "fuel.diesel.cc", "diesel", "carbon_content", "CO2", "0.0202", "tC/GJ")
    (row,) = parse_catalogue(f"{HEADER}\n{cc}\n", "f.csv")
    assert row.basis is Basis.GJ
    of = _csv_row(fuel, "fuel.diesel.of", "diesel", "oxidation_rate", "", "1.2", "fraction")
    with pytest.raises(DataFileError, match="oxidation rate is a 'fraction' in"):
        parse_catalogue(f"{HEADER}\n{of}\n", "f.csv")


def test_overlapping_versions_of_one_key_in_a_file_are_rejected() -> None:
    second = GOOD.replace("2021-01-01", "2021-06-01").replace("2021-12-31", "")
    with pytest.raises(
        DataFileError, match=r"f\.csv:3: field 'valid_from': grid_avg.CN@2021-06-01 overlaps"
    ):
        parse_catalogue(f"{HEADER}\n{GOOD}\n{second}\n", "f.csv")


def test_one_key_cannot_name_two_factors_nor_one_factor_two_keys() -> None:
    other_region = GOOD.replace(",CN,0.5", ",CN-JS,0.5").replace("2021-", "2022-")
    with pytest.raises(DataFileError, match="already names a different factor"):
        parse_catalogue(f"{HEADER}\n{GOOD}\n{other_region}\n", "f.csv")
    other_key = GOOD.replace("grid_avg.CN,", "grid_avg.copy,").replace("2021-", "2022-")
    with pytest.raises(DataFileError, match=r"same factor as 'grid_avg\.CN'"):
        parse_catalogue(f"{HEADER}\n{GOOD}\n{other_key}\n", "f.csv")


def test_rows_without_a_public_source_seen_are_flagged_unverified() -> None:
    (first_ets,) = select(
        load_catalogue(), carrier=E, region="CN", on=date(2020, 1, 1), series=Series.CN_ETS_GRID
    ).rows
    assert first_ets.evidence is Evidence.UNVERIFIED
