"""Objectives (6.2), reduction measures with M&V and ranking (6.2.2, 6.3, 6.3.1 a) and the meter
calibration log (9.1 c), over HTTP against the real API and database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
from psycopg import AsyncConnection

from accounting.meter import MeterState
from accounting.reasons import Reason
from accounting.validation import validate
from store.registry import get_meter, to_profile
from tests.api.conftest import ENTERPRISE_A, PARK, ApiServer

pytestmark = pytest.mark.integration


async def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


async def _meter(admin: httpx.AsyncClient, meter_id: str, enterprise: str, **kw: Any) -> None:
    body = {
        "meter_id": meter_id,
        "enterprise_id": enterprise,
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
        "installed_at": "2024-01-01T00:00:00Z",
        **kw,
    }
    await _ok(await admin.post("/v1/meters", json=body), 201)


async def _window(server: ApiServer, meter_id: str, start_utc: str, tco2e: float) -> None:
    """One stored hour window of the meter, as the worker writes it."""
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, iso_category, activity, activity_unit, gases,"
            " tco2e, readings_present, readings_expected, completeness)"
            " VALUES (%s, 3600, %s::timestamptz, %s::timestamptz + interval '1 hour', %s,"
            " 'purchased_electricity', 'category_2', 100.0, 'kWh', '{}', %s, 4, 4, 1)",
            (meter_id, start_utc, start_utc, ENTERPRISE_A, tco2e),
        )


def _measure(enterprise: str, **kw: Any) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "title": "VFDs on cooling-water pumps",
        "description": "variable-frequency drives on pumps P1-P4",
        "source_category": "purchased_electricity",
        "expected_tco2e_per_year": 73.0,
        "capex_cny": 100_000.0,
        "owner": "wang.lei",
        "planned_start": "2025-01-01",
        "planned_end": "2025-02-15",
        **kw,
    }


async def test_an_implemented_measure_is_verified_against_the_meters_baseline(
    admin: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    meter = f"mv-{unique}"
    await _meter(admin, meter, ENTERPRISE_A)
    await _ok(
        await admin.post(
            "/v1/baselines",
            json={
                "subject_kind": "meter",
                "subject_id": meter,
                "method": "base_year",
                "base_year": 2024,
                "value_tco2e": 365.0,
                "effective": "2025-01-01",
            },
        ),
        201,
    )
    # 1 March 2025 in Asia/Shanghai is 28 Feb 16:00 to 1 March 16:00 UTC: two windows inside
    # (0.3 t each), one on 2 March local (outside the period).
    for start, t in (
        ("2025-02-28T16:00:00Z", 0.3),
        ("2025-03-01T15:00:00Z", 0.3),
        ("2025-03-01T16:00:00Z", 5.0),
    ):
        await _window(api_server, meter, start, t)
    made = await _ok(
        await admin.post("/v1/measures", json=_measure(ENTERPRISE_A, meter_ids=[meter])), 201
    )
    path = f"/v1/measures/{made['record_id']}"
    assert made["status"] == "proposed" and made["allowed_transitions"] == [
        "approved",
        "cancelled",
    ]
    early = await admin.post(
        path + "/verifications", json={"period_start": "2025-03-01", "period_end": "2025-03-02"}
    )
    assert early.status_code == 409, early.text
    for body in (
        {"to": "approved"},
        {"to": "in_progress"},
        {"to": "implemented", "implemented_on": "2025-02-15"},
    ):
        await _ok(await admin.post(path + "/transitions", json=body))
    refused = await admin.post(path + "/transitions", json={"to": "verified"})
    assert refused.status_code == 409 and refused.json()["allowed"] == ["verified"]
    before_live = await admin.post(
        path + "/verifications", json={"period_start": "2025-02-01", "period_end": "2025-03-01"}
    )
    assert before_live.status_code == 422, before_live.text

    v = await _ok(
        await admin.post(
            path + "/verifications",
            json={"period_start": "2025-03-01", "period_end": "2025-03-02"},
        ),
        201,
    )
    # One day of a 365 t/y baseline = 1 t; 0.6 t emitted: 0.4 t saved. Expected 73 t/y is
    # 0.2 t a day: twice what was expected.
    assert v["baseline_tco2e"] == pytest.approx(1.0)
    assert (v["actual_tco2e"], v["hour_windows"]) == (pytest.approx(0.6), 2)
    assert v["verified_savings_tco2e"] == pytest.approx(0.4)
    assert v["expected_savings_tco2e"] == pytest.approx(0.2)
    assert v["realisation"] == pytest.approx(2.0)
    [used] = v["baselines"]
    assert (used["subject_id"], used["value_tco2e"], used["period_kind"]) == (meter, 365.0, "year")
    assert used["prorated_tco2e"] == pytest.approx(1.0)

    done = await _ok(await admin.post(path + "/transitions", json={"to": "verified"}))
    assert done["status"] == "verified" and done["verified_at"] is not None
    assert [x["verification_id"] for x in await _ok(await admin.get(path + "/verifications"))] == [
        v["verification_id"]
    ]
    audit = await _ok(await admin.get("/v1/audit", params={"entity": "measure", "limit": 500}))
    mine = [e["action"] for e in audit["items"] if e["entity_id"] == str(made["record_id"])]
    assert sorted(mine) == sorted(["create", *["transition"] * 4, "verify"])


async def test_open_measures_rank_by_tco2e_per_10k_cny_and_uncosted_last(
    admin: httpx.AsyncClient, unique: str
) -> None:
    ent = f"rank-{unique}"
    await _ok(
        await admin.post(
            "/v1/enterprises", json={"enterprise_id": ent, "park_id": PARK, "name": ent}
        ),
        201,
    )
    specs = [  # (expected t/y, capex CNY): ratios 0.5, 1.5, 2.0, uncosted 80 t/y
        (50.0, 1_000_000.0),
        (30.0, 200_000.0),
        (10.0, 50_000.0),
        (80.0, None),
    ]
    ids = []
    for tonnes, capex in specs:
        body = _measure(ent, expected_tco2e_per_year=tonnes, capex_cny=capex)
        ids.append((await _ok(await admin.post("/v1/measures", json=body), 201))["record_id"])
    cancelled = await _ok(await admin.post("/v1/measures", json=_measure(ent, capex_cny=1.0)), 201)
    await _ok(
        await admin.post(
            f"/v1/measures/{cancelled['record_id']}/transitions",
            json={"to": "cancelled", "reason": "superseded"},
        )
    )
    ranked = (await _ok(await admin.get("/v1/measures/ranking", params={"enterprise_id": ent})))[
        "items"
    ]
    assert [(r["rank"], r["measure"]["record_id"]) for r in ranked] == [
        (1, ids[2]),
        (2, ids[1]),
        (3, ids[0]),
        (4, ids[3]),
    ]
    assert [r["tco2e_per_year_per_10k_cny"] for r in ranked] == [2.0, 1.5, 0.5, None]


async def test_a_passing_calibration_moves_calibration_due_and_the_overdue_flag_follows(
    admin: httpx.AsyncClient, api_server: ApiServer, unique: str
) -> None:
    meter = f"cal-{unique}"
    await _meter(admin, meter, ENTERPRISE_A, calibration_due="2026-01-01")
    june = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000)

    def overdue_flags() -> list[bool]:
        with psycopg.connect(api_server.database_url) as conn:
            found = get_meter(conn, meter)
        assert found is not None
        ts = np.array([june, june + 900_000], dtype=np.int64)
        result = validate(to_profile(found), MeterState(), ts, [1.0, 2.0], now_ms=june + 10**6)
        return [bool(r & Reason.CALIBRATION_OVERDUE) for r in result.reasons]

    assert overdue_flags() == [True, True]  # due on 1 January, read in June
    event = await _ok(
        await admin.post(
            f"/v1/meters/{meter}/calibrations",
            json={
                "kind": "verification",
                "performed_on": "2026-02-10",
                "result": "pass",
                "certificate_no": f"JD-{unique}",
                "laboratory": "Provincial Institute of Metrology",
                "next_due": "2027-02-10",
            },
        ),
        201,
    )
    assert (event["calibration_due_before"], event["calibration_due_after"]) == (
        "2026-01-01",
        "2027-02-10",
    )
    assert (await _ok(await admin.get(f"/v1/meters/{meter}")))["calibration_due"] == "2027-02-10"
    assert overdue_flags() == [False, False]
    # An older certificate entered late, and a failure, leave the due date where it is.
    older = {
        "kind": "calibration",
        "performed_on": "2025-12-01",
        "result": "adjusted",
        "certificate_no": "old",
        "laboratory": "lab",
        "next_due": "2026-12-01",
    }
    late = await _ok(await admin.post(f"/v1/meters/{meter}/calibrations", json=older), 201)
    assert late["calibration_due_after"] == "2027-02-10"
    failed = older | {"performed_on": "2026-03-01", "result": "fail", "next_due": None}
    await _ok(await admin.post(f"/v1/meters/{meter}/calibrations", json=failed), 201)
    assert (await _ok(await admin.get(f"/v1/meters/{meter}")))["calibration_due"] == "2027-02-10"
    log = await _ok(await admin.get(f"/v1/meters/{meter}/calibrations"))
    assert [e["result"] for e in log["items"]] == ["fail", "adjusted", "pass"]
    audit = await _ok(await admin.get("/v1/audit", params={"entity": "meter", "limit": 500}))
    moved = [e for e in audit["items"] if e["entity_id"] == meter and e["action"] == "update"]
    assert [e["after"]["calibration_due"] for e in moved] == ["2027-02-10"]


async def test_a_certificate_is_required_and_next_due_follows_the_event(
    admin: httpx.AsyncClient, unique: str
) -> None:
    meter = f"calx-{unique}"
    await _meter(admin, meter, ENTERPRISE_A)
    base = {"kind": "calibration", "performed_on": "2026-02-10", "result": "pass"}
    for body in (
        base | {"next_due": "2027-01-01"},  # no certificate
        base | {"certificate_no": "c", "laboratory": "l"},  # passing without next_due
        base | {"certificate_no": "c", "laboratory": "l", "next_due": "2026-02-10"},
        base | {"certificate_no": "c", "laboratory": "l", "next_due": "2027-01-01", "x": 1},
    ):
        r = await admin.post(f"/v1/meters/{meter}/calibrations", json=body)
        assert r.status_code == 422, r.text
    assert (await _ok(await admin.get(f"/v1/meters/{meter}/calibrations")))["items"] == []


async def test_an_objective_reads_its_targets_progress(
    admin: httpx.AsyncClient, tenant_b: httpx.AsyncClient, unique: str
) -> None:
    meter = f"obj-{unique}"
    await _meter(admin, meter, ENTERPRISE_A)
    year = date.today().year
    target = await _ok(
        await admin.post(
            "/v1/targets",
            json={
                "subject_kind": "meter",
                "subject_id": meter,
                "period_kind": "year",
                "period_start": f"{year}-01-01",
                "absolute_tco2e": 10.0,
            },
        ),
        201,
    )
    body = {
        "enterprise_id": ENTERPRISE_A,
        "title": "Cut compressed-air electricity",
        "indicator": "tCO2e per year of meter " + meter,
        "target_id": target["target_id"],
        "owner": "zhao.min",
        "resources": "CNY 200k, one energy engineer",
        "due_on": f"{year}-12-31",
        "evaluation_method": "monthly review of /v1/progress",
    }
    made = await _ok(await admin.post("/v1/objectives", json=body), 201)
    progress = await _ok(
        await admin.get("/v1/progress", params={"subject_kind": "meter", "subject_id": meter})
    )
    [expected] = progress["items"]
    got = made["progress"]
    assert got["target_id"] == target["target_id"]
    assert got["absolute"]["limit"] == expected["absolute"]["limit"]
    assert got["on_track"] == expected["on_track"]
    assert (await tenant_b.get(f"/v1/objectives/{made['record_id']}")).status_code == 404
    # B's key cannot link A's target to an objective of its own.
    theirs = await tenant_b.post("/v1/objectives", json=body | {"enterprise_id": None})
    assert theirs.status_code == 404, theirs.text
    changed = await _ok(
        await admin.patch(f"/v1/objectives/{made['record_id']}", json={"status": "achieved"})
    )
    assert changed["status"] == "achieved" and changed["overdue"] is False
