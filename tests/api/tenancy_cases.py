"""The objects of the tenancy suite and the checks its route table is made of.

``build_world`` creates, over HTTP as an admin (and through the alerts topic, as the worker
would), one object of every kind for enterprise A and for enterprise B. The checks say how an
enterprise key of A must be treated for B's objects (issue 6, tenancy: another tenant's object is
404, lists are filtered, a missing scope is 403).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from psycopg import AsyncConnection

from api.keys import Role, Scope
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, ApiServer, MakeKey
from tests.api.test_tickets import make_alert, produce, wait_ticket

A, B = ENTERPRISE_A, ENTERPRISE_B
# B's windows are stored on a day no other test uses, so sums over it are B's alone.
B_DAY_START = "2025-03-10T00:00:00Z"
B_DAY_END = "2025-03-11T00:00:00Z"
B_WINDOW_TCO2E = 0.25  # one stored hour window of B's meter on that day
EVIDENCE_PDF = b"%PDF-1.4\n% refill note\n"


def issue_body(enterprise: str) -> dict[str, Any]:
    """A context issue (4.1) of ``enterprise``."""
    return {
        "enterprise_id": enterprise,
        "title": "grid tariff reform",
        "origin": "external",
        "category": "economic",
        "description": "time-of-use tariffs change",
        "effect": "mixed",
        "effect_description": "load shifting pays",
        "owner": "wang.fang",
        "review_on": "2031-01-31",
    }


def party_body(enterprise: str) -> dict[str, Any]:
    """An interested party's need (4.2) of ``enterprise``."""
    return {
        "enterprise_id": enterprise,
        "party": "community committee",
        "party_type": "community",
        "need": "no odour from the boiler house",
        "influence": 2,
        "interest": 5,
        "becomes_obligation": False,
        "owner": "li.na",
        "review_on": "2031-01-31",
    }


def review_body(enterprise: str) -> dict[str, Any]:
    """A draft management review (9.5) of ``enterprise``."""
    return {
        "enterprise_id": enterprise,
        "held_on": "2026-01-15",
        "chair": "zhang.wei",
        "attendees": ["zhang.wei"],
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "outputs": [{"kind": "decision", "title": "x", "owner": "li.na", "due_on": "2031-01-31"}],
    }


def obligation_body(enterprise: str) -> dict[str, Any]:
    """A compliance obligation (6.6) of ``enterprise``."""
    return {
        "enterprise_id": enterprise,
        "title": "energy audit every five years",
        "kind": "regulation",
        "source_document": "key energy-using unit measures",
        "clause": "art. 11",
        "summary": "an energy audit report filed with the authority",
        "applicability": "all",
        "owner": "zhao.lei",
        "evaluation_frequency_months": 12,
        "next_evaluation_due": "2031-01-31",
        "obligation_status": "in_force",
    }


def evaluation_body(enterprise: str, obligation_id: int = 1) -> dict[str, Any]:
    """A compliant evaluation (9.2) of ``enterprise``'s obligation, with an evidence file."""
    return {
        "enterprise_id": enterprise,
        "obligation_id": obligation_id,
        "period_start": "2030-01-01",
        "period_end": "2030-12-31",
        "result": "compliant",
        "finding": "report filed on time",
        "evidence_ref": "filing receipt 2030-17",
        "evidence_file_name": "receipt.pdf",
        "evidence_sha256": hashlib.sha256(EVIDENCE_PDF).hexdigest(),
        "evaluator": "zhao.lei",
        "evaluated_on": "2031-01-10",
    }


def audit_body(enterprise: str) -> dict[str, Any]:
    """An internal audit (9.3) of ``enterprise``, its report declared."""
    return {
        "enterprise_id": enterprise,
        "programme_year": 2031,
        "title": "metering and data audit",
        "scope": "metering of the boiler house",
        "criteria": "clause 9.1 and the metering plan",
        "audited_area": "utilities",
        "auditors": ["qian.yu", "sun.li"],
        "auditors_independent": True,
        "planned_start": "2031-03-01",
        "planned_end": "2031-03-05",
        "audit_status": "planned",
        "report_file_name": "audit-report.pdf",
        "report_sha256": hashlib.sha256(EVIDENCE_PDF).hexdigest(),
    }


def finding_body(enterprise: str, audit_id: int = 1) -> dict[str, Any]:
    """An observation of ``enterprise``'s audit."""
    return {
        "enterprise_id": enterprise,
        "audit_id": audit_id,
        "finding_type": "observation",
        "clause": "9.1.2",
        "title": "calibration labels faded",
        "description": "labels on two meters unreadable",
        "evidence": "site walk, meters M-3 and M-4",
    }


def activity_body(enterprise: str) -> dict[str, Any]:
    """A draft activity record of ``enterprise``: an SF6 refill with a declared evidence file."""
    return {
        "enterprise_id": enterprise,
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "source_category": "fugitive",
        "carrier": "fugitive_gas",
        "material": "SF6",
        "quantity": 1.0,
        "unit": "kg",
        "document_ref": "tenancy refill",
        "evidence_file_name": "refill.pdf",
        "evidence_sha256": hashlib.sha256(EVIDENCE_PDF).hexdigest(),
    }


@dataclass(frozen=True)
class World:
    """One object of every kind per tenant (``_a``: enterprise A's, ``_b``: enterprise B's)."""

    tag: str
    site_a: str
    site_b: str
    meter_a: str
    meter_b: str
    target_a: int
    target_b: int
    baseline_a: int
    baseline_b: int
    alert_a: str
    alert_b: str
    ticket_a: int
    ticket_b: int
    action_b: int
    webhook_b: str
    key_b: str  # the key id of an enterprise key of B
    activity_a: int
    activity_b: int
    measure_a: int
    measure_b: int
    objective_a: int
    objective_b: int
    calibration_a: int
    calibration_b: int
    document_a: int
    document_b: int
    requirement_a: int
    requirement_b: int
    holder_a: int
    holder_b: int
    event_a: int
    event_b: int
    risk_a: int
    risk_b: int
    risk_action_b: int
    attendance_a: int
    attendance_b: int
    screening_a: int
    screening_b: int
    issue_a: int
    issue_b: int
    party_a: int
    party_b: int
    review_a: int
    review_b: int
    obligation_a: int
    obligation_b: int
    evaluation_a: int
    evaluation_b: int
    audit_a: int
    audit_b: int
    finding_a: int
    finding_b: int

    def fill(self, template: str) -> str:
        """A path or a value with ``{meter_b}`` etc. replaced by this world's ids."""
        return template.format(**{k: getattr(self, k) for k in self.__dataclass_fields__})


async def _created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code in (200, 201, 202), f"{path}: {r.status_code} {r.text}"
    out: dict[str, Any] = r.json()
    return out


async def _registry(admin: httpx.AsyncClient, tag: str, ent: str, side: str) -> dict[str, Any]:
    site = (
        await _created(
            admin,
            "/v1/sites",
            {"site_id": f"ts-{side}-{tag}", "enterprise_id": ent, "name": f"site {side}"},
        )
    )["site_id"]
    meter = f"tm-{side}-{tag}"
    await _created(
        admin,
        "/v1/meters",
        {
            "meter_id": meter,
            "enterprise_id": ent,
            "site_id": site,
            "carrier": "electricity",
            "unit": "kWh",
            "register_kind": "cumulative",
            "source_category": "purchased_electricity",
            "installed_at": "2024-01-01T00:00:00Z",  # in service on B's window day
        },
    )
    target = await _created(
        admin,
        "/v1/targets",
        {
            "subject_kind": "meter",
            "subject_id": meter,
            "period_kind": "year",
            "period_start": "2026-01-01",
            "absolute_tco2e": 10.0,
        },
    )
    baseline = await _created(
        admin,
        "/v1/baselines",
        {
            "subject_kind": "meter",
            "subject_id": meter,
            "method": "base_year",
            "base_year": 2025,
            "value_tco2e": 8.0,
            "effective": "2026-01-01",
        },
    )
    return {
        "site": site,
        "meter": meter,
        "target": target["target_id"],
        "baseline": baseline["baseline_id"],
    }


def measure_body(enterprise: str) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "title": "LED lighting",
        "description": "replace sodium lamps",
        "source_category": "purchased_electricity",
        "expected_tco2e_per_year": 5.0,
        "capex_cny": 10_000.0,
        "owner": "li.na",
        "planned_start": "2026-01-01",
        "planned_end": "2026-03-01",
    }


def objective_body(enterprise: str, target: int) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "title": "Meter within its target",
        "indicator": "tCO2e per year",
        "target_id": target,
        "owner": "li.na",
        "resources": "none",
        "due_on": "2026-12-31",
        "evaluation_method": "progress",
    }


CALIBRATION = {"kind": "repair", "performed_on": "2026-02-01", "result": "pass"}


async def _measure_registers(
    admin: httpx.AsyncClient, ent: str, made: dict[str, Any]
) -> dict[str, int]:
    """A measure, an objective and a calibration event of the enterprise."""
    measure = await _created(admin, "/v1/measures", measure_body(ent))
    objective = await _created(admin, "/v1/objectives", objective_body(ent, made["target"]))
    event = await _created(admin, f"/v1/meters/{made['meter']}/calibrations", CALIBRATION)
    return {
        "measure": int(measure["record_id"]),
        "objective": int(objective["record_id"]),
        "calibration": int(event["event_id"]),
    }


async def _store_b_window(server: ApiServer, meter_b: str) -> None:
    """One hour window of B's meter, as the worker stores it, for the query routes."""
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO emission_window (meter_id, width_s, window_start, window_end,"
            " enterprise_id, source_category, iso_category, activity, activity_unit, gases,"
            " tco2e, readings_present, readings_expected, completeness)"
            " VALUES (%s, 3600, %s::timestamptz + interval '8 hours',"
            " %s::timestamptz + interval '9 hours', %s, 'purchased_electricity', 'category_2',"
            " 500.0, 'kWh', '{\"CO2\": 0.25}', %s, 4, 4, 1)",
            (meter_b, B_DAY_START, B_DAY_START, ENTERPRISE_B, B_WINDOW_TCO2E),
        )


async def build_world(server: ApiServer, admin: httpx.AsyncClient, make_key: MakeKey) -> World:
    tag = uuid.uuid4().hex[:8]
    a = await _registry(admin, tag, ENTERPRISE_A, "a")
    b = await _registry(admin, tag, ENTERPRISE_B, "b")
    await _store_b_window(server, b["meter"])
    alert_a = make_alert(a["meter"], enterprise=ENTERPRISE_A)
    alert_b = make_alert(b["meter"], enterprise=ENTERPRISE_B)
    await produce(server, alert_a, alert_b)
    ticket_a = (await wait_ticket(admin, a["meter"]))["ticket_id"]
    ticket_b = (await wait_ticket(admin, b["meter"]))["ticket_id"]
    # B's ticket worked up to a decided action, so the action routes have a real object.
    for body in (
        {"to": "contained", "containment": "feeder isolated"},
        {
            "to": "cause_identified",
            "cause_category": "unreliable_measurement_or_statistics",
            "root_cause": "CT ratio set wrong",
            "similar_nonconformities": "other feeders checked: none",
        },
    ):
        await _created(admin, f"/v1/tickets/{ticket_b}/transitions", body)
    action = await _created(
        admin,
        f"/v1/tickets/{ticket_b}/actions",
        {"description": "reset the CT ratio", "owner": "li.na", "due_at": "2030-01-01T00:00:00Z"},
    )
    # Subscribed to pings only, and never pinged: no delivery traffic from this endpoint.
    webhook = await _created(
        admin,
        "/v1/webhooks",
        {
            "url": "http://127.0.0.1:9/tenancy",
            "event_types": ["ping"],
            "enterprise_id": ENTERPRISE_B,
        },
    )
    token_b = await make_key(Role.ENTERPRISE, enterprise_id=ENTERPRISE_B)
    activity_a = await _created(admin, "/v1/activity-records", activity_body(ENTERPRISE_A))
    activity_b = await _created(admin, "/v1/activity-records", activity_body(ENTERPRISE_B))
    registers = {
        side: await _measure_registers(admin, ent, r)
        for side, ent, r in (("a", ENTERPRISE_A, a), ("b", ENTERPRISE_B, b))
    }
    documents = {
        side: await _document_registers(admin, tag, ent, side)
        for side, ent in (("a", ENTERPRISE_A), ("b", ENTERPRISE_B))
    }
    issues = [await _created(admin, "/v1/context-issues", issue_body(e)) for e in (A, B)]
    parties = [await _created(admin, "/v1/interested-parties", party_body(e)) for e in (A, B)]
    reviews = [await _created(admin, "/v1/management-reviews", review_body(e)) for e in (A, B)]
    obligations = [await _created(admin, "/v1/obligations", obligation_body(e)) for e in (A, B)]
    evaluations = [
        await _created(admin, "/v1/compliance-evaluations", evaluation_body(e, o["record_id"]))
        for e, o in zip((A, B), obligations, strict=True)
    ]
    audits = [await _created(admin, "/v1/internal-audits", audit_body(e)) for e in (A, B)]
    findings = [
        await _created(admin, "/v1/audit-findings", finding_body(e, x["record_id"]))
        for e, x in zip((A, B), audits, strict=True)
    ]
    # B's evidence file and audit report are kept, so their download routes have a file.
    pdf = {"content-type": "application/pdf"}
    for path in (
        f"/v1/compliance-evaluations/{evaluations[1]['record_id']}/evidence",
        f"/v1/internal-audits/{audits[1]['record_id']}/report",
    ):
        r = await admin.put(path, content=EVIDENCE_PDF, headers=pdf)
        assert r.status_code == 200, r.text
    return World(
        tag=tag,
        site_a=a["site"],
        site_b=b["site"],
        meter_a=a["meter"],
        meter_b=b["meter"],
        target_a=a["target"],
        target_b=b["target"],
        baseline_a=a["baseline"],
        baseline_b=b["baseline"],
        alert_a=str(alert_a.alert_id),
        alert_b=str(alert_b.alert_id),
        ticket_a=int(ticket_a),
        ticket_b=int(ticket_b),
        action_b=int(action["action_id"]),
        webhook_b=str(webhook["endpoint_id"]),
        key_b=token_b.split("_")[1],
        activity_a=int(activity_a["record_id"]),
        activity_b=int(activity_b["record_id"]),
        measure_a=registers["a"]["measure"],
        measure_b=registers["b"]["measure"],
        objective_a=registers["a"]["objective"],
        objective_b=registers["b"]["objective"],
        calibration_a=registers["a"]["calibration"],
        calibration_b=registers["b"]["calibration"],
        **{
            f"{k}_{side}": v
            for side, made in documents.items()
            for k, v in made.items()
            if side == "b" or k != "risk_action"
        },
        issue_a=int(issues[0]["record_id"]),
        issue_b=int(issues[1]["record_id"]),
        party_a=int(parties[0]["record_id"]),
        party_b=int(parties[1]["record_id"]),
        review_a=int(reviews[0]["review_id"]),
        review_b=int(reviews[1]["review_id"]),
        obligation_a=int(obligations[0]["record_id"]),
        obligation_b=int(obligations[1]["record_id"]),
        evaluation_a=int(evaluations[0]["record_id"]),
        evaluation_b=int(evaluations[1]["record_id"]),
        audit_a=int(audits[0]["record_id"]),
        audit_b=int(audits[1]["record_id"]),
        finding_a=int(findings[0]["record_id"]),
        finding_b=int(findings[1]["record_id"]),
    )


def document_body(enterprise: str, tag: str) -> dict[str, Any]:
    return {
        "kind": "procedure",
        "code": f"TEN-{enterprise}-{tag}",
        "title": "tenancy procedure",
        "owner": "office",
        "enterprise_id": enterprise,
        "author": "author",
        "effective_on": "2026-01-01",
        "review_on": "2027-01-01",
        "file_name": "p.pdf",
        "sha256": hashlib.sha256(EVIDENCE_PDF).hexdigest(),
    }


def risk_body(enterprise: str) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "kind": "risk",
        "category": "financial",
        "title": "tenancy risk",
        "description": "x",
        "likelihood": 2,
        "consequence": 2,
        "owner": "office",
        "review_on": "2026-12-01",
    }


def screening_body(enterprise: str) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise,
        "project": "tenancy project",
        "applicant": enterprise,
        "industry": "steel",
        "annual_energy_tce": 1.0,
        "annual_emissions_tco2e": 2.0,
        "criteria": [{"criterion": "c", "requirement": "r", "met": True}],
    }


async def _document_registers(
    admin: httpx.AsyncClient, tag: str, ent: str, side: str
) -> dict[str, int]:
    """One document, requirement, role holder, training event, risk (B's with an action) and
    screening of ``ent``."""
    t = "/v1/training-records"
    role = {"role": f"tenancy role {tag}"}
    made = {
        "document": (await _created(admin, "/v1/documents", document_body(ent, tag)))[
            "document_id"
        ],
        "requirement": (
            await _created(
                admin,
                f"{t}/requirements",
                role | {"enterprise_id": ent, "competence": "c", "acquired_by": "training"},
            )
        )["requirement_id"],
        "holder": (
            await _created(
                admin,
                f"{t}/role-holders",
                role | {"enterprise_id": ent, "person": f"person {side}"},
            )
        )["holder_id"],
        "event": (
            await _created(
                admin,
                f"{t}/events",
                {
                    "enterprise_id": ent,
                    "held_on": "2026-01-05",
                    "topic": "t",
                    "trainer": "t",
                    "competences": ["c"],
                },
            )
        )["event_id"],
        "risk": (await _created(admin, "/v1/risks", risk_body(ent)))["risk_id"],
        "screening": (await _created(admin, "/v1/risks/screenings", screening_body(ent)))[
            "screening_id"
        ],
    }
    action = {"description": "a", "owner": "o", "due_on": "2026-02-01", "review_on": "2026-03-01"}
    made["risk_action"] = (await _created(admin, f"/v1/risks/{made['risk']}/actions", action))[
        "action_id"
    ]
    attendee = {"enterprise_id": ent, "person": f"attendee {side}", "role": "r"}
    made["attendance"] = (
        await _created(
            admin,
            f"{t}/events/{made['event']}/attendance",
            attendee | {"result": "not_evaluated"},
        )
    )["attendance_id"]
    return made


@dataclass(frozen=True)
class Clients:
    admin: httpx.AsyncClient  # park-wide: sees both tenants
    a: httpx.AsyncClient  # the enterprise key of A under test
    server: ApiServer


Check = Callable[[World, Clients], Awaitable[None]]


def _request(
    client: httpx.AsyncClient, w: World, method: str, path: str, body: Any, params: Any
) -> Awaitable[httpx.Response]:
    filled = {k: w.fill(v) if isinstance(v, str) else v for k, v in (params or {}).items()}
    return client.request(method, w.fill(path), json=body, params=filled)


def forbidden(method: str, path: str, scope: Scope, body: Any = None) -> Check:
    """A's role lacks ``scope``: 403 naming it, before anything of B is looked at."""

    async def check(w: World, c: Clients) -> None:
        r = await _request(c.a, w, method, path, body, None)
        assert r.status_code == 403, r.text
        assert r.json()["required"] == scope.value

    return check


def hidden(method: str, path: str, body: Any = None, *, proof: str | None = None) -> Check:
    """B's object is 404 for A (its existence not disclosed), while the admin finds it at
    ``proof`` (default: the same path) — so the 404 is tenancy, not a missing object. A write
    leaves B's object as it was."""

    async def check(w: World, c: Clients) -> None:
        seen = w.fill(proof or path)
        before = await c.admin.get(seen)
        assert before.status_code == 200, before.text
        r = await _request(c.a, w, method, path, body, None)
        assert r.status_code == 404, r.text
        # It says what was asked for, and nothing about whose it is.
        said = r.json()["detail"]
        for part in w.fill(path).split("/"):
            said = said.replace(part, "") if len(part) > 3 else said
        assert ENTERPRISE_B not in said and "tenant" not in said.lower()
        after = await c.admin.get(seen)
        assert after.json() == before.json(), "a refused write changed B's object"

    return check


def filtered(
    path: str,
    items: str,
    key: str,
    mine: str,
    theirs: str,
    ask_b: bool = True,
    mine_by: dict[str, str] | None = None,
    theirs_by: dict[str, str] | None = None,
    **params: str,
) -> Check:
    """A list: A's key lists A's object and never B's, also when it asks for B's by filter
    (``ask_b``); the admin lists B's (so its absence is tenancy). The database is shared by the
    whole run, so lists are asked for their largest page, and ``mine_by`` / ``theirs_by``
    (templates) narrow them to the world's own objects where a page could still overflow."""
    params = {"limit": "500", **params}

    def ids(r: httpx.Response) -> set[str]:
        assert r.status_code == 200, r.text
        body = r.json()
        rows = body[items] if items else body
        return {str(row[key]) for row in rows}

    async def check(w: World, c: Clients) -> None:
        their_id, my_id = w.fill(theirs), w.fill(mine)
        narrow_theirs = {k: w.fill(v) for k, v in (theirs_by or {}).items()}
        narrow_mine = {k: w.fill(v) for k, v in (mine_by or {}).items()}
        assert their_id in ids(
            await _request(c.admin, w, "GET", path, None, params | narrow_theirs)
        )
        assert my_id in ids(await _request(c.a, w, "GET", path, None, params | narrow_mine))
        assert their_id not in ids(await _request(c.a, w, "GET", path, None, params))
        if ask_b:
            asked = params | _b(key)
            assert their_id not in ids(await _request(c.a, w, "GET", path, None, asked))

    return check


def _b(key: str) -> dict[str, str]:
    """A filter naming B's objects, as the list routes take it."""
    return {"enterprise_id": ENTERPRISE_B} if key != "enterprise_id" else {}


def named_other_tenant(path: str, param: str, **params: str) -> Check:
    """A query naming enterprise B is 404 for A, as if B did not exist; the admin gets 200."""

    async def check(w: World, c: Clients) -> None:
        asked = params | {param: ENTERPRISE_B}
        assert (await _request(c.admin, w, "GET", path, None, asked)).status_code == 200
        r = await _request(c.a, w, "GET", path, None, asked)
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"

    return check
