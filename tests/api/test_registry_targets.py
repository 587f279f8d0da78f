"""Targets (clause 6.2) and baselines restated as a chain, never in place (clause 6.5)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK

pytestmark = pytest.mark.integration


def _target(subject_id: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_kind": "enterprise",
        "subject_id": subject_id,
        "period_kind": "year",
        "period_start": "2026-01-01",
        "absolute_tco2e": 12500.0,
    }
    return body | over


async def _meter_of(admin: httpx.AsyncClient, enterprise_id: str, meter_id: str) -> None:
    body = {
        "meter_id": meter_id,
        "enterprise_id": enterprise_id,
        "carrier": "electricity",
        "unit": "kWh",
        "register_kind": "cumulative",
        "source_category": "purchased_electricity",
    }
    assert (await admin.post("/v1/meters", json=body)).status_code == 201


async def test_a_target_is_stored_with_its_period_and_a_duplicate_is_409(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    meter = f"tm-{unique}"
    await _meter_of(admin, ENTERPRISE_A, meter)
    body = _target(meter, subject_kind="meter", period_kind="month", period_start="2026-02-01")
    body |= {"intensity": 0.8, "intensity_unit": "t product"}
    r = await admin.post("/v1/targets", json=body)
    assert r.status_code == 201, r.text
    target = r.json()
    assert (target["period_start"], target["period_end"]) == ("2026-02-01", "2026-03-01")
    assert target["method"] == "location_based" and target["intensity"] == 0.8
    assert (await admin.post("/v1/targets", json=body)).status_code == 409
    market = await admin.post("/v1/targets", json=body | {"method": "market_based"})
    assert market.status_code == 201
    assert (await admin.get(f"/v1/targets/{target['target_id']}")).json() == target
    params = {"entity": "target", "entity_id": str(target["target_id"])}
    entry = (await auditor.get("/v1/audit", params=params)).json()["items"][0]
    assert entry["action"] == "create" and entry["after"]["absolute_tco2e"] == 12500.0


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"period_start": "2026-03-01"}, "cannot start on 2026-03-01"),
        ({"absolute_tco2e": None}, "needs absolute_tco2e, intensity or both"),
        ({"intensity": 0.5}, "go together"),
        ({"absolute_tco2e": "100"}, "absolute_tco2e"),
        ({"absolute_tco2e": -1.0}, "absolute_tco2e"),
        ({"period_kind": "week"}, "period_kind"),
        ({"subject_id": "nobody-here"}, "unknown enterprise 'nobody-here'"),
        ({"owner": "me"}, "owner"),
    ],
)
async def test_a_bad_target_is_422(
    admin: httpx.AsyncClient, change: dict[str, Any], says: str
) -> None:
    r = await admin.post("/v1/targets", json=_target(ENTERPRISE_A) | change)
    assert r.status_code == 422, r.text
    assert says in r.text


async def test_an_enterprise_key_reads_only_its_own_targets(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    await _meter_of(admin, ENTERPRISE_A, f"mine-{unique}")
    await _meter_of(admin, ENTERPRISE_B, f"theirs-{unique}")
    # A park target of a day of its own, so the run's other park targets never collide.
    day = date(2000, 1, 1) + timedelta(days=int(unique, 16) % 30_000)
    made = {}
    for name, body in {
        "mine": _target(f"mine-{unique}", subject_kind="meter"),
        "theirs": _target(f"theirs-{unique}", subject_kind="meter"),
        "park": _target(PARK, subject_kind="park", period_kind="day", period_start=day.isoformat()),
    }.items():
        r = await admin.post("/v1/targets", json=body)
        assert r.status_code == 201, r.text
        made[name] = r.json()["target_id"]
    assert (await tenant_a.get(f"/v1/targets/{made['mine']}")).status_code == 200
    assert (await tenant_a.get(f"/v1/targets/{made['theirs']}")).status_code == 404
    assert (await tenant_a.get(f"/v1/targets/{made['park']}")).status_code == 404
    listed = (await tenant_a.get("/v1/targets", params={"limit": 500})).json()["items"]
    subjects = {(t["subject_kind"], t["subject_id"]) for t in listed}
    assert ("meter", f"mine-{unique}") in subjects
    assert all(k in ("enterprise", "meter") for k, _ in subjects)
    assert ("meter", f"theirs-{unique}") not in subjects
    assert ("enterprise", ENTERPRISE_B) not in subjects
    assert (await tenant_a.post("/v1/targets", json=_target(ENTERPRISE_A))).status_code == 403


async def test_a_baseline_is_restated_as_a_chain_whose_head_is_current(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    meter = f"bm-{unique}"
    await _meter_of(admin, ENTERPRISE_A, meter)
    original = {
        "subject_kind": "meter",
        "subject_id": meter,
        "method": "base_year",
        "base_year": 2020,
        "value_tco2e": 1000.0,
        "factor_versions": ["grid_avg.CN@2021-01-01"],
        "effective": "2021-01-01",
    }
    r = await admin.post("/v1/baselines", json=original)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["reason"] is None and first["restated_by"] is None
    again = await admin.post("/v1/baselines", json=original)
    assert again.status_code == 409 and again.json()["baseline_id"] == first["baseline_id"]

    restate = {
        "method": "base_year",
        "base_year": 2020,
        "value_tco2e": 950.0,
        "factor_versions": ["grid_avg.CN@2023-01-01"],
        "effective": "2024-01-01",
        "reason": "factors_or_method",
        "note": "grid factor 2023 published",
    }
    r = await admin.post(f"/v1/baselines/{first['baseline_id']}/restatements", json=restate)
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["recalculated_from"] == first["baseline_id"]
    assert second["subject_id"] == meter and second["value_tco2e"] == 950.0
    assert second["reason_text"].startswith("6.5 c)")

    stale = await admin.post(f"/v1/baselines/{first['baseline_id']}/restatements", json=restate)
    assert stale.status_code == 409 and stale.json()["restated_by"] == second["baseline_id"]
    regression = restate | {
        "method": "regression",
        "regression": {"intercept": 100.0, "slopes": {"output_t": 0.42}, "r_squared": 0.91},
        "reason": "performance_parameters",
        "note": "production mix changed",
    }
    r = await admin.post(f"/v1/baselines/{second['baseline_id']}/restatements", json=regression)
    assert r.status_code == 201, r.text
    third = r.json()

    chain = (await admin.get("/v1/baselines", params={"subject_id": meter})).json()["items"]
    assert [(b["baseline_id"], b["restated_by"]) for b in chain] == [
        (first["baseline_id"], second["baseline_id"]),
        (second["baseline_id"], third["baseline_id"]),
        (third["baseline_id"], None),
    ]
    assert chain[2]["regression"]["slopes"] == {"output_t": 0.42}
    params = {"entity": "baseline", "entity_id": str(third["baseline_id"])}
    entry = (await auditor.get("/v1/audit", params=params)).json()["items"][0]
    assert entry["reason"].startswith("6.5 a)")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"reason": "felt like it"}, "reason"),
        ({"note": ""}, "note"),
        ({"method": "regression"}, "needs regression"),
        ({"value_tco2e": "950"}, "value_tco2e"),
    ],
)
async def test_a_bad_restatement_is_422_and_an_unknown_baseline_404(
    admin: httpx.AsyncClient, change: dict[str, Any], says: str
) -> None:
    body = {
        "method": "base_year",
        "base_year": 2020,
        "value_tco2e": 950.0,
        "effective": "2024-01-01",
        "reason": "static_factors",
        "note": "n",
    }
    r = await admin.post("/v1/baselines/1/restatements", json=body | change)
    assert r.status_code == 422 and says in r.text
    assert (await admin.post("/v1/baselines/999999999/restatements", json=body)).status_code == 404


async def test_an_enterprise_key_reads_only_its_own_baselines(
    admin: httpx.AsyncClient, tenant_b: httpx.AsyncClient, unique: str
) -> None:
    meter = f"ba-{unique}"
    await _meter_of(admin, ENTERPRISE_A, meter)
    body = {
        "subject_kind": "meter",
        "subject_id": meter,
        "method": "base_year",
        "base_year": 2021,
        "value_tco2e": 10.0,
        "effective": "2022-01-01",
    }
    created = (await admin.post("/v1/baselines", json=body)).json()
    assert (await tenant_b.get(f"/v1/baselines/{created['baseline_id']}")).status_code == 404
    listed = await tenant_b.get("/v1/baselines", params={"subject_id": meter})
    assert listed.json()["total"] == 0


async def test_a_regression_with_huge_coefficients_is_stored_and_audited(
    admin: httpx.AsyncClient, auditor: httpx.AsyncClient, unique: str
) -> None:
    # PostgreSQL's jsonb writes 1e74 back as a 75-digit integer; the audit entry must still be
    # written (found by schemathesis as a 500).
    meter = f"bh-{unique}"
    await _meter_of(admin, ENTERPRISE_A, meter)
    r = await admin.post(
        "/v1/baselines",
        json={
            "subject_kind": "meter",
            "subject_id": meter,
            "method": "regression",
            "regression": {"intercept": -3.08e74, "slopes": {"output_t": 5.7e16}},
            "value_tco2e": 1.0,
            "effective": "2021-01-01",
        },
    )
    assert r.status_code == 201, r.text
    params = {"entity": "baseline", "entity_id": str(r.json()["baseline_id"])}
    [entry] = (await auditor.get("/v1/audit", params=params)).json()["items"]
    assert entry["after"]["regression"]["intercept"] == pytest.approx(-3.08e74)
