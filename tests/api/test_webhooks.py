"""Webhooks to duty staff against the real API server, database and real HTTP receivers on
127.0.0.1: subscriptions, Standard Webhooks signatures and rotation, the transactional outbox,
retries with backoff, 410 Gone, the delivery log, redelivery and target checks.

The test server runs with webhook_allow_private_targets=True (receivers live on loopback) and
backoff 0.2 s doubling to at most 2 s. Other tests share the database, so every event carries a
marker of its test and receivers' requests are filtered by it; endpoints are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from psycopg import AsyncConnection, Rollback

from api.webhooks import outbox
from tests.api.conftest import ENTERPRISE_A, ENTERPRISE_B, ApiServer
from tests.api.test_webhooks_receiver import Received, Receiver, verify

pytestmark = pytest.mark.integration

Json = dict[str, Any]
MakeEndpoint = Callable[..., Awaitable[Json]]
MakeReceiver = Callable[..., Awaitable[Receiver]]
Enqueue = Callable[..., Awaitable[None]]


@pytest.fixture
async def receiver() -> AsyncIterator[MakeReceiver]:
    started: list[Receiver] = []

    async def make(**kw: Any) -> Receiver:
        started.append(await Receiver(**kw).start())
        return started[-1]

    yield make
    for r in started:
        await r.stop()


@pytest.fixture
async def endpoint(admin: httpx.AsyncClient) -> AsyncIterator[MakeEndpoint]:
    """Creates endpoints through the API; deletes them (and their deliveries) afterwards."""
    created: list[str] = []

    async def make(url: str, event_types: list[str] | None = None, **kw: Any) -> Json:
        body = {"url": url, "event_types": event_types or ["alert.opened"], **kw}
        response = await admin.post("/v1/webhooks", json=body)
        assert response.status_code == 201, response.text
        out: Json = response.json()
        created.append(out["endpoint_id"])
        return out

    yield make
    for endpoint_id in created:
        await admin.delete(f"/v1/webhooks/{endpoint_id}")


@pytest.fixture
def enqueue(api_server: ApiServer) -> Enqueue:
    """Enqueue an event the way alerts and tickets code does: inside its own transaction."""

    async def put(
        event_type: str, payload: Json, *, enterprise_id: str | None = None, commit: bool = True
    ) -> None:
        conn = await AsyncConnection.connect(api_server.database_url, autocommit=True)
        async with conn, conn.transaction():
            await conn.execute("SELECT 1")  # stands for the caller's own change
            await outbox.enqueue(
                conn, event_type=event_type, payload=payload, enterprise_id=enterprise_id
            )
            if not commit:
                raise Rollback()

    return put


def _marked(received: list[Received], marker: str) -> list[Received]:
    return [r for r in received if marker.encode() in r.body]


async def _deliveries(admin: httpx.AsyncClient, endpoint_id: str, **params: Any) -> list[Json]:
    response = await admin.get(f"/v1/webhooks/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    out: list[Json] = response.json()
    return out


async def _until(
    check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy, at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not reached within {timeout_s} s"
        await asyncio.sleep(0.1)


async def test_an_endpoint_shows_its_whsec_secret_only_when_created(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver()
    created = await endpoint(r.url, ["alert.opened", "ticket.overdue"], description="duty")
    assert created["secret"].startswith("whsec_")
    assert created["endpoint_id"].startswith("ep_") and created["enabled"] is True
    assert created["event_types"] == ["alert.opened", "ticket.overdue"]
    assert created["created_by"].startswith("key:")
    shown = (await admin.get(f"/v1/webhooks/{created['endpoint_id']}")).json()
    assert "secret" not in shown and shown["url"] == r.url
    listed = (await admin.get("/v1/webhooks")).json()
    assert [e for e in listed if e["endpoint_id"] == created["endpoint_id"]] == [shown]
    assert all("secret" not in e for e in listed)


async def test_a_committed_event_is_delivered_signed_and_a_rolled_back_one_never_is(
    admin: httpx.AsyncClient,
    endpoint: MakeEndpoint,
    receiver: MakeReceiver,
    enqueue: Enqueue,
    unique: str,
    api_server: ApiServer,
) -> None:
    r = await receiver()
    ep = await endpoint(r.url, ["alert.opened"])
    await enqueue("alert.opened", {"alert_id": f"rolled-back-{unique}"}, commit=False)
    await enqueue("alert.opened", {"alert_id": f"committed-{unique}", "tco2e": 1.5})
    (got,) = await _until(
        lambda: asyncio.sleep(0, _marked(r.received, f"committed-{unique}")), what="delivery"
    )
    assert verify(got, [ep["secret"]])
    assert got.path == "/hooks/duty"
    assert got.headers["content-type"] == "application/json"
    assert got.webhook_id.startswith("msg_")
    body = orjson.loads(got.body)
    assert body["type"] == "alert.opened"
    data = body["data"]
    assert (data.pop("summary_lang"), bool(data.pop("summary"))) == ("zh-CN", True)
    assert data == {"alert_id": f"committed-{unique}", "tco2e": 1.5}
    assert body["timestamp"].endswith("Z")
    # The rolled-back event left nothing behind: no message, no delivery, no request (the
    # dispatcher sends only stored messages, so none can come later).
    async with await AsyncConnection.connect(api_server.database_url) as c:
        cur = await c.execute(
            "SELECT count(*) FROM webhook_message WHERE body LIKE %s", (f"%rolled-back-{unique}%",)
        )
        assert await cur.fetchone() == (0,)
    (delivery,) = await _deliveries(admin, ep["endpoint_id"])
    assert delivery["status"] == "delivered" and delivery["message_id"] == got.webhook_id
    assert _marked(r.received, f"rolled-back-{unique}") == []


async def test_an_alert_carries_a_summary_in_the_parks_language_with_its_local_time(
    endpoint: MakeEndpoint,
    receiver: MakeReceiver,
    enqueue: Enqueue,
    unique: str,
    api_server: ApiServer,
) -> None:
    park_id, enterprise_id = f"sp-{unique}", f"se-{unique}"
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'Summary park', "
            "'Asia/Shanghai')",
            (park_id,),
        )
        await c.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, 'Works')",
            (enterprise_id, park_id),
        )
    r = await receiver()
    await endpoint(r.url, ["alert.opened"])
    alert = {
        "alert_id": f"summary-{unique}",
        "rule": "COMPLETENESS_LOW",
        "subject_kind": "meter",
        "subject_id": f"m-{unique}",
        "measured": 0.5,
        "expected": 0.95,
        "unit": "fraction",
        "window_start": "2026-12-04T06:00:00+00:00",
        "cause": "data_missing",
    }
    await enqueue("alert.opened", {"alert": alert, "ticket_id": 7}, enterprise_id=enterprise_id)
    (got,) = await _until(
        lambda: asyncio.sleep(0, _marked(r.received, f"summary-{unique}")), what="delivery"
    )
    data = orjson.loads(got.body)["data"]
    assert data["summary_lang"] == "zh-CN"  # the park has no language setting: zh-CN
    assert data["summary"] == (
        f"告警：数据完整性低于下限，能源计量器具 m-{unique}：测量值 50.0%，预期 95.0%"
        "（窗口起始 2026年12月4日 14:00）；可能原因：数据缺失。工单 #7"
    )
    assert data["alert"] == alert  # the fields for programs are untouched


async def test_an_enterprise_endpoint_gets_only_its_enterprises_events_a_park_one_gets_all(
    admin: httpx.AsyncClient,
    endpoint: MakeEndpoint,
    receiver: MakeReceiver,
    enqueue: Enqueue,
    unique: str,
) -> None:
    own, park = await receiver(), await receiver()
    own_ep = await endpoint(own.url, ["ticket.transitioned"], enterprise_id=ENTERPRISE_A)
    park_ep = await endpoint(park.url, ["ticket.transitioned"])
    for ent in (ENTERPRISE_A, ENTERPRISE_B, None):
        await enqueue("ticket.transitioned", {"m": f"{unique}-{ent}"}, enterprise_id=ent)
    await enqueue("alert.opened", {"m": f"{unique}-other-type"}, enterprise_id=ENTERPRISE_A)

    async def settled() -> bool:
        # Deliveries are made when an event is stored: once every one is delivered, nothing
        # else can arrive at these receivers.
        both = [await _deliveries(admin, e["endpoint_id"]) for e in (own_ep, park_ep)]
        return [len(d) for d in both] == [1, 3] and all(
            x["status"] == "delivered" for d in both for x in d
        )

    await _until(settled, what="every delivery made")
    assert sorted(orjson.loads(r.body)["data"]["m"] for r in _marked(park.received, unique)) == [
        f"{unique}-None",
        f"{unique}-{ENTERPRISE_A}",
        f"{unique}-{ENTERPRISE_B}",
    ]
    assert [orjson.loads(r.body)["data"]["m"] for r in _marked(own.received, unique)] == [
        f"{unique}-{ENTERPRISE_A}"
    ]


async def test_during_a_rotation_a_receiver_verifies_with_either_secret(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver, api_server: ApiServer
) -> None:
    r = await receiver()
    ep = await endpoint(r.url, ["ping"])
    path = f"/v1/webhooks/{ep['endpoint_id']}"
    rotated = await admin.post(f"{path}/rotate-secret", json={"grace_period_s": 3600})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["secret"] != ep["secret"] and second["previous_secret_valid_until"]
    assert (await admin.post(f"{path}/ping")).status_code == 202
    (during,) = await r.wait_for(1)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(during, [ep["secret"]])  # a receiver still on the old secret
    assert verify(during, [second["secret"]])  # a receiver already on the new one
    # Rotating with no grace: only the newest secret signs.
    third = (await admin.post(f"{path}/rotate-secret", json={"grace_period_s": 0})).json()
    assert third["previous_secret_valid_until"] is None
    assert (await admin.post(f"{path}/ping")).status_code == 202
    _, after = await r.wait_for(2)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(after, [third["secret"]])
    assert not verify(after, [ep["secret"], second["secret"]])
    # Clause 7.3: each change is in the audit log, never with a secret in it.
    async with await AsyncConnection.connect(api_server.database_url) as c:
        cur = await c.execute(
            "SELECT action, coalesce(before::text, '') || coalesce(after::text, '')"
            " FROM audit_log WHERE entity = 'webhook_endpoint' AND entity_id = %s ORDER BY id",
            (ep["endpoint_id"],),
        )
        logged = await cur.fetchall()
    assert [action for action, _ in logged] == ["create", "rotate_secret", "rotate_secret"]
    assert not any("whsec_" in text for _, text in logged)


async def test_a_receiver_failing_three_times_gets_the_event_once_within_doubling_delays(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver(statuses=[500, 503, 502])
    ep = await endpoint(r.url, ["ping"])
    assert (await admin.post(f"/v1/webhooks/{ep['endpoint_id']}/ping")).status_code == 202

    async def delivered() -> list[Json]:
        found = await _deliveries(admin, ep["endpoint_id"], status="delivered")
        return found

    (delivery,) = await _until(delivered, what="delivered after retries")
    requests = await r.wait_for(4)
    assert len(r.received) == 4  # one answered 2xx: the event arrived exactly once
    assert {q.webhook_id for q in requests} == {delivery["message_id"]}
    assert all(verify(q, [ep["secret"]]) for q in requests)
    assert len({q.body for q in requests}) == 1  # the same bytes every time
    log = delivery["attempt_log"]
    assert [a["attempt_no"] for a in log] == [1, 2, 3, 4]
    assert [a["outcome"] for a in log] == ["http_error"] * 3 + ["delivered"]
    assert [a["response_status"] for a in log] == [500, 503, 502, 200]
    assert log[0]["response_excerpt"] == "receiver answer 500"
    assert all(a["latency_ms"] > 0 for a in log) and delivery["attempts"] == 4
    # Full jitter: the n-th delay is drawn from [0, 0.2 * 2**(n-1)] s, so the ceiling doubles.
    delays = [a["retry_in_s"] for a in log[:3]]
    for delay, ceiling in zip(delays, [0.2, 0.4, 0.8], strict=True):
        assert 0 <= delay <= ceiling
    assert log[3]["retry_in_s"] is None
    # The receiver saw each retry no sooner than its chosen delay (clock slack 50 ms).
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert all(gap >= delay - 0.05 for gap, delay in zip(gaps, delays, strict=True))
    metrics = (await admin.get("/metrics")).text
    assert 'parkcarbon_api_webhook_deliveries_total{outcome="http_error"}' in metrics


async def test_a_receiver_down_then_up_gets_the_event_after_network_errors(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver()
    await r.stop()  # keep its port: nothing listens there for now
    ep = await endpoint(r.url, ["ping"])
    assert (await admin.post(f"/v1/webhooks/{ep['endpoint_id']}/ping")).status_code == 202

    async def two_failures() -> bool:
        (d,) = await _deliveries(admin, ep["endpoint_id"])
        return len(d["attempt_log"]) >= 2

    await _until(two_failures, what="two failed attempts")
    await r.start()
    (delivery,) = await _until(
        lambda: _deliveries(admin, ep["endpoint_id"], status="delivered"), what="delivery"
    )
    outcomes = [a["outcome"] for a in delivery["attempt_log"]]
    assert outcomes[-1] == "delivered" and set(outcomes[:-1]) == {"network_error"}
    assert all(a["error"] for a in delivery["attempt_log"][:-1])
    assert [q.webhook_id for q in r.received] == [delivery["message_id"]]


async def test_410_gone_disables_the_endpoint_until_it_is_enabled_again(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver(statuses=[410])
    ep = await endpoint(r.url, ["ping"])
    path = f"/v1/webhooks/{ep['endpoint_id']}"
    assert (await admin.post(f"{path}/ping")).status_code == 202

    async def disabled() -> Json | None:
        shown: Json = (await admin.get(path)).json()
        return None if shown["enabled"] else shown

    shown = await _until(disabled, what="endpoint disabled")
    assert "410 Gone" in shown["disabled_reason"] and shown["disabled_at"]
    (delivery,) = await _deliveries(admin, ep["endpoint_id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    assert delivery["attempt_log"][0]["outcome"] == "gone"
    refused = await admin.post(f"{path}/ping")
    assert refused.status_code == 409 and "disabled" in refused.json()["detail"]
    enabled = await admin.patch(path, json={"enabled": True})
    assert enabled.status_code == 200 and enabled.json()["disabled_reason"] is None
    assert (await admin.post(f"{path}/ping")).status_code == 202
    await _until(lambda: _deliveries(admin, ep["endpoint_id"], status="delivered"))
    assert len(r.received) == 2


async def test_redelivery_sends_the_same_webhook_id_and_body_again(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver()
    ep = await endpoint(r.url, ["ping"])
    first = (await admin.post(f"/v1/webhooks/{ep['endpoint_id']}/ping")).json()
    assert first["status"] == "pending" and first["event_type"] == "ping"
    await r.wait_for(1)
    await _until(lambda: _deliveries(admin, ep["endpoint_id"], status="delivered"))
    again = await admin.post(f"/v1/webhooks/deliveries/{first['delivery_id']}/redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["redelivery_of"] == first["delivery_id"]
    assert again.json()["message_id"] == first["message_id"]
    original, repeated = await r.wait_for(2)
    assert original.webhook_id == repeated.webhook_id == first["message_id"]
    assert original.body == repeated.body and verify(repeated, [ep["secret"]])

    async def both_delivered() -> list[Json] | None:
        found = await _deliveries(admin, ep["endpoint_id"], status="delivered")
        return found if len(found) == 2 else None

    newest, oldest = await _until(both_delivered, what="the redelivery delivered")
    assert newest["delivery_id"] > oldest["delivery_id"]
    page = await _deliveries(admin, ep["endpoint_id"], limit=1, before=newest["delivery_id"])
    assert [d["delivery_id"] for d in page] == [oldest["delivery_id"]]


async def test_redelivering_an_unknown_or_malformed_delivery_id_is_404_or_422(
    admin: httpx.AsyncClient,
) -> None:
    missing = await admin.post("/v1/webhooks/deliveries/9223372036854775807/redeliver")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    for bad in ("abc", "0", "9223372036854775808"):
        response = await admin.post(f"/v1/webhooks/deliveries/{bad}/redeliver")
        assert response.status_code == 422, (bad, response.text)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
        ("http://169.254.10.20:8080/hook", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
        ("http://0.0.0.0:8080/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("ftp://127.0.0.1/hook", "http or https"),
        ("http://duty:pw@127.0.0.1/hook", "credentials"),
        ("http://hooks.parkcarbon.invalid/hook", "cannot resolve"),
    ],
)
async def test_forbidden_targets_are_refused_with_422_even_with_private_targets_allowed(
    admin: httpx.AsyncClient, url: str, reason: str
) -> None:
    response = await admin.post("/v1/webhooks", json={"url": url, "event_types": ["ping"]})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


async def test_changing_the_url_to_a_forbidden_target_is_422_and_changes_nothing(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver()
    ep = await endpoint(r.url, ["ping"])
    path = f"/v1/webhooks/{ep['endpoint_id']}"
    response = await admin.patch(path, json={"url": "http://169.254.169.254/"})
    assert response.status_code == 422 and "cloud metadata" in response.json()["detail"]
    assert (await admin.get(path)).json()["url"] == r.url


async def test_the_target_is_checked_again_at_delivery_time(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver, api_server: ApiServer
) -> None:
    r = await receiver()
    ep = await endpoint(r.url, ["ping"])
    # As if the host's DNS now pointed at the metadata service: the stored URL changes under us.
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
        await c.execute(
            "UPDATE webhook_endpoint SET url = 'http://169.254.169.254/latest/meta-data/'"
            " WHERE endpoint_id = %s",
            (ep["endpoint_id"],),
        )
    assert (await admin.post(f"/v1/webhooks/{ep['endpoint_id']}/ping")).status_code == 202

    async def attempted() -> list[Json]:
        (d,) = await _deliveries(admin, ep["endpoint_id"])
        attempts: list[Json] = d["attempt_log"]
        return attempts

    first, *_ = await _until(attempted, what="an attempt")
    assert first["outcome"] == "target_refused" and "cloud metadata" in first["error"]
    assert first["response_status"] is None
    assert r.received == []


async def test_webhook_routes_need_the_webhooks_admin_scope(
    auditor: httpx.AsyncClient,
    tenant_a: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    operator: httpx.AsyncClient,
    endpoint: MakeEndpoint,
    receiver: MakeReceiver,
) -> None:
    r = await receiver()
    ep_id = (await endpoint(r.url, ["ping"]))["endpoint_id"]
    routes = [
        ("POST", "/v1/webhooks", {"url": r.url, "event_types": ["ping"]}),
        ("GET", "/v1/webhooks", None),
        ("GET", f"/v1/webhooks/{ep_id}", None),
        ("PATCH", f"/v1/webhooks/{ep_id}", {"description": "x"}),
        ("DELETE", f"/v1/webhooks/{ep_id}", None),
        ("POST", f"/v1/webhooks/{ep_id}/rotate-secret", {}),
        ("POST", f"/v1/webhooks/{ep_id}/ping", None),
        ("GET", f"/v1/webhooks/{ep_id}/deliveries", None),
        ("POST", "/v1/webhooks/deliveries/1/redeliver", None),
    ]
    for method, url, body in routes:
        for client, status in ((anonymous, 401), (auditor, 403), (tenant_a, 403)):
            response = await client.request(method, url, json=body)
            assert response.status_code == status, (method, url, response.text)
            assert response.headers["content-type"] == "application/problem+json"
    assert (await operator.get(f"/v1/webhooks/{ep_id}")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/h", "event_types": ["alert.exploded"]},
        {"url": "http://127.0.0.1:9/h", "event_types": []},
        {"url": "http://127.0.0.1:9/h"},
        {"url": "http://127.0.0.1:9/h", "event_types": ["ping"], "secret": "whsec_mine"},
        {"url": "http://127.0.0.1:9/h", "event_types": ["ping"], "enterprise_id": "no-such"},
        {"url": 42, "event_types": ["ping"]},
    ],
)
async def test_malformed_subscriptions_are_422(admin: httpx.AsyncClient, body: Json) -> None:
    response = await admin.post("/v1/webhooks", json=body)
    assert response.status_code == 422, response.text


async def test_unknown_endpoints_are_404_and_bad_changes_422(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    for method in ("GET", "DELETE"):
        assert (await admin.request(method, "/v1/webhooks/ep_nope")).status_code == 404
    assert (await admin.post("/v1/webhooks/ep_nope/ping")).status_code == 404
    assert (await admin.get("/v1/webhooks/ep_nope/deliveries")).status_code == 404
    r = await receiver()
    path = f"/v1/webhooks/{(await endpoint(r.url, ['ping']))['endpoint_id']}"
    bad_changes: list[Json] = [{"enabled": "yes"}, {"event_types": []}, {"colour": "red"}]
    for body in bad_changes:
        assert (await admin.patch(path, json=body)).status_code == 422, body
    for grace in (-1, 7 * 86400 + 1, "3600"):
        rotate = await admin.post(f"{path}/rotate-secret", json={"grace_period_s": grace})
        assert rotate.status_code == 422, grace
    assert (await admin.get(f"{path}/deliveries", params={"limit": 0})).status_code == 422
    assert (await admin.get(f"{path}/deliveries", params={"status": "lost"})).status_code == 422


async def test_a_named_host_is_reached_at_its_checked_address_with_its_own_host_header(
    admin: httpx.AsyncClient, endpoint: MakeEndpoint, receiver: MakeReceiver
) -> None:
    r = await receiver()
    ep = await endpoint(f"http://localhost:{r.port}/hooks/duty", ["ping"])
    assert (await admin.post(f"/v1/webhooks/{ep['endpoint_id']}/ping")).status_code == 202
    (got,) = await r.wait_for(1)
    assert got.headers["host"] == f"localhost:{r.port}"
    assert got.headers["user-agent"] == "parkcarbon-webhooks/1"
    assert verify(got, [ep["secret"]])
