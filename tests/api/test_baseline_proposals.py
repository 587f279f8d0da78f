"""Baseline restatement proposals over HTTP (clause 6.5 c) and targets judged on both limits
(clause 6.2), against the run's database and API.

Each test has a park of its own in Sichuan (region ``CN-SC``, so its electricity factor is the
southwest grid's) and stores a base year of hour windows as the worker writes them: 1000 kWh
on 2023-03-15 and on 2023-09-10, each 1000 x 0.2472 kgCO2/kWh = 0.2472 t with the packaged
2023 version. Park factor versions are park-wide in the database: only the first test adds
one, for the southwest grid key no other test uses.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

pytestmark = pytest.mark.integration

KEY = "grid_avg.CN-GRID-SOUTHWEST"
PACKAGED = f"{KEY}@2023-01-01"
PARK_VERSION = f"{KEY}@2023-07-01"
HOURS = ("2023-03-15T02:00:00Z", "2023-09-10T02:00:00Z")


async def _park(database_url: str, unique: str) -> tuple[str, str]:
    park, ent = f"bp-{unique}", f"bp-ent-{unique}"
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO park (park_id, name, timezone, region)"
            " VALUES (%s, 'Proposal park', 'Asia/Shanghai', 'CN-SC')",
            (park,),
        )
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'Plant')",
            (ent, park),
        )
    return park, ent


async def _meter(admin: httpx.AsyncClient, ent: str, meter_id: str, **over: Any) -> None:
    body = {
        "meter_id": meter_id,
        "enterprise_id": ent,
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
    } | over
    r = await admin.post("/v1/meters", json=body)
    assert r.status_code == 201, r.text


async def _window(
    database_url: str,
    meter: str,
    ent: str,
    start: str,
    activity: float,
    *,
    unit: str = "kWh",
    category: str = "purchased_electricity",
    tco2e: float = 0.0,
    versions: tuple[str, ...] = (),
) -> None:
    """One stored hour window, as the worker's upsert writes it."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, iso_category, activity, activity_unit, gases,"
            " tco2e, gwp_set, factor_versions, readings_present, readings_expected,"
            " completeness) VALUES (%s, 3600, %s::timestamptz, %s::timestamptz + interval"
            " '1 hour', %s, %s, NULL, %s, %s, %s, %s, %s, %s, 4, 4, 1)",
            (
                meter,
                start,
                start,
                ent,
                category,
                activity,
                unit,
                Jsonb({"CO2": tco2e} if tco2e else {}),
                tco2e,
                "AR5" if versions else None,
                list(versions),
            ),
        )


async def _base_year(database_url: str, meter: str, ent: str) -> None:
    for hour in HOURS:
        await _window(database_url, meter, ent, hour, 1000.0, tco2e=0.2472, versions=(PACKAGED,))


def _baseline(kind: str, subject: str, **over: Any) -> dict[str, Any]:
    return {
        "subject_kind": kind,
        "subject_id": subject,
        "method": "base_year",
        "base_year": 2023,
        "value_tco2e": 0.4944,
        "factor_versions": [PACKAGED],
        "effective": "2024-01-01",
    } | over


async def test_a_factor_version_proposes_the_restated_base_year_and_accepting_records_it(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    _, ent = await _park(database_url, unique)
    meter = f"bp-m-{unique}"
    await _meter(admin, ent, meter)
    await _base_year(database_url, meter, ent)
    r = await admin.post("/v1/baselines", json=_baseline("enterprise", ent))
    assert r.status_code == 201, r.text
    baseline_id = r.json()["baseline_id"]
    proposals = f"/v1/baselines/{baseline_id}/proposals"

    unchanged = await admin.post(proposals, json={})
    assert unchanged.status_code == 409, unchanged.text
    assert "nothing changed" in unchanged.json()["detail"]

    # The park's own version for the second half of 2023: 0.3000 kgCO2/kWh.
    version = {
        "factor_key": KEY,
        "value": 0.3,
        "unit": "kgCO2/kWh",
        "valid_from": "2023-07-01",
        "source": "Sichuan provincial grid factor notice",
        "source_table": "table 1",
        "edition": "2024",
        "evidence": "single_source",
    }
    added = await admin.post("/v1/factor-overrides", json=version)
    assert added.status_code == 201, added.text

    listed = (await auditor.get(proposals)).json()
    assert len(listed) == 1
    proposal = listed[0]
    assert (proposal["trigger"], proposal["trigger_ref"]) == ("factor_version", PARK_VERSION)
    assert proposal["status"] == "proposed" and proposal["reason"] == "factors_or_method"
    assert (proposal["period_start"], proposal["period_end"]) == ("2023-01-01", "2024-01-01")
    assert proposal["hour_windows"] == 2 and proposal["gwp_set"] == "AR5"
    # By hand: March 1000 kWh x 0.2472 kg + September 1000 kWh x 0.3000 kg = 0.5472 t.
    assert proposal["stored_tco2e"] == pytest.approx(0.4944, rel=1e-12)
    assert proposal["restated_tco2e"] == pytest.approx(0.5472, rel=1e-12)
    assert proposal["previous_value_tco2e"] == 0.4944
    assert proposal["proposed_value_tco2e"] == pytest.approx(0.5472, rel=1e-12)
    assert proposal["factor_versions_before"] == [PACKAGED]
    assert proposal["factor_versions_after"] == [PACKAGED, PARK_VERSION]
    assert proposal["versions_added"] == [PARK_VERSION] and proposal["versions_removed"] == []
    assert proposal["lacking_factor"] == []

    pid = proposal["proposal_id"]
    accepted = await admin.post(f"{proposals}/{pid}/accept", json={"effective": "2024-06-01"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    restatement_id = accepted.json()["restatement_id"]
    restated = (await auditor.get(f"/v1/baselines/{restatement_id}")).json()
    assert restated["recalculated_from"] == baseline_id
    assert restated["reason"] == "factors_or_method"
    assert restated["reason_text"].startswith("6.5 c)")
    assert restated["value_tco2e"] == pytest.approx(0.5472, rel=1e-12)
    assert restated["factor_versions"] == [PACKAGED, PARK_VERSION]
    assert restated["effective"] == "2024-06-01" and f"proposal {pid}" in restated["note"]
    assert (await auditor.get(f"/v1/baselines/{baseline_id}")).json()["restated_by"] == (
        restatement_id
    )

    audit = (
        await auditor.get(
            "/v1/audit", params={"entity": "baseline", "entity_id": str(restatement_id)}
        )
    ).json()["items"]
    assert [(e["action"], e["reason"][:6]) for e in audit] == [("create", "6.5 c)")]
    decided = (
        await auditor.get(
            "/v1/audit", params={"entity": "baseline_proposal", "entity_id": str(pid)}
        )
    ).json()["items"]
    assert {e["action"] for e in decided} == {"propose", "accept"}

    again = await admin.post(f"{proposals}/{pid}/accept", json={})
    assert again.status_code == 409, again.text
    stale = await admin.post(proposals, json={})
    assert stale.status_code == 409 and stale.json()["restated_by"] == restatement_id


async def test_a_gwp_change_is_proposed_on_demand_and_can_be_rejected(
    admin: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    database_url: str,
    unique: str,
) -> None:
    _, ent = await _park(database_url, unique)
    meter = f"bg-m-{unique}"
    await _meter(admin, ent, meter)
    # March only: no park version ever covers it.
    await _window(database_url, meter, ent, HOURS[0], 1000.0, tco2e=0.2472, versions=(PACKAGED,))
    body = _baseline("meter", meter, value_tco2e=0.2472)
    baseline_id = (await admin.post("/v1/baselines", json=body)).json()["baseline_id"]
    proposals = f"/v1/baselines/{baseline_id}/proposals"

    made = await admin.post(proposals, json={"gwp_set": "AR6", "note": "inventory moves to AR6"})
    assert made.status_code == 201, made.text
    proposal = made.json()
    assert proposal["trigger"] == "on_demand" and proposal["gwp_set"] == "AR6"
    # CO2 has a GWP of 1 in every set: the figure stays, the method changes.
    assert proposal["restated_tco2e"] == pytest.approx(0.2472, rel=1e-12)
    assert "inventory moves to AR6" in proposal["note"]

    assert (await tenant_a.get(proposals)).status_code == 404  # another tenant's baseline
    assert (await tenant_a.post(proposals, json={})).status_code == 403
    newer = (await admin.post(proposals, json={"gwp_set": "AR4"})).json()
    listed = (await auditor.get(proposals)).json()
    assert [p["status"] for p in listed] == ["superseded", "proposed"]

    pid = newer["proposal_id"]
    assert (await admin.post(f"{proposals}/{pid}/reject", json={})).status_code == 422
    rejected = await admin.post(f"{proposals}/{pid}/reject", json={"note": "stay on AR5"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "stay on AR5"
    assert (await admin.post(f"{proposals}/{pid}/accept", json={})).status_code == 409
    assert (await auditor.get(f"/v1/baselines/{baseline_id}")).json()["restated_by"] is None
    assert (await admin.post(proposals, json={"extra": 1})).status_code == 422


async def test_a_baseline_that_cannot_be_recomputed_is_422(
    admin: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    _, ent = await _park(database_url, unique)
    regression = _baseline(
        "enterprise",
        ent,
        method="regression",
        base_year=None,
        regression={"intercept": 1.0, "slopes": {"t product": 0.1}},
    )
    made = await admin.post("/v1/baselines", json=regression)
    assert made.status_code == 201, made.text
    r = await admin.post(f"/v1/baselines/{made.json()['baseline_id']}/proposals", json={})
    assert r.status_code == 422 and "regression" in r.json()["detail"]
    meter = f"bn-m-{unique}"
    await _meter(admin, ent, meter)
    empty = (await admin.post("/v1/baselines", json=_baseline("meter", meter))).json()
    r = await admin.post(f"/v1/baselines/{empty['baseline_id']}/proposals", json={})
    assert r.status_code == 422 and "no hour window of 2023" in r.json()["detail"]
    assert (await admin.post("/v1/baselines/999999999/proposals", json={})).status_code == 404


async def test_a_target_with_both_limits_is_met_only_when_both_are(
    admin: httpx.AsyncClient, database_url: str, unique: str
) -> None:
    _, ent = await _park(database_url, unique)
    meter, output = f"bt-m-{unique}", f"bt-o-{unique}"
    await _meter(admin, ent, meter)
    await _meter(
        admin,
        ent,
        output,
        carrier="production_output",
        unit="t",
        source_category="activity_only",
    )
    await _base_year(database_url, meter, ent)
    await _window(database_url, output, ent, HOURS[0], 100.0, unit="t", category="activity_only")
    target = {
        "subject_kind": "enterprise",
        "subject_id": ent,
        "period_kind": "year",
        "period_start": "2023-01-01",
        "absolute_tco2e": 10.0,
        "intensity": 0.001,
        "intensity_unit": "t product",
    }
    assert (await admin.post("/v1/targets", json=target)).status_code == 201
    params = {"as_of": "2023-12-31T00:00:00+08:00", "subject_id": ent}
    item = (await admin.get("/v1/progress", params=params)).json()["items"][0]
    # 0.4944 t projected over 365/364 of the year is far below 10 t: the absolute limit holds.
    assert item["absolute"]["on_track"] is True
    # 0.4944 t / 100 t product = 0.004944 tCO2e/t, above 0.001: the intensity limit is missed.
    assert item["intensity"]["actual"]["value"] == "0.004944"
    assert item["intensity"]["on_track"] is False
    assert item["on_track"] is False and item["limits_off_track"] == ["intensity"]
