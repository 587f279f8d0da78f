"""Seed data for the report tests (no tests here): a small park with hand-computable windows
(clauses 6.3.1, 9.5), shared by tests/api/test_reports.py and tests/cli/test_report_commands.py.

Park time zone Asia/Shanghai (UTC+8), region CN, GWP set AR5 (CH4 = 28). March 2026, local:

| enterprise | meter | source | local window | activity | tCO2e | gases (t) |
| E1 | elec | purchased_elec. | 03-01 00:00 | 1000 kWh | 0.5306 | CO2 0.5306 |
| E1 | elec | purchased_elec. | 03-15 10:00 (int.) | 500 kWh | 0.2653 | CO2 0.2653 |
| E1 | gas | stationary_comb. | 03-10 08:00 | 100 Nm3 | 0.228 | CO2 0.2, CH4 0.001 |
| E1 | out | activity_only (t) | 03-10 09:00 | 10 t | 0 |  |
| E1 | sink | green_space_sink | 03-12 12:00 | 0 | -1.5 |  |
| E2 | elec | purchased_elec. | 03-20 12:00 | 2000 kWh | 1.0612 | CO2 1.0612 |

Outside March (must not count): E1 elec 02-28 23:00 local (999 kWh) and 04-01 00:00 local
(777 kWh); a 900 s window repeating the 03-15 activity (one width only is summed); and E1 elec
2025-03-05 (0.4 tCO2e), the year before. Market-based electricity: residual mix 0.6096 kg/kWh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

GRID = "grid_avg.CN@2023-01-01"
LOCAL = timedelta(hours=8)


def local(text: str) -> datetime:
    """A local Asia/Shanghai time as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - LOCAL


def _window(
    conn: psycopg.Connection[Any], meter: str, ent: str, cat: str, start: datetime, **kw: Any
) -> None:
    width = kw.get("width", 3600)
    iso = {
        "purchased_electricity": "2 indirect emissions from imported energy",
        "stationary_combustion": "1 direct emissions and removals",
        "green_space_sink": "1 direct emissions and removals",
    }.get(cat)
    conn.execute(
        "INSERT INTO emission_window (meter_id, width_s, window_start, window_end, enterprise_id,"
        " source_category, iso_category, activity, activity_unit, gases, tco2e, gwp_set,"
        " factor_versions, readings_present, readings_expected, completeness, flags, interpolated)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, 'AR5', %s, 4, 4, 1, 0, %s)",
        (
            meter,
            width,
            start,
            start + timedelta(seconds=width),
            ent,
            cat,
            iso,
            kw.get("activity", 0.0),
            kw.get("unit", "kWh"),
            orjson.dumps(kw.get("gases", {})).decode(),
            kw.get("tco2e", 0.0),
            kw.get("versions", []),
            kw.get("interpolated", False),
        ),
    )


def seed(database_url: str, tag: str) -> dict[str, str]:
    """Creates park ``rp-<tag>`` with enterprises E1 and E2 and the windows above."""
    park, e1, e2 = f"rp-{tag}", f"rp-{tag}-e1", f"rp-{tag}-e2"
    meters = {
        "elec": (e1, "electricity", "kWh", "purchased_electricity"),
        "gas": (e1, "natural_gas", "Nm3", "stationary_combustion"),
        "out": (e1, "production_output", "t", "activity_only"),
        "sink": (e1, "heat", "GJ", "green_space_sink"),
        "elec2": (e2, "electricity", "kWh", "purchased_electricity"),
    }
    ids = {k: f"rp-{tag}-{k}" for k in meters}
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO park (park_id, name, timezone, region)"
            " VALUES (%s, %s, 'Asia/Shanghai', 'CN')",
            (park, f"Report park {tag}"),
        )
        for ent in (e1, e2):
            conn.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
                (ent, park, ent.upper()),
            )
        for key, (ent, carrier, unit, cat) in meters.items():
            conn.execute(
                "INSERT INTO meter (meter_id, enterprise_id, carrier, unit, register_kind,"
                " source_category, expected_interval_s, installed_at)"
                " VALUES (%s, %s, %s, %s, 'cumulative', %s, 900, '2026-01-01T00:00:00+08:00')",
                (ids[key], ent, carrier, unit, cat),
            )
        elec, gas = ids["elec"], ids["gas"]
        kwh = {"unit": "kWh", "versions": [GRID]}
        _window(
            conn,
            elec,
            e1,
            "purchased_electricity",
            local("2026-03-01T00:00"),
            activity=1000.0,
            tco2e=0.5306,
            gases={"CO2": 0.5306},
            **kwh,
        )
        _window(
            conn,
            elec,
            e1,
            "purchased_electricity",
            local("2026-03-15T10:00"),
            activity=500.0,
            tco2e=0.2653,
            gases={"CO2": 0.2653},
            interpolated=True,
            **kwh,
        )
        _window(
            conn,
            elec,
            e1,
            "purchased_electricity",
            local("2026-03-15T10:00"),
            width=900,
            activity=500.0,
            tco2e=0.2653,
            gases={"CO2": 0.2653},
            **kwh,
        )
        _window(
            conn,
            gas,
            e1,
            "stationary_combustion",
            local("2026-03-10T08:00"),
            unit="Nm3",
            activity=100.0,
            tco2e=0.228,
            gases={"CO2": 0.2, "CH4": 0.001},
            versions=["fuel.natural_gas.ncv@2016-06-01"],
        )
        _window(
            conn,
            ids["out"],
            e1,
            "activity_only",
            local("2026-03-10T09:00"),
            unit="t",
            activity=10.0,
        )
        _window(
            conn,
            ids["sink"],
            e1,
            "green_space_sink",
            local("2026-03-12T12:00"),
            unit="GJ",
            tco2e=-1.5,
        )
        _window(
            conn,
            ids["elec2"],
            e2,
            "purchased_electricity",
            local("2026-03-20T12:00"),
            activity=2000.0,
            tco2e=1.0612,
            gases={"CO2": 1.0612},
            **kwh,
        )
        for outside, amount in (("2026-02-28T23:00", 999.0), ("2026-04-01T00:00", 777.0)):
            _window(
                conn,
                elec,
                e1,
                "purchased_electricity",
                local(outside),
                activity=amount,
                tco2e=amount * 0.5306e-3,
                gases={"CO2": amount * 0.5306e-3},
                **kwh,
            )
        _window(
            conn,
            elec,
            e1,
            "purchased_electricity",
            local("2025-03-05T00:00"),
            activity=800.0,
            tco2e=0.4,
            gases={"CO2": 0.4},
            **kwh,
        )
        _targets_and_baseline(conn, park, e1)
        _quality_and_actions(conn, elec, e1)
    return {"park": park, "e1": e1, "e2": e2, **ids}


def _targets_and_baseline(conn: psycopg.Connection[Any], park: str, e1: str) -> None:
    for kind, subject, period_kind, start, method, absolute, intensity, unit in (
        ("enterprise", e1, "month", "2026-03-01", "location_based", 2.0, None, None),
        ("enterprise", e1, "month", "2026-03-01", "market_based", None, 0.12, "t product"),
        ("park", park, "year", "2026-01-01", "location_based", 12.0, None, None),
    ):
        conn.execute(
            "INSERT INTO target (subject_kind, subject_id, period_kind, period_start, method,"
            " absolute_tco2e, intensity, intensity_unit, created_by)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'test')",
            (kind, subject, period_kind, start, method, absolute, intensity, unit),
        )
    conn.execute(
        "INSERT INTO baseline (subject_kind, subject_id, method, base_year, period_kind,"
        " value_tco2e, factor_versions, effective, created_by)"
        " VALUES ('enterprise', %s, 'base_year', 2020, 'year', 36.5, %s, '2021-01-01', 'test')",
        (e1, [GRID]),
    )


def _quality_and_actions(conn: psycopg.Connection[Any], elec: str, e1: str) -> None:
    for n, (reason, ts) in enumerate(
        (
            ("SPIKE", "2026-03-02T10:00"),
            ("SPIKE", "2026-03-03T10:00"),
            ("OUT_OF_RANGE", "2026-03-04T10:00"),
            ("SPIKE", "2026-04-02T10:00"),
        )
    ):
        conn.execute(
            "INSERT INTO rejected_reading (meter_id, ts, value, reason, dedupe_key)"
            " VALUES (%s, %s, 1, %s, %s)",
            (elec, local(ts), reason, f"{elec}-{n}"),
        )
    conn.execute(
        "INSERT INTO alert (alert_id, rule, subject_kind, subject_id, enterprise_id, width_s,"
        " first_window_start, window_start, window_end, measured, expected, unit, tolerance,"
        " cause, message, state, first_raised_at, last_updated_at)"
        " VALUES (gen_random_uuid(), 'COMPLETENESS_LOW', 'meter', %s, %s, 3600, %s, %s, %s,"
        " 0.5, 0.9, 'share', 0, 'data_missing', 'few readings', 'RAISED', %s, %s)",
        (
            elec,
            e1,
            *(local("2026-03-05T10:00"),) * 2,
            local("2026-03-05T11:00"),
            *(local("2026-03-05T11:01"),) * 2,
        ),
    )
    ticket = conn.execute(
        "INSERT INTO ticket (rule, subject_kind, subject_id, enterprise_id, title,"
        " suggested_cause, opened_at) VALUES ('COMPLETENESS_LOW', 'meter', %s, %s,"
        " 'few readings', 'data_missing', %s) RETURNING ticket_id",
        (elec, e1, local("2026-03-05T11:02")),
    ).fetchone()
    assert ticket is not None
    conn.execute(
        "INSERT INTO ticket_action (ticket_id, description, owner, due_at, created_by)"
        " VALUES (%s, 'replace the CT', 'duty', %s, 'test')",
        (ticket[0], local("2026-03-10T00:00")),
    )
