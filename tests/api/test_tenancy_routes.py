"""Tenancy of every route (issue 6, tests: "for every route, an enterprise key sees only its own
data, parametrised over the route table, so a new route without a tenancy test fails").

The route table is read from the app itself. ``CASES`` says, for each (method, path), how the
enterprise key of A must be treated for enterprise B's objects: 404 for B's object, B's objects
left out of lists, 403 where A's role lacks the scope. Each case runs over HTTP against the real
server with real objects of both tenants (``tenancy_cases.build_world``).
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from openpyxl import Workbook, load_workbook
from psycopg import AsyncConnection

from api.app import create_app
from api.keys import Scope
from api.registers.xlsx import MEDIA_TYPE as XLSX_TYPE
from config.settings import ApiSettings
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, PARK, ApiServer, MakeKey
from tests.api.tenancy_cases import (
    B_DAY_END,
    B_DAY_START,
    B_WINDOW_TCO2E,
    EVIDENCE_PDF,
    Check,
    Clients,
    World,
    activity_body,
    audit_body,
    build_world,
    document_body,
    evaluation_body,
    filtered,
    finding_body,
    forbidden,
    hidden,
    issue_body,
    measure_body,
    named_other_tenant,
    objective_body,
    obligation_body,
    party_body,
    review_body,
    risk_body,
    screening_body,
)
from tests.api.test_registry_gateways import own_park
from tests.api.test_tickets import make_alert, produce
from tests.api.test_tickets_live import feed

pytestmark = pytest.mark.integration

# Paths outside the tenancy question, each with the reason.
EXCLUDED = {
    "/healthz": "liveness probe: no key, no data of any tenant",
    "/metrics": "Prometheus scrape of process counters: no tenant data, not under /v1",
    "/": "the live page's HTML shell, served without a key: it holds no data (api/page)",
    "/management-system": "the management-system page's HTML shell: no key, no data (api/page)",
    "/static/live/{name}": "the page's packaged JS/CSS: the same files for everyone, no data",
    "/page/messages": "the page's texts from the message catalogue, no key: no tenant's data",
    "/docs": "Swagger UI: the public API description",
    "/docs/oauth2-redirect": "Swagger UI helper page",
    "/openapi.json": "the public API description",
    "/redoc": "ReDoc: the public API description",
}


def route_table() -> list[tuple[str, str]]:
    """(method, path) of every API route the app serves, HEAD aside (Starlette adds it to GET)."""
    app = create_app(ApiSettings())
    found = set()
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path or ""
        if not isinstance(ctx.original_route, APIRoute) or path in EXCLUDED:
            continue
        found |= {(m, path) for m in ctx.methods or () if m != "HEAD"}
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


ROUTES = route_table()
_DAY = {"from": B_DAY_START, "to": B_DAY_END}
_TICKET_B = "/v1/tickets/{ticket_b}"
_ACTIVITY_B = "/v1/activity-records/{activity_b}"
_EVALUATION_B = "/v1/compliance-evaluations/{evaluation_b}"
_AUDIT_B = "/v1/internal-audits/{audit_b}"
_REASON = {"reason": "tenancy test"}
_MEASURE_B = "/v1/measures/{measure_b}"
_OBJECTIVE_B = "/v1/objectives/{objective_b}"


async def measure_for_b_refused(w: World, c: Clients) -> None:
    """A measure for B entered with A's key is 404, as if B did not exist; so is one naming
    B's meter for A."""
    r = await c.a.post("/v1/measures", json=measure_body(ENTERPRISE_B))
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    theirs = measure_body(ENTERPRISE_A) | {"meter_ids": [w.meter_b]}
    r = await c.a.post("/v1/measures", json=theirs)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == f"meter_ids: no meter {w.meter_b!r} in enterprise {ENTERPRISE_A!r}"


async def objective_for_b_refused(w: World, c: Clients) -> None:
    """An objective for B entered with A's key is 404; A's own objective cannot be measured by
    B's target either (it reads as absent)."""
    r = await c.a.post("/v1/objectives", json=objective_body(ENTERPRISE_B, w.target_b))
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    r = await c.a.post("/v1/objectives", json=objective_body(ENTERPRISE_A, w.target_b))
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no target {w.target_b}"


async def ranking_of_b_hidden(w: World, c: Clients) -> None:
    def ids(r: httpx.Response) -> set[int]:
        assert r.status_code == 200, r.text
        return {i["measure"]["record_id"] for i in r.json()["items"]}

    assert w.measure_b in ids(await c.admin.get("/v1/measures/ranking"))
    mine = ids(await c.a.get("/v1/measures/ranking"))
    assert w.measure_a in mine and w.measure_b not in mine
    assert (
        ids(await c.a.get("/v1/measures/ranking", params={"enterprise_id": ENTERPRISE_B})) == set()
    )


async def emissions_of_b_hidden(w: World, c: Clients) -> None:
    """Naming B is 404; filtering on B's meter matches nothing (the admin sees its window)."""
    await named_other_tenant("/v1/emissions", "enterprise_id", **_DAY)(w, c)
    by_meter = _DAY | {"meter_id": w.meter_b, "bucket": "1d", "group_by": "meter"}
    seen = await c.admin.get("/v1/emissions", params=by_meter)
    assert seen.status_code == 200, seen.text
    assert [float(i["tco2e"]) for i in seen.json()["items"]] == [B_WINDOW_TCO2E]
    r = await c.a.get("/v1/emissions", params=by_meter)
    assert r.status_code == 200 and r.json()["items"] == [], r.text


async def energy_of_b_hidden(w: World, c: Clients) -> None:
    """As for emissions: naming B is 404; B's meter (electricity) filtered gives A nothing."""
    await named_other_tenant("/v1/energy", "enterprise_id", **_DAY)(w, c)
    by_meter = _DAY | {"meter_id": w.meter_b, "bucket": "1d", "group_by": "meter"}
    seen = await c.admin.get("/v1/energy", params=by_meter)
    assert seen.status_code == 200, seen.text
    assert [i["group"]["meter"] for i in seen.json()["items"]] == [w.meter_b]
    r = await c.a.get("/v1/energy", params=by_meter)
    assert r.status_code == 200 and r.json()["items"] == [], r.text


async def energy_flows_of_b_hidden(w: World, c: Clients) -> None:
    """Naming B is 404; A's flow has no node of B (the admin's has B and its window)."""
    await named_other_tenant("/v1/energy-flows", "enterprise_id", **_DAY)(w, c)
    seen = await c.admin.get("/v1/energy-flows", params=_DAY)
    assert seen.status_code == 200, seen.text
    theirs = [n for n in seen.json()["nodes"] if n["id"] == f"enterprise/{ENTERPRISE_B}"]
    assert [float(n["tco2e"]) for n in theirs] == [B_WINDOW_TCO2E]
    r = await c.a.get("/v1/energy-flows", params=_DAY)
    assert r.status_code == 200, r.text
    ids = {n["id"] for n in r.json()["nodes"]}
    assert f"enterprise/{ENTERPRISE_B}" not in ids
    assert all(link["source"] != f"enterprise/{ENTERPRISE_B}" for link in r.json()["links"])


async def heatmap_of_b_hidden(w: World, c: Clients) -> None:
    """Naming B is 404; B's meter filtered gives A no cell (the admin gets B's hour)."""
    await named_other_tenant("/v1/heatmap", "enterprise_id", **_DAY)(w, c)
    by_meter = _DAY | {"meter_id": w.meter_b}
    seen = await c.admin.get("/v1/heatmap", params=by_meter)
    assert seen.status_code == 200, seen.text
    assert [float(x["value"]) for x in seen.json()["cells"]] == [B_WINDOW_TCO2E]
    r = await c.a.get("/v1/heatmap", params=by_meter)
    assert r.status_code == 200 and r.json()["cells"] == [], r.text


async def quality_of_b_hidden(w: World, c: Clients) -> None:
    await named_other_tenant("/v1/quality", "enterprise_id", **_DAY)(w, c)
    mine = (await c.a.get("/v1/quality", params=_DAY | {"meter_id": w.meter_b})).json()
    assert mine["meters"] == [] and mine["unattributed_rejected"] is None
    assert {e["enterprise_id"] for e in mine["enterprises"]} <= {ENTERPRISE_A}
    park = (await c.admin.get("/v1/quality", params=_DAY | {"meter_id": w.meter_b})).json()
    assert [m["meter_id"] for m in park["meters"]] == [w.meter_b]


async def other_parks_hidden(w: World, c: Clients) -> None:
    """A sees its own park (the list and the park) and no other: another park is 404 for A,
    while the admin reads it (so the 404 is tenancy)."""
    other = f"tenancy-park-{uuid.uuid4().hex[:8]}"
    made = await c.admin.post("/v1/parks", json={"park_id": other, "name": "another park"})
    assert made.status_code == 201, made.text
    listed = await c.a.get("/v1/parks", params={"limit": "500"})
    assert [p["park_id"] for p in listed.json()["items"]] == ["apitest"], listed.text
    assert (await c.a.get("/v1/parks/apitest")).status_code == 200
    assert (await c.admin.get(f"/v1/parks/{other}")).status_code == 200
    r = await c.a.get(f"/v1/parks/{other}")
    assert r.status_code == 404 and ENTERPRISE_B not in r.text, r.text


async def intensity_of_b_hidden(w: World, c: Clients) -> None:
    await named_other_tenant("/v1/intensity", "enterprise_id", **_DAY)(w, c)
    r = await c.a.get("/v1/intensity", params=_DAY)
    assert {i["enterprise_id"] for i in r.json()["items"]} <= {ENTERPRISE_A}


async def progress_of_b_hidden(w: World, c: Clients) -> None:
    as_of = {"as_of": "2026-06-01T00:00:00Z"}
    await named_other_tenant("/v1/progress", "enterprise_id", **as_of)(w, c)
    await filtered(
        "/v1/progress", "items", "target_id", "{target_a}", "{target_b}", False, **as_of
    )(w, c)


async def push_to_b_rejected(w: World, c: Clients) -> None:
    """A reading for B's meter is UNKNOWN_METER for A (as for a meter that does not exist), and
    nothing of it is stored."""
    ts = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
    body = {"readings": [{"meter_id": w.meter_b, "ts": ts, "value": 1.0, "unit": "kWh"}]}
    r = await c.a.post("/v1/readings", json=body)
    assert r.status_code == 422, r.text
    [result] = r.json()["results"]
    assert (result["outcome"], result["reason"]) == ("rejected", "UNKNOWN_METER")
    async with await AsyncConnection.connect(c.server.database_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM ems_reading WHERE meter_id = %s", (w.meter_b,)
        )
        assert await cur.fetchone() == (0,)


async def live_of_b_hidden(w: World, c: Clients) -> None:
    """B's alert reaches the park-wide feed and never A's; A's own marker alert, sent after
    B's had arrived, shows A's feed was live all along."""
    theirs, mine = f"live-b-{w.tag}", f"live-a-{w.tag}"
    async with feed(c.admin) as park, feed(c.a) as a:
        await produce(c.server, make_alert(theirs, enterprise=ENTERPRISE_B))
        await park.wait_for(theirs, "alert")
        await produce(c.server, make_alert(mine, enterprise=ENTERPRISE_A))
        await a.wait_for(mine, "alert")
        await asyncio.sleep(0.2)
        assert [d for _, d in a.events if d.get("enterprise_id") == ENTERPRISE_B] == []


async def factors_are_park_wide(w: World, c: Clients) -> None:
    """The factor catalogue belongs to the park: A reads what the admin reads, less other
    enterprises' own versions (their measured values)."""
    mine, park = await c.a.get("/v1/factors"), await c.admin.get("/v1/factors")
    assert mine.status_code == park.status_code == 200
    assert mine.json() == [f for f in park.json() if f["enterprise_id"] in (None, ENTERPRISE_A)]
    params = {"limit": 500}
    mine = await c.a.get("/v1/factor-overrides", params=params)
    park = await c.admin.get("/v1/factor-overrides", params=params)
    assert mine.status_code == park.status_code == 200
    visible = [o for o in park.json()["items"] if o["enterprise_id"] in (None, ENTERPRISE_A)]
    assert mine.json()["items"] == visible


async def page_context_of_b_hidden(w: World, c: Clients) -> None:
    """The page's context: A's key sees its own park with only its own enterprise in it."""

    def enterprises(r: httpx.Response) -> set[str]:
        assert r.status_code == 200, r.text
        return {e["enterprise_id"] for p in r.json()["parks"] for e in p["enterprises"]}

    assert {ENTERPRISE_A, ENTERPRISE_B} <= enterprises(await c.admin.get("/page/context"))
    mine = await c.a.get("/page/context")
    assert enterprises(mine) == {ENTERPRISE_A}
    assert mine.json()["enterprise_id"] == ENTERPRISE_A
    assert [p["park_id"] for p in mine.json()["parks"]] == [PARK]


def gateway_refused(method: str, path: str, body: Any = None) -> Check:
    """Gateways are park infrastructure spanning tenants: A's key is 403 for any of them, also
    for reads (a gateway's grants name other enterprises and their meters); the gateway, in a
    park of its own so no other test's park starts enforcing grants, stays as it was."""

    async def check(w: World, c: Clients) -> None:
        tag = uuid.uuid4().hex[:8]
        park, one, _, _ = await own_park(c.server.database_url, tag)
        gw = f"gw-{tag}"
        made = await c.admin.post(
            "/v1/gateways", json={"gateway_id": gw, "park_id": park, "enterprise_ids": [one]}
        )
        assert made.status_code == 201, made.text
        r = await c.a.request(method, path.format(gateway=gw), json=body)
        assert r.status_code == 403, r.text
        assert gw not in r.text and one not in r.text
        assert (await c.admin.get(f"/v1/gateways/{gw}")).json() == made.json()

    return check


async def named_other_tenant_write(w: World, c: Clients) -> None:
    """A record for B entered with A's key is 404, as if B did not exist; nothing is stored."""
    body = activity_body(ENTERPRISE_B) | {"document_ref": f"tenancy-{w.tag}-write"}
    r = await c.a.post("/v1/activity-records", json=body)
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    listed = await c.admin.get("/v1/activity-records", params={"limit": "500"})
    assert body["document_ref"] not in {
        i["current"]["document_ref"] for i in listed.json()["items"]
    }


async def evidence_of_b_hidden(w: World, c: Clients) -> None:
    """A's key cannot attach a file to B's record (404), even the very file it declares."""
    path = w.fill(_ACTIVITY_B)
    before = (await c.admin.get(path)).json()
    r = await c.a.put(
        path + "/evidence", content=EVIDENCE_PDF, headers={"content-type": "application/pdf"}
    )
    assert r.status_code == 404, r.text
    assert (await c.admin.get(path)).json() == before


async def upload_for_b_refused(w: World, c: Clients) -> None:
    """A file of records for B uploaded with A's key: the row is rejected and nothing stored."""
    ref = f"tenancy-{w.tag}-upload"
    body = activity_body(ENTERPRISE_B) | {"document_ref": ref}
    del body["evidence_file_name"], body["evidence_sha256"]
    text = ",".join(body) + "\n" + ",".join(str(v) for v in body.values()) + "\n"
    r = await c.a.post(
        "/v1/activity-records/uploads", content=text.encode(), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 422, r.text
    [row] = r.json()["rows"]
    assert row["outcome"] == "rejected" and row["errors"] == [f"no enterprise {ENTERPRISE_B!r}"]
    listed = await c.admin.get("/v1/activity-records", params={"limit": "500"})
    assert ref not in {i["current"]["document_ref"] for i in listed.json()["items"]}


def written_for_b(path: str, body: dict[str, Any]) -> Check:
    """A register record for B written with A's key is 404, as if B did not exist."""

    async def check(w: World, c: Clients) -> None:
        r = await c.a.post(path, json=body)
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"

    return check


async def _inventories_of_b(c: Clients) -> tuple[int, int]:
    """B's inventory and the park's of B's window day (the admin's), as the inventory checks'
    objects: neither may reach A's key."""
    day = {"from": B_DAY_START[:10], "to": B_DAY_START[:10], "park_id": PARK}
    made = [
        await c.admin.post("/v1/inventories", json=day | {"enterprise_id": ENTERPRISE_B}),
        await c.admin.post("/v1/inventories", json=day),
    ]
    for r in made:
        assert r.status_code == 201, r.text
    return made[0].json()["inventory_id"], made[1].json()["inventory_id"]


async def inventory_for_b_hidden(w: World, c: Clients) -> None:
    """An inventory of B asked for with A's key is 404, as if B did not exist; nothing stored."""
    before = (await c.admin.get("/v1/inventories", params={"enterprise_id": ENTERPRISE_B})).json()
    r = await c.a.post(
        "/v1/inventories",
        json={"from": B_DAY_START[:10], "to": B_DAY_START[:10], "enterprise_id": ENTERPRISE_B},
    )
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    after = (await c.admin.get("/v1/inventories", params={"enterprise_id": ENTERPRISE_B})).json()
    assert after == before


async def inventories_of_b_and_park_left_out(w: World, c: Clients) -> None:
    """A's key lists its own inventories; B's and the park's (which hold B's figures) never,
    also when it asks for B's or for park boundaries by filter."""
    theirs, parks = await _inventories_of_b(c)
    day = {"from": B_DAY_START[:10], "to": B_DAY_START[:10]}
    mine = await c.a.post("/v1/inventories", json=day)
    # A has no windows that day (nothing to keep: refused, saying so) unless another test
    # confirmed a record of A's for it; then the inventory is A's own.
    assert mine.status_code in (201, 422), mine.text
    if mine.status_code == 422:
        assert "no metered window" in mine.json()["detail"]
    else:
        assert mine.json()["enterprise_id"] == ENTERPRISE_A
    seen = {i["inventory_id"] for i in (await c.admin.get("/v1/inventories")).json()["items"]}
    assert {theirs, parks} <= seen
    for params in ({}, {"enterprise_id": ENTERPRISE_B}, {"boundary": "park"}):
        got = await c.a.get("/v1/inventories", params=params | {"limit": "500"})
        assert got.status_code == 200, got.text
        ids = {i["inventory_id"] for i in got.json()["items"]}
        assert not ids & {theirs, parks}
        assert {i["enterprise_id"] for i in got.json()["items"]} <= {ENTERPRISE_A}


async def inventory_of_b_hidden(w: World, c: Clients) -> None:
    """B's inventory and the park's are 404 for A in every format; the admin reads both."""
    theirs, parks = await _inventories_of_b(c)
    for inventory_id in (theirs, parks):
        for fmt in ("json", "xlsx", "html"):
            path = f"/v1/inventories/{inventory_id}"
            assert (await c.admin.get(path, params={"format": fmt})).status_code == 200
            r = await c.a.get(path, params={"format": fmt})
            assert r.status_code == 404, r.text
            assert r.json()["detail"] == f"no inventory {inventory_id}"


def register_write_for_b_refused(path: str, body: dict[str, Any], marker: str) -> Check:
    """A record for B written with A's key is 404, as if B did not exist; nothing is stored
    (no record of B holds the write's text in its ``marker`` field)."""

    async def check(w: World, c: Clients) -> None:
        text = f"tenancy-{w.tag}-write"
        r = await c.a.post(path, json=body | {marker: text})
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
        listed = await c.admin.get(path, params={"limit": "500", "enterprise_id": ENTERPRISE_B})
        assert text not in {i[marker] for i in listed.json()["items"]}

    return check


async def document_file_of_b_hidden(w: World, c: Clients) -> None:
    """A's key cannot store a file on B's draft (404), even the very file it declares."""
    path = w.fill(_DOCUMENT_B)
    before = (await c.admin.get(path)).json()
    r = await c.a.put(
        path + "/versions/1/file",
        content=EVIDENCE_PDF,
        headers={"content-type": "application/pdf"},
    )
    assert r.status_code == 404, r.text
    assert (await c.admin.get(path)).json() == before


async def gaps_of_b_hidden(w: World, c: Clients) -> None:
    """B's person lacking the role's competence is in the park's gap view, never in A's."""
    role = f"tenancy role {w.tag}"

    def people(r: httpx.Response) -> set[tuple[str | None, str]]:
        assert r.status_code == 200, r.text
        return {(g["enterprise_id"], g["person"]) for g in r.json() if g["role"] == role}

    park = people(await c.admin.get(_TRAINING + "/gaps"))
    assert {(ENTERPRISE_A, "person a"), (ENTERPRISE_B, "person b")} <= park
    assert people(await c.a.get(_TRAINING + "/gaps")) == {(ENTERPRISE_A, "person a")}


_DOCUMENT_B = "/v1/documents/{document_b}"
_TRAINING = "/v1/training-records"
_EVENT_B = _TRAINING + "/events/{event_b}"
_RISK_B = "/v1/risks/{risk_b}"
_SCREENING_B = "/v1/risks/screenings/{screening_b}"
_ROLE = {"role": "tenancy", "competence": "c", "acquired_by": "training"}
_EVENT = {"held_on": "2026-01-05", "topic": "t", "trainer": "t", "competences": ["c"]}
_ACTION = {"description": "a", "owner": "o", "due_on": "2026-02-01", "review_on": "2026-03-01"}
_VERSION_FIELDS = ("author", "effective_on", "review_on", "file_name", "sha256")


def register_export_of_b_hidden(path: str, mine: str, theirs: str) -> Check:
    """A's export holds A's records and none of B's; the admin's holds B's."""

    async def check(w: World, c: Clients) -> None:
        def ids(r: httpx.Response) -> set[int]:
            assert r.status_code == 200, r.text
            sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
            return {row[0] for row in sheet.iter_rows(min_row=3, values_only=True)}

        assert int(w.fill(theirs)) in ids(await c.admin.get(path))
        mine_ids = ids(await c.a.get(path))
        assert int(w.fill(mine)) in mine_ids and int(w.fill(theirs)) not in mine_ids

    return check


def register_import_for_b_refused(
    path: str, target: str, body: dict[str, Any], missing: str = "record"
) -> Check:
    """A sheet replacing B's record, imported with A's key: the row is rejected (B's record
    reads as absent: "no ``missing`` <id>"), nothing is stored and B's record stays as it was."""

    async def check(w: World, c: Clients) -> None:
        seen = w.fill(f"{path}/{target}")
        before = (await c.admin.get(seen)).json()
        content = {k: v for k, v in body.items() if k != "enterprise_id"}
        header = ["record_id", *content]
        book = Workbook()
        book.active.append(header)
        cells = [f"{v} by A" if k == "owner" else v for k, v in content.items()]
        cells = ["; ".join(v) if isinstance(v, list) else v for v in cells]
        book.active.append([int(w.fill(target)), *cells])
        buffer = io.BytesIO()
        book.save(buffer)
        r = await c.a.post(
            f"{path}/import", content=buffer.getvalue(), headers={"content-type": XLSX_TYPE}
        )
        assert r.status_code == 422, r.text
        [row] = r.json()["rows"]
        assert row["outcome"] == "rejected"
        assert row["errors"] == [f"no {missing} {w.fill(target)}"]
        assert (await c.admin.get(seen)).json() == before

    return check


def register_cases(
    path: str, mine: str, theirs: str, body: Any, marker: str = "owner"
) -> dict[tuple[str, str], Check]:
    """The six routes of a register (clauses 4-10): B's records are 404 for A and left out of
    A's lists and exports; a write for B is refused and changes nothing."""
    one = f"{path}/{theirs}"
    content = {k: v for k, v in body(ENTERPRISE_B).items() if k != "enterprise_id"}
    return {
        ("POST", path): register_write_for_b_refused(path, body(ENTERPRISE_B), marker),
        ("GET", path): filtered(path, "items", "record_id", mine, theirs),
        ("GET", path + "/{record_id}"): hidden("GET", one),
        ("PUT", path + "/{record_id}"): hidden(
            "PUT", one, content | {"status": "archived"}, proof=one
        ),
        ("GET", path + "/export"): register_export_of_b_hidden(path + "/export", mine, theirs),
        ("POST", path + "/import"): register_import_for_b_refused(path, theirs, body(ENTERPRISE_B)),
    }


async def nonconformity_for_b_refused(w: World, c: Clients) -> None:
    """A nonconformity of B opened with A's key is 404, as if B did not exist; none is opened."""
    source = f"tenancy-{w.tag}-nc"
    body = {
        "source_kind": "complaint",
        "source_id": source,
        "enterprise_id": ENTERPRISE_B,
        "title": "x",
        "description": "x",
    }
    r = await c.a.post("/v1/tickets", json=body)
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    listed = await c.admin.get("/v1/tickets", params={"source_id": source})
    assert listed.json()["items"] == []


async def review_for_b_refused(w: World, c: Clients) -> None:
    """A management review of B written with A's key is 404, as if B did not exist; none is
    stored."""
    marker = f"tenancy-{w.tag}-review"
    r = await c.a.post("/v1/management-reviews", json=review_body(ENTERPRISE_B) | {"chair": marker})
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == f"no enterprise {ENTERPRISE_B!r}"
    listed = await c.admin.get(
        "/v1/management-reviews", params={"limit": "500", "enterprise_id": ENTERPRISE_B}
    )
    assert marker not in {i["chair"] for i in listed.json()["items"]}


async def documented_information_of_b_left_out(w: World, c: Clients) -> None:
    """A's document set holds A's records and none of B's (registers, tickets); the admin's
    holds B's."""

    def contents(r: httpx.Response) -> tuple[set[Any], set[Any]]:
        assert r.status_code == 200, r.text
        archive = zipfile.ZipFile(io.BytesIO(r.content))
        issues = load_workbook(io.BytesIO(archive.read("registers/context_issue.xlsx")))
        tickets = load_workbook(io.BytesIO(archive.read("nonconformities/tickets.xlsx")))
        return (
            {row[0] for row in issues.worksheets[0].iter_rows(min_row=3, values_only=True)},
            {row[0] for row in tickets.worksheets[0].iter_rows(min_row=2, values_only=True)},
        )

    path = "/v1/management-system/documented-information"
    issues, tickets = contents(await c.admin.get(path))
    assert w.issue_b in issues and w.ticket_b in tickets
    issues, tickets = contents(await c.a.get(path))
    assert w.issue_a in issues and w.ticket_a in tickets
    assert w.issue_b not in issues and w.ticket_b not in tickets


async def open_items_of_b_left_out(w: World, c: Clients) -> None:
    """An audit finding of B is among the admin's open items and never among A's."""
    title = f"tenancy-{w.tag}-finding"
    body = {
        "source_kind": "internal_audit",
        "source_id": title,
        "enterprise_id": ENTERPRISE_B,
        "title": title,
        "description": "x",
    }
    assert (await c.admin.post("/v1/tickets", json=body)).status_code == 201

    def titles(r: httpx.Response) -> set[str]:
        assert r.status_code == 200, r.text
        return {i["title"] for s in r.json()["sections"] for i in s["items"]}

    path = "/v1/management-system/open-items"
    assert title in titles(await c.admin.get(path))
    assert title not in titles(await c.a.get(path))


_REVIEW_B = "/v1/management-reviews/{review_b}"


def sheet_import_for_b_refused(path: str, target: str, row: dict[str, Any]) -> Check:
    """A sheet replacing B's record, imported with A's key: the row is rejected (B's record
    reads as absent) and nothing changes (the admin's export stays byte for byte the same)."""

    async def check(w: World, c: Clients) -> None:
        before = (await c.admin.get(f"{path}/export")).content
        book = Workbook()
        book.active.append(["record_id", *row])
        book.active.append(
            [
                int(w.fill(target)),
                *(
                    w.fill(v) if isinstance(v, str) and v.startswith("{") else v
                    for v in row.values()
                ),
            ]
        )
        buffer = io.BytesIO()
        book.save(buffer)
        r = await c.a.post(
            f"{path}/import", content=buffer.getvalue(), headers={"content-type": XLSX_TYPE}
        )
        assert r.status_code == 422, r.text
        [result] = r.json()["rows"]
        assert result["outcome"] == "rejected"
        assert result["errors"] == [f"no record {w.fill(target)}"]
        assert (await c.admin.get(f"{path}/export")).content == before

    return check


def sheet_cases(
    path: str, mine: str, theirs: str, row: dict[str, Any]
) -> dict[tuple[str, str], Check]:
    """The export and import of one sheet of a register with its own tables."""
    return {
        ("GET", path + "/export"): register_export_of_b_hidden(path + "/export", mine, theirs),
        ("POST", path + "/import"): sheet_import_for_b_refused(path, theirs, row),
    }


_SHEET_ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "/v1/documents": (
        "document",
        {"kind": "procedure", "code": "TEN-X", "title": "t", "owner": "o"},
    ),
    "/v1/risks": (
        "risk",
        {k: v for k, v in risk_body(ENTERPRISE_B).items() if k != "enterprise_id"} | {"score": 4},
    ),
    "/v1/risks/screenings": (
        "screening",
        {
            k: v
            for k, v in screening_body(ENTERPRISE_B).items()
            if k not in ("enterprise_id", "criteria")
        }
        | {"criteria": '[{"criterion": "c", "requirement": "r", "met": true}]'},
    ),
    "/v1/training-records/requirements": (
        "requirement",
        {"role": "r", "competence": "c", "acquired_by": "training"},
    ),
    "/v1/training-records/role-holders": ("holder", {"person": "p", "role": "r"}),
    "/v1/training-records/events": (
        "event",
        {"held_on": "2026-01-05", "topic": "t", "trainer": "t", "competences": "c"},
    ),
    "/v1/training-records/attendance": (
        "attendance",
        {"event_id": "{event_b}", "person": "p", "role": "r", "result": "not_evaluated"},
    ),
}
_W = Scope.REGISTRY_WRITE
_METER_BODY = {"name": "renamed by A"}
CASES: dict[tuple[str, str], Check] = {
    # API keys and the audit log: admin and auditor only.
    ("POST", "/v1/api-keys"): forbidden(
        "POST",
        "/v1/api-keys",
        Scope.KEYS_ADMIN,
        {"name": "x", "role": "enterprise", "enterprise_id": ENTERPRISE_B},
    ),
    ("GET", "/v1/api-keys"): forbidden("GET", "/v1/api-keys", Scope.KEYS_ADMIN),
    ("DELETE", "/v1/api-keys/{key_id}"): forbidden(
        "DELETE", "/v1/api-keys/{key_b}", Scope.KEYS_ADMIN
    ),
    ("GET", "/v1/audit"): forbidden("GET", "/v1/audit", Scope.AUDIT_READ),
    # Organisation tree: read own, written by admins only.
    ("POST", "/v1/parks"): forbidden("POST", "/v1/parks", _W, {"park_id": "x", "name": "x"}),
    ("GET", "/v1/parks"): other_parks_hidden,
    ("GET", "/v1/parks/{park_id}"): other_parks_hidden,
    ("PATCH", "/v1/parks/{park_id}"): forbidden("PATCH", "/v1/parks/apitest", _W, {"name": "x"}),
    ("POST", "/v1/enterprises"): forbidden(
        "POST", "/v1/enterprises", _W, {"enterprise_id": "x", "park_id": "apitest", "name": "x"}
    ),
    ("GET", "/v1/enterprises"): filtered(
        "/v1/enterprises", "items", "enterprise_id", ENTERPRISE_A, ENTERPRISE_B
    ),
    ("GET", "/v1/enterprises/{enterprise_id}"): hidden("GET", f"/v1/enterprises/{ENTERPRISE_B}"),
    ("PATCH", "/v1/enterprises/{enterprise_id}"): forbidden(
        "PATCH", f"/v1/enterprises/{ENTERPRISE_B}", _W, {"name": "x"}
    ),
    ("POST", "/v1/sites"): forbidden(
        "POST", "/v1/sites", _W, {"site_id": "x", "enterprise_id": ENTERPRISE_B, "name": "x"}
    ),
    ("GET", "/v1/sites"): filtered("/v1/sites", "items", "site_id", "{site_a}", "{site_b}"),
    ("GET", "/v1/sites/{site_id}"): hidden("GET", "/v1/sites/{site_b}"),
    ("PATCH", "/v1/sites/{site_id}"): forbidden("PATCH", "/v1/sites/{site_b}", _W, {"name": "x"}),
    # Meters.
    ("POST", "/v1/meters"): forbidden("POST", "/v1/meters", _W, {"meter_id": "x"}),
    ("GET", "/v1/meters/import-template"): forbidden("GET", "/v1/meters/import-template", _W),
    ("POST", "/v1/meters/import"): forbidden("POST", "/v1/meters/import", _W, {}),
    ("GET", "/v1/meters"): filtered(
        "/v1/meters",
        "items",
        "meter_id",
        "{meter_a}",
        "{meter_b}",
        mine_by={"site_id": "{site_a}"},
        theirs_by={"site_id": "{site_b}"},
    ),
    ("GET", "/v1/meters/{meter_id}"): hidden("GET", "/v1/meters/{meter_b}"),
    ("PATCH", "/v1/meters/{meter_id}"): forbidden("PATCH", "/v1/meters/{meter_b}", _W, _METER_BODY),
    ("POST", "/v1/meters/{meter_id}/retire"): forbidden(
        "POST", "/v1/meters/{meter_b}/retire", _W, _REASON
    ),
    ("POST", "/v1/meters/{meter_id}/replacements"): forbidden(
        "POST", "/v1/meters/{meter_b}/replacements", _W, {}
    ),
    ("GET", "/v1/meters/{meter_id}/replacements"): hidden(
        "GET", "/v1/meters/{meter_b}/replacements"
    ),
    # Gateways and their grants: park-wide keys only.
    ("POST", "/v1/gateways"): gateway_refused(
        "POST", "/v1/gateways", {"gateway_id": "x", "park_id": "apitest"}
    ),
    ("GET", "/v1/gateways"): gateway_refused("GET", "/v1/gateways"),
    ("GET", "/v1/gateways/{gateway_id}"): gateway_refused("GET", "/v1/gateways/{gateway}"),
    ("PATCH", "/v1/gateways/{gateway_id}"): gateway_refused(
        "PATCH", "/v1/gateways/{gateway}", {"enterprise_ids": []}
    ),
    # Factors: the park's catalogue, the same for every reader.
    ("POST", "/v1/factor-overrides"): forbidden("POST", "/v1/factor-overrides", _W, {}),
    ("GET", "/v1/factor-overrides"): factors_are_park_wide,
    ("GET", "/v1/factors"): factors_are_park_wide,
    # Targets and baselines (subjects: B's meter).
    ("POST", "/v1/targets"): forbidden("POST", "/v1/targets", _W, {}),
    ("GET", "/v1/targets"): filtered(
        "/v1/targets", "items", "target_id", "{target_a}", "{target_b}"
    ),
    ("GET", "/v1/targets/{target_id}"): hidden("GET", "/v1/targets/{target_b}"),
    ("POST", "/v1/baselines"): forbidden("POST", "/v1/baselines", _W, {}),
    ("POST", "/v1/baselines/{baseline_id}/restatements"): forbidden(
        "POST", "/v1/baselines/{baseline_b}/restatements", _W, {}
    ),
    ("GET", "/v1/baselines"): filtered(
        "/v1/baselines", "items", "baseline_id", "{baseline_a}", "{baseline_b}"
    ),
    ("GET", "/v1/baselines/{baseline_id}"): hidden("GET", "/v1/baselines/{baseline_b}"),
    # Restatement proposals of B's baseline: reads are 404 as the baseline is, writes need
    # registry:write (an enterprise key never decides a restatement).
    ("GET", "/v1/baselines/{baseline_id}/proposals"): hidden(
        "GET", "/v1/baselines/{baseline_b}/proposals"
    ),
    ("GET", "/v1/baselines/{baseline_id}/proposals/{proposal_id}"): hidden(
        "GET", "/v1/baselines/{baseline_b}/proposals/1", proof="/v1/baselines/{baseline_b}"
    ),
    ("POST", "/v1/baselines/{baseline_id}/proposals"): forbidden(
        "POST", "/v1/baselines/{baseline_b}/proposals", _W, {}
    ),
    ("POST", "/v1/baselines/{baseline_id}/proposals/{proposal_id}/accept"): forbidden(
        "POST", "/v1/baselines/{baseline_b}/proposals/1/accept", _W, {}
    ),
    ("POST", "/v1/baselines/{baseline_id}/proposals/{proposal_id}/reject"): forbidden(
        "POST", "/v1/baselines/{baseline_b}/proposals/1/reject", _W, {"note": "x"}
    ),
    # Readings and the stored windows.
    ("POST", "/v1/readings"): push_to_b_rejected,
    ("GET", "/v1/emissions"): emissions_of_b_hidden,
    ("GET", "/v1/energy"): energy_of_b_hidden,
    ("GET", "/v1/energy-flows"): energy_flows_of_b_hidden,
    ("GET", "/v1/heatmap"): heatmap_of_b_hidden,
    ("GET", "/v1/intensity"): intensity_of_b_hidden,
    ("GET", "/v1/progress"): progress_of_b_hidden,
    ("GET", "/v1/quality"): quality_of_b_hidden,
    # Alerts: read own; acknowledging is the operators' (alerts:write).
    ("GET", "/v1/alerts"): filtered(
        "/v1/alerts", "items", "alert_id", "{alert_a}", "{alert_b}", subject_kind="meter"
    ),
    ("GET", "/v1/alerts/{alert_id}"): hidden("GET", "/v1/alerts/{alert_b}"),
    ("POST", "/v1/alerts/{alert_id}/ack"): forbidden(
        "POST", "/v1/alerts/{alert_b}/ack", Scope.ALERTS_WRITE
    ),
    # Tickets: an enterprise key works its own; B's are 404 and stay as they were.
    ("GET", "/v1/tickets"): filtered(
        "/v1/tickets", "items", "ticket_id", "{ticket_a}", "{ticket_b}"
    ),
    ("POST", "/v1/tickets"): nonconformity_for_b_refused,
    ("GET", "/v1/tickets/{ticket_id}"): hidden("GET", _TICKET_B),
    ("GET", "/v1/tickets/{ticket_id}/history"): hidden("GET", _TICKET_B + "/history"),
    ("POST", "/v1/tickets/{ticket_id}/transitions"): hidden(
        "POST", _TICKET_B + "/transitions", {"to": "action_in_progress"}, proof=_TICKET_B
    ),
    ("POST", "/v1/tickets/{ticket_id}/actions"): hidden(
        "POST",
        _TICKET_B + "/actions",
        {"description": "x", "owner": "x", "due_at": "2030-01-01T00:00:00Z"},
        proof=_TICKET_B,
    ),
    ("PATCH", "/v1/tickets/{ticket_id}/actions/{action_id}"): hidden(
        "PATCH", _TICKET_B + "/actions/{action_b}", {"done": True}, proof=_TICKET_B
    ),
    ("POST", "/v1/tickets/{ticket_id}/comments"): hidden(
        "POST", _TICKET_B + "/comments", {"body": "from A"}, proof=_TICKET_B
    ),
    ("POST", "/v1/tickets/{ticket_id}/links"): hidden(
        "POST", _TICKET_B + "/links", {"url": "https://example.com/a"}, proof=_TICKET_B
    ),
    # Webhooks: the operators' (webhooks:admin); B's endpoint exists, A's key cannot reach it.
    ("POST", "/v1/webhooks"): forbidden(
        "POST",
        "/v1/webhooks",
        Scope.WEBHOOKS_ADMIN,
        {"url": "http://127.0.0.1:9/x", "event_types": ["ping"]},
    ),
    ("GET", "/v1/webhooks"): forbidden("GET", "/v1/webhooks", Scope.WEBHOOKS_ADMIN),
    ("GET", "/v1/webhooks/{endpoint_id}"): forbidden(
        "GET", "/v1/webhooks/{webhook_b}", Scope.WEBHOOKS_ADMIN
    ),
    ("PATCH", "/v1/webhooks/{endpoint_id}"): forbidden(
        "PATCH", "/v1/webhooks/{webhook_b}", Scope.WEBHOOKS_ADMIN, {"description": "x"}
    ),
    ("DELETE", "/v1/webhooks/{endpoint_id}"): forbidden(
        "DELETE", "/v1/webhooks/{webhook_b}", Scope.WEBHOOKS_ADMIN
    ),
    ("POST", "/v1/webhooks/{endpoint_id}/rotate-secret"): forbidden(
        "POST", "/v1/webhooks/{webhook_b}/rotate-secret", Scope.WEBHOOKS_ADMIN
    ),
    ("POST", "/v1/webhooks/{endpoint_id}/ping"): forbidden(
        "POST", "/v1/webhooks/{webhook_b}/ping", Scope.WEBHOOKS_ADMIN
    ),
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): forbidden(
        "GET", "/v1/webhooks/{webhook_b}/deliveries", Scope.WEBHOOKS_ADMIN
    ),
    # No delivery of B's endpoint is made (it is never pinged): the scope check comes first.
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): forbidden(
        "POST", "/v1/webhooks/deliveries/1/redeliver", Scope.WEBHOOKS_ADMIN
    ),
    # Activity records: an enterprise key works its own; B's are 404 and stay as they were.
    ("POST", "/v1/activity-records"): named_other_tenant_write,
    ("GET", "/v1/activity-records"): filtered(
        "/v1/activity-records", "items", "record_id", "{activity_a}", "{activity_b}"
    ),
    ("GET", "/v1/activity-records/{record_id}"): hidden("GET", _ACTIVITY_B),
    ("POST", "/v1/activity-records/{record_id}/transitions"): hidden(
        "POST", _ACTIVITY_B + "/transitions", {"to": "confirmed"}, proof=_ACTIVITY_B
    ),
    ("POST", "/v1/activity-records/{record_id}/corrections"): hidden(
        "POST",
        _ACTIVITY_B + "/corrections",
        {k: v for k, v in activity_body(ENTERPRISE_B).items() if k != "enterprise_id"}
        | {"reason": "from A", "quantity": 9.0},
        proof=_ACTIVITY_B,
    ),
    ("PUT", "/v1/activity-records/{record_id}/evidence"): evidence_of_b_hidden,
    ("POST", "/v1/activity-records/uploads"): upload_for_b_refused,
    # Objectives, measures and their M&V: an enterprise key works its own; B's are 404.
    ("POST", "/v1/objectives"): objective_for_b_refused,
    ("GET", "/v1/objectives"): filtered(
        "/v1/objectives", "items", "record_id", "{objective_a}", "{objective_b}"
    ),
    ("GET", "/v1/objectives/{record_id}"): hidden("GET", _OBJECTIVE_B),
    ("PATCH", "/v1/objectives/{record_id}"): hidden(
        "PATCH", _OBJECTIVE_B, {"status": "withdrawn"}, proof=_OBJECTIVE_B
    ),
    ("POST", "/v1/measures"): measure_for_b_refused,
    ("GET", "/v1/measures"): filtered(
        "/v1/measures", "items", "record_id", "{measure_a}", "{measure_b}"
    ),
    ("GET", "/v1/measures/ranking"): ranking_of_b_hidden,
    ("GET", "/v1/measures/{measure_id}"): hidden("GET", _MEASURE_B),
    ("PATCH", "/v1/measures/{measure_id}"): hidden(
        "PATCH", _MEASURE_B, {"title": "from A"}, proof=_MEASURE_B
    ),
    ("POST", "/v1/measures/{measure_id}/transitions"): hidden(
        "POST", _MEASURE_B + "/transitions", {"to": "approved"}, proof=_MEASURE_B
    ),
    ("POST", "/v1/measures/{measure_id}/verifications"): hidden(
        "POST",
        _MEASURE_B + "/verifications",
        {"period_start": "2026-01-01", "period_end": "2026-01-02"},
        proof=_MEASURE_B,
    ),
    ("GET", "/v1/measures/{measure_id}/verifications"): hidden(
        "GET", _MEASURE_B + "/verifications"
    ),
    # The calibration log: written by admins; read for the key's own meters only.
    ("POST", "/v1/meters/{meter_id}/calibrations"): forbidden(
        "POST", "/v1/meters/{meter_b}/calibrations", _W, {}
    ),
    ("GET", "/v1/meters/{meter_id}/calibrations"): hidden(
        "GET", "/v1/meters/{meter_b}/calibrations"
    ),
    ("GET", "/v1/calibrations"): filtered(
        "/v1/calibrations", "items", "event_id", "{calibration_a}", "{calibration_b}"
    ),
    # Their XLSX sheets: A's export leaves B's records out; A's sheet cannot reach B's.
    ("GET", "/v1/objectives/export"): register_export_of_b_hidden(
        "/v1/objectives/export", "{objective_a}", "{objective_b}"
    ),
    ("POST", "/v1/objectives/import"): register_import_for_b_refused(
        "/v1/objectives", "{objective_b}", objective_body(ENTERPRISE_B, 1), missing="objective"
    ),
    ("GET", "/v1/measures/export"): register_export_of_b_hidden(
        "/v1/measures/export", "{measure_a}", "{measure_b}"
    ),
    ("POST", "/v1/measures/import"): register_import_for_b_refused(
        "/v1/measures", "{measure_b}", measure_body(ENTERPRISE_B), missing="measure"
    ),
    ("GET", "/v1/calibrations/export"): register_export_of_b_hidden(
        "/v1/calibrations/export", "{calibration_a}", "{calibration_b}"
    ),
    ("POST", "/v1/calibrations/import"): forbidden("POST", "/v1/calibrations/import", _W),
    # Registers of the management system: an enterprise key keeps its own enterprise's records.
    **register_cases("/v1/context-issues", "{issue_a}", "{issue_b}", issue_body),
    **register_cases("/v1/interested-parties", "{party_a}", "{party_b}", party_body),
    # Management reviews (9.5): an enterprise key keeps its own enterprise's.
    ("POST", "/v1/management-reviews"): review_for_b_refused,
    ("GET", "/v1/management-reviews"): filtered(
        "/v1/management-reviews", "items", "review_id", "{review_a}", "{review_b}"
    ),
    ("GET", "/v1/management-reviews/{review_id}"): hidden("GET", _REVIEW_B),
    ("PUT", "/v1/management-reviews/{review_id}"): hidden(
        "PUT",
        _REVIEW_B,
        {k: v for k, v in review_body(ENTERPRISE_B).items() if k != "enterprise_id"}
        | {"chair": "A"},
        proof=_REVIEW_B,
    ),
    ("POST", "/v1/management-reviews/{review_id}/refresh"): hidden(
        "POST", _REVIEW_B + "/refresh", proof=_REVIEW_B
    ),
    ("POST", "/v1/management-reviews/{review_id}/close"): hidden(
        "POST", _REVIEW_B + "/close", proof=_REVIEW_B
    ),
    # The management system as a whole: the document set and the open items, A's own only.
    ("GET", "/v1/management-system/documented-information"): documented_information_of_b_left_out,
    ("GET", "/v1/management-system/open-items"): open_items_of_b_left_out,
    # Controlled documents (5.2, 7.3): an enterprise key works its own; B's are 404.
    ("POST", "/v1/documents"): written_for_b("/v1/documents", document_body(ENTERPRISE_B, "x")),
    ("GET", "/v1/documents"): filtered(
        "/v1/documents", "items", "document_id", "{document_a}", "{document_b}"
    ),
    ("GET", "/v1/documents/{document_id}"): hidden("GET", _DOCUMENT_B),
    ("POST", "/v1/documents/{document_id}/versions"): hidden(
        "POST",
        _DOCUMENT_B + "/versions",
        {k: v for k, v in document_body(ENTERPRISE_B, "x").items() if k in _VERSION_FIELDS},
        proof=_DOCUMENT_B,
    ),
    ("PUT", "/v1/documents/{document_id}/versions/{version}/file"): document_file_of_b_hidden,
    ("GET", "/v1/documents/{document_id}/versions/{version}/file"): hidden(
        "GET", _DOCUMENT_B + "/versions/1/file", proof=_DOCUMENT_B
    ),
    ("POST", "/v1/documents/{document_id}/versions/{version}/transitions"): hidden(
        "POST",
        _DOCUMENT_B + "/versions/1/transitions",
        {"to": "withdrawn", "reason": "from A"},
        proof=_DOCUMENT_B,
    ),
    # Training records (7.2).
    ("POST", "/v1/training-records/requirements"): written_for_b(
        _TRAINING + "/requirements", _ROLE | {"enterprise_id": ENTERPRISE_B}
    ),
    ("GET", "/v1/training-records/requirements"): filtered(
        _TRAINING + "/requirements",
        "items",
        "requirement_id",
        "{requirement_a}",
        "{requirement_b}",
    ),
    ("POST", "/v1/training-records/role-holders"): written_for_b(
        _TRAINING + "/role-holders", {"enterprise_id": ENTERPRISE_B, "person": "p", "role": "r"}
    ),
    ("GET", "/v1/training-records/role-holders"): filtered(
        _TRAINING + "/role-holders", "items", "holder_id", "{holder_a}", "{holder_b}"
    ),
    ("POST", "/v1/training-records/events"): written_for_b(
        _TRAINING + "/events", _EVENT | {"enterprise_id": ENTERPRISE_B}
    ),
    ("GET", "/v1/training-records/events"): filtered(
        _TRAINING + "/events", "items", "event_id", "{event_a}", "{event_b}"
    ),
    ("GET", "/v1/training-records/events/{event_id}"): hidden("GET", _EVENT_B),
    ("POST", "/v1/training-records/events/{event_id}/attendance"): hidden(
        "POST",
        _EVENT_B + "/attendance",
        {"person": "from A", "role": "r", "result": "not_evaluated"},
        proof=_EVENT_B,
    ),
    ("GET", "/v1/training-records/gaps"): gaps_of_b_hidden,
    # Risks and opportunities (6.1) and project screenings (6.3.5).
    ("POST", "/v1/risks"): written_for_b("/v1/risks", risk_body(ENTERPRISE_B)),
    ("GET", "/v1/risks"): filtered("/v1/risks", "items", "risk_id", "{risk_a}", "{risk_b}"),
    ("GET", "/v1/risks/{risk_id}"): hidden("GET", _RISK_B),
    ("PATCH", "/v1/risks/{risk_id}"): hidden("PATCH", _RISK_B, {"likelihood": 5}),
    ("POST", "/v1/risks/{risk_id}/actions"): hidden(
        "POST", _RISK_B + "/actions", _ACTION, proof=_RISK_B
    ),
    ("POST", "/v1/risks/{risk_id}/actions/{action_id}/reviews"): hidden(
        "POST",
        _RISK_B + "/actions/{risk_action_b}/reviews",
        {"reviewed_on": "2026-03-02", "effective": True, "note": "from A"},
        proof=_RISK_B,
    ),
    ("POST", "/v1/risks/screenings"): written_for_b(
        "/v1/risks/screenings", screening_body(ENTERPRISE_B)
    ),
    ("GET", "/v1/risks/screenings"): filtered(
        "/v1/risks/screenings", "items", "screening_id", "{screening_a}", "{screening_b}"
    ),
    ("GET", "/v1/risks/screenings/{screening_id}"): hidden("GET", _SCREENING_B),
    ("POST", "/v1/risks/screenings/{screening_id}/decision"): hidden(
        "POST",
        _SCREENING_B + "/decision",
        {
            "decision": "refuse",
            "reason": "r",
            "decided_by": "A",
            "decided_at": "2026-01-01T00:00:00Z",
        },
        proof=_SCREENING_B,
    ),
    # The sheets of the documents, training and risk registers (their own tables).
    **{
        key: check
        for path, (name, row) in _SHEET_ROWS.items()
        for key, check in sheet_cases(path, f"{{{name}_a}}", f"{{{name}_b}}", row).items()
    },
    **register_cases("/v1/obligations", "{obligation_a}", "{obligation_b}", obligation_body),
    # The bodies name an obligation or audit by a placeholder id: B's record is refused before
    # its references are looked at.
    **register_cases(
        "/v1/compliance-evaluations",
        "{evaluation_a}",
        "{evaluation_b}",
        evaluation_body,
        marker="evaluator",
    ),
    ("PUT", "/v1/compliance-evaluations/{record_id}/evidence"): hidden(
        "PUT", _EVALUATION_B + "/evidence", proof=_EVALUATION_B
    ),
    ("GET", "/v1/compliance-evaluations/{record_id}/evidence"): hidden(
        "GET", _EVALUATION_B + "/evidence", proof=_EVALUATION_B
    ),
    **register_cases("/v1/internal-audits", "{audit_a}", "{audit_b}", audit_body, marker="title"),
    ("GET", "/v1/internal-audits/programme/{programme_year}"): filtered(
        "/v1/internal-audits/programme/2031", "audits", "record_id", "{audit_a}", "{audit_b}"
    ),
    ("PUT", "/v1/internal-audits/{record_id}/report"): hidden(
        "PUT", _AUDIT_B + "/report", proof=_AUDIT_B
    ),
    ("GET", "/v1/internal-audits/{record_id}/report"): hidden(
        "GET", _AUDIT_B + "/report", proof=_AUDIT_B
    ),
    **register_cases(
        "/v1/audit-findings", "{finding_a}", "{finding_b}", finding_body, marker="title"
    ),
    # The live page's context (parks and enterprises the key sees).
    ("GET", "/page/context"): page_context_of_b_hidden,
    # The live feed and the reports.
    ("GET", "/v1/live"): live_of_b_hidden,
    ("GET", "/v1/reports/inventory"): named_other_tenant(
        "/v1/reports/inventory", "enterprise", period="2025"
    ),
    ("GET", "/v1/reports/review"): named_other_tenant(
        "/v1/reports/review", "enterprise", period="2025"
    ),
    # Stored inventories: an enterprise key's own enterprise's only, never the park's.
    ("POST", "/v1/inventories"): inventory_for_b_hidden,
    ("GET", "/v1/inventories"): inventories_of_b_and_park_left_out,
    ("GET", "/v1/inventories/{inventory_id}"): inventory_of_b_hidden,
}


def test_every_route_has_a_tenancy_case_and_every_case_a_route() -> None:
    missing = sorted(set(ROUTES) - set(CASES))
    stale = sorted(set(CASES) - set(ROUTES))
    assert not missing, f"routes without a tenancy case (add one to CASES): {missing}"
    assert not stale, f"cases for routes the app no longer has: {stale}"


@pytest.fixture(scope="module")
async def world(api_server: ApiServer, admin: httpx.AsyncClient, make_key: MakeKey) -> World:
    return await build_world(api_server, admin, make_key)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_an_enterprise_key_sees_only_its_own_enterprise(
    method: str,
    path: str,
    world: World,
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
) -> None:
    case = CASES.get((method, path))
    assert case is not None, f"{method} {path} has no tenancy case in CASES"
    await case(world, Clients(admin=admin, a=tenant_a, server=api_server))
