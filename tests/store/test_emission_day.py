"""The daily rollup ``emission_day`` (migration 0012) stays equal to the sums of its hour windows
whoever writes them: the sink's straight COPY and its INSERT ... ON CONFLICT DO UPDATE, late
corrections, replays, moves and deletes, and two writers of the same day at once. The park is in
Asia/Shanghai, so hours 14:00 and 15:00 UTC on 9 March are local 9 March and 16:00, 17:00 UTC are
local 10 March: a UTC day would cut them wrongly."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from accounting.windows import WindowKey, WindowResult, WindowResults
from store.windows import upsert_windows
from tests.store.windows_reference import upsert_by_row

pytestmark = pytest.mark.integration

H14, H15, H16, H17 = (datetime(2025, 3, 9, h, tzinfo=UTC) for h in (14, 15, 16, 17))
DAY9, DAY10 = datetime(2025, 3, 9).date(), datetime(2025, 3, 10).date()

# Everything about a meter's day rows that the hour windows determine.
_DAYS = """
SELECT day, enterprise_id, iso_category, activity, gases, gas_windows, tco2e, readings_present,
       readings_expected, windows, factor_versions, flags
FROM emission_day WHERE meter_id = %s ORDER BY day, enterprise_id
"""
# The same figures (less gas_windows), summed straight from the hour windows in the park's zone.
_FROM_HOURS = """
WITH h AS (
  SELECT w.*, (w.window_start AT TIME ZONE p.timezone)::date AS day
  FROM emission_window w JOIN enterprise e USING (enterprise_id) JOIN park p USING (park_id)
  WHERE w.meter_id = %(meter)s AND w.width_s = 3600
)
SELECT day, enterprise_id, iso_category, sum(activity),
       (SELECT jsonb_object_agg(gas, t) FROM (
          SELECT g.key AS gas, sum(g.value::float8) AS t
          FROM h AS h2, jsonb_each_text(h2.gases) AS g
          WHERE h2.day = h.day AND h2.enterprise_id = h.enterprise_id GROUP BY 1) AS x),
       sum(tco2e), sum(readings_present), sum(readings_expected), count(*),
       (SELECT array_agg(DISTINCT v ORDER BY v) FROM h AS h3, unnest(h3.factor_versions) AS v
        WHERE h3.day = h.day AND h3.enterprise_id = h.enterprise_id),
       bit_or(flags)
FROM h GROUP BY day, enterprise_id, iso_category ORDER BY day, enterprise_id
"""
_ROLLED = """
SELECT day, enterprise_id, iso_category, activity, gases, tco2e, readings_present,
       readings_expected, windows, factor_versions, flags
FROM emission_day WHERE meter_id = %(meter)s ORDER BY day, enterprise_id
"""


def _window(
    meter: str,
    start: datetime,
    tco2e: float,
    *,
    enterprise: str,
    width_s: int = 3600,
    present: float = 4,
    flags: int = 0,
    versions: tuple[str, ...] = ("grid-2023",),
) -> WindowResult:
    return WindowResult(
        key=WindowKey(meter, width_s, start),
        window_end=start + timedelta(seconds=width_s),
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
    ids = {"park": f"dp-{unique}", "e1": f"de1-{unique}", "e2": f"de2-{unique}"}
    db.execute(
        "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'd', 'Asia/Shanghai')",
        (ids["park"],),
    )
    for ent in (ids["e1"], ids["e2"]):
        db.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'e')",
            (ent, ids["park"]),
        )
    return ids


def _days(db: psycopg.Connection[Any], meter: str) -> list[tuple[Any, ...]]:
    return db.execute(_DAYS, (meter,)).fetchall()


def _assert_equals_hours(db: psycopg.Connection[Any], meter: str) -> None:
    """The meter's day rows are the sums of its hour windows (floats to 1e-12: summed in
    another order)."""
    rolled = db.execute(_ROLLED, {"meter": meter}).fetchall()
    summed = db.execute(_FROM_HOURS, {"meter": meter}).fetchall()
    assert len(rolled) == len(summed) > 0
    for got, want in zip(rolled, summed, strict=True):
        assert got[:3] == want[:3] and got[8:] == want[8:]
        assert got[4] == {gas: pytest.approx(t, rel=1e-12) for gas, t in want[4].items()}
        assert [got[3], *got[5:8]] == pytest.approx([want[3], *want[5:8]], rel=1e-12)


def test_the_sinks_copy_rolls_hours_up_into_park_local_days(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str
) -> None:
    meter = f"dm-{unique}"
    results = [_window(meter, h, k, enterprise=park["e1"]) for k, h in enumerate((H14, H15), 1)]
    results += [_window(meter, h, k, enterprise=park["e1"]) for k, h in ((3, H16), (4, H17))]
    # Quarter-hour windows of the same hours are not hours: the rollup ignores them.
    results.append(_window(meter, H14, 99, enterprise=park["e1"], width_s=900))
    assert upsert_windows(db, WindowResults.of(results), optimistic=True)  # the straight COPY
    rows = _days(db, meter)
    assert [(r[0], r[6], r[9]) for r in rows] == [(DAY9, 3.0, 2), (DAY10, 7.0, 2)]
    day9 = rows[0]
    assert day9[3] == pytest.approx(300.0) and day9[7:9] == (8.0, 8.0)
    assert day9[4] == {"CO2": pytest.approx(2.7), "CH4": pytest.approx(0.012)}
    # Per gas: hour windows carrying it, their readings present and expected.
    assert day9[5] == {"CO2": [2, 8.0, 8.0], "CH4": [2, 8.0, 8.0]}
    _assert_equals_hours(db, meter)


def test_the_sinks_upsert_recomputes_late_corrections_and_replays_change_nothing(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str
) -> None:
    meter = f"dm-{unique}"
    upsert_windows(db, WindowResults.of([_window(meter, H14, 1, enterprise=park["e1"])]))
    # One statement both updates an hour (a late reading recomputed it) and inserts another:
    # the INSERT and the UPDATE statement triggers both fire.
    late = [
        _window(meter, H14, 1.5, enterprise=park["e1"], present=3, flags=2, versions=("v2",)),
        _window(meter, H15, 2, enterprise=park["e1"], flags=1),
    ]
    upsert_by_row(db, late)
    rows = _days(db, meter)
    assert [(r[0], r[6], r[7], r[9], r[10], r[11]) for r in rows] == [
        (DAY9, 3.5, 7.0, 2, ["grid-2023", "v2"], 3)
    ]
    assert not upsert_windows(db, WindowResults.of(late), optimistic=True)  # COPY clashes: upsert
    upsert_by_row(db, late)
    assert _days(db, meter) == rows  # replayed: the same day, nothing counted twice
    _assert_equals_hours(db, meter)


def test_moving_or_deleting_hours_recomputes_the_days_they_left(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str
) -> None:
    meter = f"dm-{unique}"
    hours = [_window(meter, h, 1, enterprise=park["e1"]) for h in (H14, H15, H16)]
    upsert_windows(db, WindowResults.of(hours))
    db.execute(
        "UPDATE emission_window SET enterprise_id = %s WHERE meter_id = %s AND window_start = %s",
        (park["e2"], meter, H15),
    )
    assert [(r[0], r[1], r[6]) for r in _days(db, meter)] == [
        (DAY9, park["e1"], 1.0),
        (DAY9, park["e2"], 1.0),
        (DAY10, park["e1"], 1.0),
    ]
    # Moved across local midnight: 15:00 UTC (local 23:00 on the 9th) -> 16:30 UTC (the 10th).
    db.execute(
        "UPDATE emission_window SET window_start = %s, window_end = %s"
        " WHERE meter_id = %s AND window_start = %s",
        (H16 + timedelta(minutes=30), H17 + timedelta(minutes=30), meter, H15),
    )
    assert [(r[0], r[1], r[6]) for r in _days(db, meter)] == [
        (DAY9, park["e1"], 1.0),
        (DAY10, park["e1"], 1.0),
        (DAY10, park["e2"], 1.0),
    ]
    db.execute(
        "DELETE FROM emission_window WHERE meter_id = %s AND window_start = %s", (meter, H14)
    )
    assert [r[0] for r in _days(db, meter)] == [DAY10, DAY10]
    _assert_equals_hours(db, meter)


def _until_waiting_on_a_lock(database_url: str, pid: list[int]) -> None:
    """Until the backend ``pid[0]`` (once known) waits for a lock: seen by the server."""
    deadline = time.monotonic() + 30
    with psycopg.connect(database_url, autocommit=True) as watch:
        while True:
            if pid:
                row = watch.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid[0],)
                ).fetchone()
                if row is not None and row[0] == "Lock":
                    return
            assert time.monotonic() < deadline, "the second writer never waited for the day"
            time.sleep(0.02)


def test_two_writers_of_the_same_day_at_once_both_count(
    database_url: str, park: dict[str, str], unique: str
) -> None:
    meter = f"dm-{unique}"
    done = threading.Event()
    second_pid: list[int] = []

    def write_second() -> None:
        with psycopg.connect(database_url, autocommit=True) as second:
            second_pid.append(second.info.backend_pid)
            upsert_windows(
                second, WindowResults.of([_window(meter, H15, 2, enterprise=park["e1"])])
            )
        done.set()

    with psycopg.connect(database_url) as first:
        first.execute("SELECT 1")  # opens the transaction the upsert below runs inside
        upsert_windows(first, WindowResults.of([_window(meter, H14, 1, enterprise=park["e1"])]))
        # ``first`` holds the day until it commits: ``second`` must wait, then recompute with
        # both hours, not overwrite the day with its own hour alone.
        thread = threading.Thread(target=write_second)
        thread.start()
        _until_waiting_on_a_lock(database_url, second_pid)
        assert not done.is_set()
        first.commit()
        thread.join(10)
        assert done.is_set()
        rows = first.execute(_DAYS, (meter,)).fetchall()
    assert [(r[0], r[6], r[9]) for r in rows] == [(DAY9, 3.0, 2)]


def test_rebuild_writes_what_the_triggers_wrote(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str
) -> None:
    meter = f"dm-{unique}"
    upsert_windows(
        db,
        WindowResults.of(
            [_window(meter, h, k, enterprise=park["e1"]) for k, h in enumerate((H14, H16), 1)]
        ),
    )
    before = _days(db, meter)
    db.execute("SELECT emission_day_rebuild()")  # the migration's backfill, over every hour
    assert _days(db, meter) == before


def test_the_row_trigger_of_timescale_mode_rolls_up_the_same_days(
    db: psycopg.Connection[Any], park: dict[str, str], unique: str, storage_mode: str
) -> None:
    # TimescaleDB refuses transition tables on hypertables; the migration installs a row
    # trigger there. Tried here in a transaction that is rolled back, so nothing else sees it.
    meter = f"dm-{unique}"
    with db.transaction(force_rollback=True):
        db.execute("SELECT emission_day_install_triggers(true)")
        upsert_windows(
            db,
            WindowResults.of(
                [_window(meter, h, k, enterprise=park["e1"]) for k, h in ((1, H14), (2, H17))]
            ),
        )
        upsert_by_row(db, [_window(meter, H14, 1.5, enterprise=park["e1"])])
        db.execute(
            "DELETE FROM emission_window WHERE meter_id = %s AND window_start = %s", (meter, H17)
        )
        assert [(r[0], r[6]) for r in _days(db, meter)] == [(DAY9, 1.5)]
        _assert_equals_hours(db, meter)
    triggers = db.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'emission_window'::regclass"
        " AND tgname LIKE 'emission_day%%' ORDER BY 1"
    ).fetchall()
    # Rolled back: the mode's own triggers are back (a hypertable has the row trigger).
    assert [t[0] for t in triggers] == (
        ["emission_day_after_row", "emission_day_after_truncate"]
        if storage_mode == "timescaledb"
        else [
            "emission_day_after_delete",
            "emission_day_after_insert",
            "emission_day_after_truncate",
            "emission_day_after_update",
        ]
    )
