"""The risk register over HTTP against the real database (clauses 6.1, 6.3.5): scores,
re-assessment, actions with effectiveness reviews, and the two-high project screening decided
once, with the audit log and tenancy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ENTERPRISE_A
from tests.api.tenancy_cases import issue_body

pytestmark = pytest.mark.integration

PATH = "/v1/risks"


def risk(**given: Any) -> dict[str, Any]:
    return {
        "kind": "risk",
        "category": "operational",
        "title": "Meter data of the coking plant incomplete",
        "description": "Gateway outages leave gaps in the monthly inventory",
        "likelihood": 4,
        "consequence": 3,
        "owner": "carbon office",
        "review_on": "2026-09-01",
        "enterprise_id": ENTERPRISE_A,
    } | given


def screening(tag: str, *met: bool) -> dict[str, Any]:
    names = ["sector energy-efficiency benchmark", "park emission budget"]
    return {
        "park_id": "apitest",
        "project": f"Coal-to-olefins phase II {tag}",
        "applicant": "Xinhua Chemical Co.",
        "industry": "modern coal chemical",
        "annual_energy_tce": 850000.0,
        "annual_emissions_tco2e": 2.1e6,
        "criteria": [
            {"criterion": n, "requirement": "meets the benchmark level", "met": m}
            for n, m in zip(names, met, strict=True)
        ],
    }


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(PATH + path, json=body)


async def test_a_risk_is_scored_reassessed_acted_on_and_its_action_reviewed(
    admin: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    tenant_b: httpx.AsyncClient,
    auditor: httpx.AsyncClient,
) -> None:
    issue = await tenant_a.post("/v1/context-issues", json=issue_body(ENTERPRISE_A))
    assert issue.status_code == 201, issue.text
    source = issue.json()["record_id"]  # 6.1.1 a: identified from a context issue
    r = await post(tenant_a, "", risk(enterprise_id=None, context_issue_id=source))
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["score"], made["enterprise_id"], made["context_issue_id"]) == (
        12,
        ENTERPRISE_A,
        source,
    )
    rid = made["risk_id"]
    r = await post(tenant_a, "", risk(kind="opportunity"))
    assert r.status_code == 422, r.text  # an opportunity is category opportunity (6.1.2 e)
    r = await post(tenant_a, "", risk(likelihood=6))
    assert r.status_code == 422, r.text

    r = await tenant_a.patch(f"{PATH}/{rid}", json={"likelihood": 2})
    assert r.status_code == 200 and (r.json()["score"], r.json()["consequence"]) == (6, 3), r.text
    action = await post(
        tenant_a,
        f"/{rid}/actions",
        {
            "description": "Second uplink for the gateway",
            "owner": "IT",
            "due_on": "2026-05-01",
            "review_on": "2026-08-01",
        },
    )
    assert action.status_code == 201, action.text
    aid = action.json()["action_id"]
    review = {"reviewed_on": "2026-08-02", "effective": False, "note": "gaps persist at night"}
    r = await post(tenant_a, f"/{rid}/actions/{aid}/reviews", review)
    assert r.status_code == 201 and r.json()["effective"] is False, r.text
    r = await post(tenant_a, f"/{rid}/actions/{aid}/reviews", review | {"effective": "no"})
    assert r.status_code == 422, r.text  # strict: a boolean, not a word

    detail = (await tenant_a.get(f"{PATH}/{rid}")).json()
    assert [(a["action_id"], [v["note"] for v in a["reviews"]]) for a in detail["actions"]] == [
        (aid, ["gaps persist at night"])
    ]
    # Another enterprise neither sees nor changes it.
    assert (await tenant_b.get(f"{PATH}/{rid}")).status_code == 404
    assert (await tenant_b.patch(f"{PATH}/{rid}", json={"likelihood": 5})).status_code == 404
    assert (await admin.get(f"{PATH}/{rid}")).json()["score"] == 6
    log = await auditor.get("/v1/audit", params={"entity": "risk", "entity_id": str(rid)})
    assert sorted(e["action"] for e in log.json()["items"]) == [
        "add_action",
        "create",
        "review_action",
        "update",
    ]


async def test_a_two_high_project_is_admitted_only_when_it_meets_every_criterion_and_once(
    admin: httpx.AsyncClient, tenant_a: httpx.AsyncClient, unique: str
) -> None:
    r = await post(admin, "/screenings", screening(unique, True, False))
    assert r.status_code == 201, r.text
    sid = r.json()["screening_id"]
    assert r.json()["decision"] is None
    decision = {
        "decision": "admit",
        "reason": "strategic project of the province",
        "decided_by": "park admission committee",
        "decided_at": "2026-04-01T10:00:00+08:00",
    }
    r = await post(admin, f"/screenings/{sid}/decision", decision)
    assert r.status_code == 409 and r.json()["unmet"] == ["park emission budget"], r.text
    r = await post(
        admin, f"/screenings/{sid}/decision", decision | {"decision": "admit_with_conditions"}
    )
    assert r.status_code == 422, r.text  # conditions are required
    conditioned = decision | {
        "decision": "admit_with_conditions",
        "conditions": "30 % green electricity from start-up; CCUS feasibility study by 2027",
    }
    r = await post(admin, f"/screenings/{sid}/decision", conditioned)
    assert r.status_code == 200, r.text
    decided = r.json()
    assert (decided["decision"], decided["decided_by"]) == (
        "admit_with_conditions",
        "park admission committee",
    )
    assert decided["decided_at"] == "2026-04-01T02:00:00Z"
    r = await post(admin, f"/screenings/{sid}/decision", decision | {"decision": "refuse"})
    assert r.status_code == 409 and r.json()["decision"] == "admit_with_conditions", r.text
    assert (await admin.get(f"{PATH}/screenings/{sid}")).json() == decided
    # A park-level screening is not an enterprise key's.
    assert (await tenant_a.get(f"{PATH}/screenings/{sid}")).status_code == 404
