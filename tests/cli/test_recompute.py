"""`parkcarbon recompute`: stored windows recomputed with a park factor version added after
they were computed, equal to hand-computed figures, and a second run changes nothing.

March 2020 has no packaged national grid factor (the MEE/NBS series starts in 2021), so the
windows first have no factor (tCO2e 0); the test's park version for March 2020 ends before any
packaged version starts, so nothing another test sees changes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from cli.recompute_commands import register
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.stream.test_overrides import add_grid_override

pytestmark = pytest.mark.integration

DAY = datetime(2020, 3, 5, tzinfo=UTC)
T8 = DAY + timedelta(hours=8)
# Quarter-hour intervals 20, 30, 0, 40 kWh from 08:00, then one of 150 kWh from 09:00 to
# 00:10 the next day (a meter silent overnight): 15 of its 15 h 10 min are in the day.
IN_DAY_KWH = 90.0 + 150.0 * 900 / 910
FACTOR = 0.65  # kgCO2/kWh, the park version for March 2020


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    return app


def _run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        _app(), ["recompute", *args], env={"PARKCARBON_DATABASE_URL": database_url}
    )
    return result.exit_code, result.output


@pytest.fixture
def meter(db: psycopg.Connection[Any]) -> str:
    unique = uuid.uuid4().hex[:8]
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="e", actor="test")
    meter_id = f"R-{unique}"
    add_meter(
        db,
        actor="test",
        meter=Meter(
            meter_id=meter_id,
            enterprise_id=f"e-{unique}",
            carrier="electricity",
            unit="kWh",
            register_kind="cumulative",
            source_category="purchased_electricity",
        ),
    )
    rows: list[tuple[datetime, float, datetime | None, float | None]] = [
        (T8, 100.0, None, None),
        (T8 + timedelta(minutes=15), 120.0, T8, 20.0),
        (T8 + timedelta(minutes=30), 150.0, T8 + timedelta(minutes=15), 30.0),
        (T8 + timedelta(minutes=45), 150.0, T8 + timedelta(minutes=30), 0.0),
        (T8 + timedelta(hours=1), 190.0, T8 + timedelta(minutes=45), 40.0),
        (DAY + timedelta(days=1, minutes=10), 340.0, T8 + timedelta(hours=1), 150.0),
    ]
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO reading (meter_id, ts, value, unit, flags, source, gateway_id, seq,"
            " interval_start, quantity, quantity_unit) VALUES"
            " (%s, %s, %s, 'kWh', 0, 'ems', 'test', %s, %s, %s, 'kWh')",
            [(meter_id, ts, v, i, start, q) for i, (ts, v, start, q) in enumerate(rows)],
        )
    return meter_id


def _windows(db: psycopg.Connection[Any], meter: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT width_s, window_start, activity, tco2e, factor_versions FROM emission_window"
        " WHERE meter_id = %s ORDER BY width_s, window_start",
        (meter,),
    ).fetchall()


def test_recompute_applies_a_new_factor_version_and_a_second_run_changes_nothing(
    database_url: str, db: psycopg.Connection[Any], meter: str
) -> None:
    enterprise = "e-" + meter.removeprefix("R-")
    code, out = _run(database_url, "--from", "2020-03-05", "--to", "2020-03-05", "--meter", meter)
    assert code == 0, out
    # 08:00 to midnight: 64 quarter and 16 hour windows; no 1- or 5-minute ones in 2020, which
    # lies beyond the fine-window horizon (accounting.window_plan).
    assert "recomputed 80 windows (900s: 64, 3600s: 16)" in out
    first = _windows(db, meter)
    assert len(first) == 80
    hours = [w for w in first if w[0] == 3600]
    assert sum(w[2] for w in hours) == pytest.approx(IN_DAY_KWH, rel=1e-12)
    assert {w[3] for w in first} == {0.0} and {tuple(w[4]) for w in first} == {()}

    add_grid_override(db, FACTOR, date(2020, 3, 1), date(2020, 3, 31))
    code, out = _run(
        database_url, "--from", "2020-03-04", "--to", "2020-03-06", "--enterprise", enterprise
    )
    assert code == 0, out
    # Over the three days the whole 240 kWh: 0.156 t.
    assert f"0.000000 -> {240.0 * FACTOR / 1000:.6f}" in out
    # The next day's first 10 minutes are windows too: 1 quarter, 1 hour; the quarter with
    # 0 kWh stays at 0 t.
    assert "recomputed 82 windows" in out and "81 changed" in out
    after = _windows(db, meter)
    by_key = {(w[0], w[1]): w for w in after}
    hour8 = by_key[(3600, T8)]
    assert hour8[2] == pytest.approx(90.0, rel=1e-12)
    assert hour8[3] == pytest.approx(90.0 * FACTOR / 1000, rel=1e-12)
    assert hour8[4] == ["grid_avg.CN@2020-03-01"]
    quarters = [by_key[(900, T8 + timedelta(minutes=15 * i))][3] for i in range(4)]
    assert quarters == pytest.approx([q * FACTOR / 1000 for q in (20, 30, 0, 40)], abs=1e-15)
    night = by_key[(3600, DAY + timedelta(hours=23))]
    assert night[3] == pytest.approx(150.0 * 3600 / 54_600 * FACTOR / 1000, rel=1e-12)
    day_total = sum(w[3] for w in after if w[0] == 3600 and w[1] < DAY + timedelta(days=1))
    assert day_total == pytest.approx(IN_DAY_KWH * FACTOR / 1000, rel=1e-12)

    code, again = _run(
        database_url, "--from", "2020-03-04", "--to", "2020-03-06", "--enterprise", enterprise
    )
    assert code == 0, again
    assert "82 windows" in again and "0 changed" in again
    assert _windows(db, meter) == after


def test_an_unknown_meter_or_a_reversed_period_is_refused(database_url: str, meter: str) -> None:
    code, out = _run(database_url, "--from", "2020-03-05", "--to", "2020-03-05", "--meter", "nope")
    assert code == 2 and "nope" in out
    code, out = _run(database_url, "--from", "2020-03-06", "--to", "2020-03-05", "--meter", meter)
    assert code == 2 and "before" in out
