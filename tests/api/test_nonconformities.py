"""Nonconformities from any source (clauses 9.4, 10.1): ``POST /v1/tickets`` opens a ticket from
an internal audit, a compliance evaluation, a complaint, a management review or an observation,
linked to its source, corrective or preventive, and it moves through the same workflow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.tickets.enums import SourceKind
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK, ApiServer
from tests.api.test_tickets import webhook_events

pytestmark = pytest.mark.integration

CAUSE = {
    "cause_category": "data_missing",
    "root_cause": "the calibration certificate was never filed",
    "similar_nonconformities": "the other two gas meters checked: filed",
}


def finding(source: SourceKind, unique: str, **kw: Any) -> dict[str, Any]:
    return {
        "source_kind": source.value,
        "source_id": f"{source.value}-{unique}",
        "enterprise_id": ENTERPRISE_A,
        "title": f"{source.value} finding",
        "description": "calibration record of meter G-2 missing",
        **kw,
    }


@pytest.mark.parametrize("source", [s for s in SourceKind if s is not SourceKind.ALERT])
async def test_a_nonconformity_from_each_source_opens_a_linked_ticket(
    source: SourceKind, api_server: ApiServer, operator: httpx.AsyncClient, unique: str
) -> None:
    r = await operator.post("/v1/tickets", json=finding(source, unique))
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert (ticket["source_kind"], ticket["source_id"]) == (source.value, f"{source}-{unique}")
    assert (ticket["kind"], ticket["state"], ticket["rule"]) == ("corrective", "open", None)
    assert (ticket["subject_kind"], ticket["subject_id"]) == ("enterprise", ENTERPRISE_A)
    assert ticket["allowed_transitions"] == ["contained", "dismissed"]
    listed = await operator.get(
        "/v1/tickets", params={"source_kind": source.value, "source_id": f"{source}-{unique}"}
    )
    assert [t["ticket_id"] for t in listed.json()["items"]] == [ticket["ticket_id"]]
    history = (await operator.get(f"/v1/tickets/{ticket['ticket_id']}/history")).json()
    assert [(h["event"], h["detail"]["source_kind"]) for h in history] == [("opened", source.value)]
    events = await webhook_events(api_server, ticket["ticket_id"])
    assert [(k, d["source_id"]) for k, d in events] == [("ticket.opened", f"{source}-{unique}")]
    # The same workflow as an alert's ticket.
    r = await operator.post(
        f"/v1/tickets/{ticket['ticket_id']}/transitions",
        json={"to": "contained", "containment": "readings of G-2 flagged"},
    )
    assert r.status_code == 200 and r.json()["state"] == "contained", r.text


async def test_a_preventive_ticket_skips_containment_and_goes_to_its_cause(
    operator: httpx.AsyncClient, unique: str
) -> None:
    body = finding(SourceKind.MANAGEMENT_REVIEW, unique, kind="preventive")
    ticket = (await operator.post("/v1/tickets", json=body)).json()
    assert ticket["kind"] == "preventive"
    assert ticket["allowed_transitions"] == ["cause_identified", "dismissed"]
    tid = ticket["ticket_id"]
    r = await operator.post(
        f"/v1/tickets/{tid}/transitions", json={"to": "contained", "containment": "x"}
    )
    assert r.status_code == 409 and r.json()["allowed"] == ["cause_identified", "dismissed"]
    r = await operator.post(
        f"/v1/tickets/{tid}/transitions", json={"to": "cause_identified", **CAUSE}
    )
    assert r.status_code == 200 and r.json()["state"] == "cause_identified", r.text
    listed = await operator.get("/v1/tickets", params={"kind": "preventive", "limit": 500})
    assert tid in [t["ticket_id"] for t in listed.json()["items"]]


async def test_a_park_level_observation_needs_no_source_id_and_other_sources_do(
    operator: httpx.AsyncClient, unique: str
) -> None:
    body = finding(SourceKind.OBSERVATION, unique, enterprise_id=None, park_id=PARK)
    del body["source_id"]
    r = await operator.post("/v1/tickets", json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["subject_kind"], r.json()["subject_id"], r.json()["enterprise_id"]) == (
        "park",
        PARK,
        None,
    )
    body = finding(SourceKind.INTERNAL_AUDIT, unique)
    del body["source_id"]
    assert (await operator.post("/v1/tickets", json=body)).status_code == 422
    alert = finding(SourceKind.INTERNAL_AUDIT, unique, source_kind="alert")
    assert (await operator.post("/v1/tickets", json=alert)).status_code == 422


async def test_an_enterprise_key_opens_its_own_only(
    tenant_a: httpx.AsyncClient, operator: httpx.AsyncClient, unique: str
) -> None:
    body = finding(SourceKind.COMPLAINT, unique, enterprise_id=None)
    r = await tenant_a.post("/v1/tickets", json=body)
    assert r.status_code == 201 and r.json()["enterprise_id"] == ENTERPRISE_A, r.text
    other = finding(SourceKind.COMPLAINT, unique + "b", enterprise_id=ENTERPRISE_B)
    r = await tenant_a.post("/v1/tickets", json=other)
    assert r.status_code == 404 and r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    park_level = finding(SourceKind.COMPLAINT, unique + "p", enterprise_id=None, park_id=PARK)
    assert (await tenant_a.post("/v1/tickets", json=park_level)).status_code == 403
    listed = await operator.get("/v1/tickets", params={"source_id": f"complaint-{unique}b"})
    assert listed.json()["items"] == []
