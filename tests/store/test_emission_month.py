"""The monthly rollup ``emission_month`` (migration 0013) stays equal to the sums of its day rows
(``emission_day``, 0012) through inserts, late corrections, moves and deletes of hour windows.
The park is in Asia/Shanghai: 31 March 15:00 UTC is local 23:00 on 31 March, 16:00 UTC is local
00:00 on 1 April, so a UTC month would put both hours in March."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from accounting.windows import WindowKey, WindowResult, WindowResults
from store.windows import upsert_windows
from tests.store.windows_reference import upsert_by_row

pytestmark = pytest.mark.integration

MAR9 = datetime(2025, 3, 9, 14, tzinfo=UTC)  # local 22:00 on 9 March
MAR31 = datetime(2025, 3, 31, 15, tzinfo=UTC)  # local 23:00 on 31 March
APR1 = datetime(2025, 3, 31, 16, tzinfo=UTC)  # local 00:00 on 1 April
MARCH, APRIL = date(2025, 3, 1), date(2025, 4, 1)

_MONTHS = """
SELECT month, enterprise_id, iso_category, activity, gases, gas_windows, tco2e,
       readings_present, readings_expected, windows, factor_versions, flags
FROM emission_month WHERE meter_id = %s ORDER BY month, enterprise_id
"""
# The same figures summed straight from the meter's day rows.
_FROM_DAYS = """
WITH d AS (
  SELECT *, date_trunc('month', day::timestamp)::date AS month
  FROM emission_day WHERE meter_id = %(meter)s
)
SELECT month, enterprise_id, iso_category, sum(activity),
       (SELECT jsonb_object_agg(gas, t) FROM (
          SELECT g.key AS gas, sum(g.value::float8) AS t FROM d AS d2, jsonb_each_text(d2.gases) g
          WHERE d2.month = d.month AND d2.enterprise_id = d.enterprise_id GROUP BY 1) AS x),
       (SELECT jsonb_object_agg(gas, jsonb_build_array(n, p, e)) FROM (
          SELECT g.key AS gas, sum((g.value ->> 0)::bigint) AS n,
                 sum((g.value ->> 1)::float8) AS p, sum((g.value ->> 2)::float8) AS e
          FROM d AS d2, jsonb_each(d2.gas_windows) g
          WHERE d2.month = d.month AND d2.enterprise_id = d.enterprise_id GROUP BY 1) AS x),
       sum(tco2e), sum(readings_present), sum(readings_expected), sum(windows)::integer,
       (SELECT array_agg(DISTINCT v ORDER BY v) FROM d AS d3, unnest(d3.factor_versions) AS v
        WHERE d3.month = d.month AND d3.enterprise_id = d.enterprise_id),
       bit_or(flags)
FROM d GROUP BY month, enterprise_id, iso_category ORDER BY month, enterprise_id
"""


def _window(
    meter: str,
    start: datetime,
    tco2e: float,
    *,
    enterprise: str,
    present: float = 4,
    flags: int = 0,
    versions: tuple[str, ...] = ("grid-2023",),
) -> WindowResult:
    return WindowResult(
        key=WindowKey(meter, 3600, start),
        window_end=start + timedelta(hours=1),
        enterprise_id=enterprise,
        source_category="stationary_combustion",
        iso_category="1",
        activity=tco2e * 100,
        activity_unit="Nm3",
        gases={"CO2": tco2e * 0.9, "CH4": tco2e * 0.004},
        tco2e=tco2e,
        gwp_set="AR5",
        factor_versions=versions,
        readings_present=present,
        readings_expected=4,
        completeness=present / 4,
        flags=flags,
        interpolated=False,
    )


@pytest.fixture
def park(db: psycopg.Connection[Any], unique: str) -> dict[str, str]:
    ids = {"park": f"mp-{unique}", "e1": f"me1-{unique}", "e2": f"me2-{unique}"}
    db.execute(
        "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'm', 'Asia/Shanghai')",
        (ids["park"],),
    )
    for ent in (ids["e1"], ids["e2"]):
        db.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'e')",
            (ent, ids["park"]),
        )
    return ids


def _months(db: psycopg.Connection[Any], meter: str) -> list[tuple[Any, ...]]:
    return db.execute(_MONTHS, (meter,)).fetchall()


def _assert_equals_days(db: psycopg.Connection[Any], meter: str) -> None:
    """The meter's month rows are the sums of its day rows (floats to 1e-12: summed in another
    order)."""
    rolled = _months(db, meter)
    summed = db.execute(_FROM_DAYS, {"meter": meter}).fetchall()
    assert len(rolled) == len(summed) > 0
    for got, want in zip(rolled, summed, strict=True):
        assert got[:3] == want[:3] and got[9:] == want[9:]
        assert got[4] == {gas: pytest.approx(t, rel=1e-12) for gas, t in want[4].items()}
        assert got[5] == {gas: pytest.approx(v, rel=1e-12) for gas, v in want[5].items()}
        assert [got[3], *got[6:9]] == pytest.approx([want[3], *want[6:9]], rel=1e-12)


def test_month_rows_are_the_sums_of_their_park_local_days_through_corrections_and_deletes(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str
) -> None:
    meter = f"mm-{unique}"
    hours = [(MAR9, 1.0), (MAR9 + timedelta(hours=1), 2.0), (MAR31, 3.0), (APR1, 4.0)]
    assert upsert_windows(
        db,
        WindowResults.of([_window(meter, h, t, enterprise=park["e1"]) for h, t in hours]),
        optimistic=True,
    )  # the straight COPY: two local days of March, one of April
    rows = _months(db, meter)
    assert [(r[0], r[6], r[9]) for r in rows] == [(MARCH, 6.0, 3), (APRIL, 4.0, 1)]
    assert rows[0][3] == pytest.approx(600.0) and rows[0][7:9] == (12.0, 12.0)
    assert rows[0][4] == {"CO2": pytest.approx(5.4), "CH4": pytest.approx(0.024)}
    assert rows[0][5] == {"CO2": [3, 12.0, 12.0], "CH4": [3, 12.0, 12.0]}
    _assert_equals_days(db, meter)

    # A late correction of 31 March's hour (fewer readings, a new factor version, a flag) and a
    # new hour on 9 March in one statement; then the same statement replayed.
    late = [
        _window(meter, MAR31, 3.5, enterprise=park["e1"], present=3, flags=2, versions=("v2",)),
        _window(meter, MAR9 + timedelta(hours=2), 1.0, enterprise=park["e1"], flags=1),
    ]
    upsert_by_row(db, late)
    upsert_by_row(db, late)
    rows = _months(db, meter)
    assert [(r[0], r[6], r[7], r[9], r[10], r[11]) for r in rows] == [
        (MARCH, 7.5, 15.0, 4, ["grid-2023", "v2"], 3),
        (APRIL, 4.0, 4.0, 1, ["grid-2023"], 0),
    ]
    _assert_equals_days(db, meter)

    # An hour moved to another enterprise splits its month; deleting April's only hour empties
    # April.
    db.execute(
        "UPDATE emission_window SET enterprise_id = %s WHERE meter_id = %s AND window_start = %s",
        (park["e2"], meter, MAR9),
    )
    db.execute(
        "DELETE FROM emission_window WHERE meter_id = %s AND window_start = %s", (meter, APR1)
    )
    assert [(r[0], r[1], r[6]) for r in _months(db, meter)] == [
        (MARCH, park["e1"], 6.5),
        (MARCH, park["e2"], 1.0),
    ]
    _assert_equals_days(db, meter)


def test_rebuild_writes_what_the_triggers_wrote(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str
) -> None:
    meter = f"mm-{unique}"
    upsert_windows(
        db,
        WindowResults.of(
            [_window(meter, h, t, enterprise=park["e1"]) for h, t in ((MAR9, 1.0), (APR1, 2.0))]
        ),
    )
    before = _months(db, meter)
    # The migration's backfill, over every day row; rolled back so nothing else waits on it.
    with db.transaction(force_rollback=True):
        assert db.execute("SELECT emission_month_rebuild()").fetchone()[0] >= 2  # type: ignore[index]
        assert _months(db, meter) == before
