"""Alert channels against the real API server, database and local receivers on 127.0.0.1 that
check what the real services check (tests/api/channel_receivers.py): WeCom, DingTalk and Feishu
robots get a signed (or keyed) message in the subscription's language with a link to the
ticket; e-mail goes over STARTTLS or TLS with AUTH; a receiver's error is retried; a DingTalk
robot's 21st message within a minute waits for its slot and none is dropped.

Each test subscribes endpoints of a fresh enterprise and enqueues events of that enterprise
only, so events other tests cause never reach (or use the rate limit of) its endpoints.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from accounting.i18n import Lang, catalogue
from api.webhooks import dispatcher, outbox, senders
from tests.api.channel_receivers import RobotReceiver, SmtpReceiver
from tests.api.conftest import PARK, ApiServer, SmtpTls

pytestmark = [
    pytest.mark.integration,
    # aiosmtpd warns when AUTH is offered without STARTTLS; its implicit-TLS server is TLS
    # from the first byte, which it does not count (tests/api/channel_receivers.py).
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

Json = dict[str, Any]
DINGTALK_SECRET = "SEC0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
FEISHU_SECRET = "qR7sT9uV1wX3yZ5aB7cD9e"
# The events name tickets far beyond any real ticket id of the shared test database, so tests
# that look up a real ticket's events never find these.
TICKET_BASE = 10**12


@pytest.fixture
async def enterprise(api_server: ApiServer, unique: str) -> str:
    """A fresh enterprise of the API test park: its endpoints get only this test's events."""
    ent = f"chan-{unique}"[:64]
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, PARK, ent),
        )
    return ent


@pytest.fixture
async def channel(admin: httpx.AsyncClient) -> AsyncIterator[Callable[..., Awaitable[Json]]]:
    created: list[str] = []

    async def make(**body: Any) -> Json:
        response = await admin.post("/v1/webhooks", json={"event_types": ["alert.opened"], **body})
        assert response.status_code == 201, response.text
        out: Json = response.json()
        created.append(out["endpoint_id"])
        return out

    yield make
    for endpoint_id in created:
        await admin.delete(f"/v1/webhooks/{endpoint_id}")


async def _alert(api_server: ApiServer, enterprise: str, *, ticket_id: int, n: int = 1) -> None:
    """``n`` alert.opened events of ``enterprise``, as the alerts consumer writes them."""
    async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as conn:
        for i in range(n):
            await outbox.enqueue(
                conn,
                event_type="alert.opened",
                payload={
                    "alert": {
                        "alert_id": f"al-{enterprise}-{i}",
                        "rule": "COMPLETENESS_LOW",
                        "cause": "data_missing",
                        "subject_kind": "meter",
                        "subject_id": f"{enterprise}-meter-{i}",
                        "enterprise_id": enterprise,
                        "window_start": "2025-03-01T08:00:00Z",
                        "window_end": "2025-03-01T09:00:00Z",
                        "measured": 0.42,
                        "expected": 0.95,
                        "unit": "1",
                    },
                    "ticket_id": TICKET_BASE + ticket_id + i,
                    "ticket_opened": True,
                },
                enterprise_id=enterprise,
            )


async def _deliveries(admin: httpx.AsyncClient, endpoint_id: str) -> list[Json]:
    response = await admin.get(f"/v1/webhooks/{endpoint_id}/deliveries", params={"limit": 100})
    assert response.status_code == 200, response.text
    out: list[Json] = response.json()
    return out


async def _until(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := await check()):
        assert time.monotonic() < deadline, f"not reached within {timeout_s} s"
        await asyncio.sleep(0.1)
    return result


def _text(kind: str, body: Json) -> str:
    if kind == "feishu":
        post = body["content"]["post"]
        (lang,) = post.values()
        parts = [lang["title"]]
        for paragraph in lang["content"]:
            parts.extend(
                str(element.get("text", "")) + element.get("href", "") for element in paragraph
            )
        return "\n".join(parts)
    if kind == "dingtalk":
        return str(body["markdown"]["title"] + "\n" + body["markdown"]["text"])
    return str(body["markdown"]["content"])


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
async def test_each_robot_gets_a_signed_message_in_chinese_with_the_ticket_link(
    kind: str,
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    channel: Callable[..., Awaitable[Json]],
    enterprise: str,
) -> None:
    secret = {"wecom": None, "dingtalk": DINGTALK_SECRET, "feishu": FEISHU_SECRET}[kind]
    robot = await RobotReceiver(kind, secret=secret or "").start()
    try:
        body: Json = {"kind": kind, "url": robot.url, "enterprise_id": enterprise}
        if secret:
            body["secret"] = secret
        endpoint = await channel(**body)
        assert endpoint["kind"] == kind and endpoint["secret"] is None
        assert robot.key not in endpoint["url"]  # the robot's token is a credential
        await _alert(api_server, enterprise, ticket_id=4242)
        (got,) = await robot.wait_for(1)
        assert got.verified, got.why
        text = _text(kind, got.body)
        assert catalogue()["rule.COMPLETENESS_LOW"][Lang.ZH_CN] in text and "数据缺失" in text
        assert f"{api_server.settings.public_url}/v1/tickets/{TICKET_BASE + 4242}" in text
        (delivery,) = await _until(lambda: _delivered(admin, endpoint["endpoint_id"], 1))
        assert [a["outcome"] for a in delivery["attempt_log"]] == ["delivered"]
    finally:
        await robot.stop()


async def _delivered(admin: httpx.AsyncClient, endpoint_id: str, count: int) -> list[Json]:
    found = [d for d in await _deliveries(admin, endpoint_id) if d["status"] == "delivered"]
    return found if len(found) >= count else []


async def test_a_feishu_robot_in_english_gets_english_text(
    api_server: ApiServer, channel: Callable[..., Awaitable[Json]], enterprise: str
) -> None:
    robot = await RobotReceiver("feishu", secret=FEISHU_SECRET).start()
    try:
        await channel(
            kind="feishu",
            url=robot.url,
            secret=FEISHU_SECRET,
            enterprise_id=enterprise,
            language="en",
        )
        await _alert(api_server, enterprise, ticket_id=77)
        (got,) = await robot.wait_for(1)
        assert got.verified, got.why
        assert "en_us" in got.body["content"]["post"]
        text = _text("feishu", got.body)
        assert "Alert: Completeness below minimum" in text
        assert f"/v1/tickets/{TICKET_BASE + 77}" in text
    finally:
        await robot.stop()


async def test_a_wrong_dingtalk_secret_is_refused_by_the_robot_and_retried(
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    channel: Callable[..., Awaitable[Json]],
    enterprise: str,
) -> None:
    robot = await RobotReceiver("dingtalk", secret=DINGTALK_SECRET).start()
    try:
        endpoint = await channel(
            kind="dingtalk", url=robot.url, secret="SECnot-the-robots", enterprise_id=enterprise
        )
        await _alert(api_server, enterprise, ticket_id=1)
        first, _ = await robot.wait_for(2)
        assert not first.verified and first.why == "sign not match"
        (delivery,) = await _deliveries(admin, endpoint["endpoint_id"])
        attempt = delivery["attempt_log"][0]
        assert attempt["outcome"] == "http_error" and "errcode 310000" in attempt["error"]
        assert delivery["status"] == "pending"  # retried, not given up
    finally:
        await robot.stop()


@pytest.mark.parametrize(
    ("kind", "failure"),
    [
        ("dingtalk", {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        ("wecom", 502),
        ("feishu", {"code": 9499, "msg": "Too Many Requests"}),
    ],
)
async def test_a_robot_error_is_retried_until_the_message_is_delivered(
    kind: str,
    failure: int | Json,
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    channel: Callable[..., Awaitable[Json]],
    enterprise: str,
) -> None:
    secret = {"wecom": "", "dingtalk": DINGTALK_SECRET, "feishu": FEISHU_SECRET}[kind]
    robot = await RobotReceiver(kind, secret=secret, failures=[failure]).start()
    try:
        body: Json = {"kind": kind, "url": robot.url, "enterprise_id": enterprise}
        if secret:
            body["secret"] = secret
        endpoint = await channel(**body)
        await _alert(api_server, enterprise, ticket_id=9)
        await robot.wait_for(2)
        (delivery,) = await _until(lambda: _delivered(admin, endpoint["endpoint_id"], 1))
        outcomes = [a["outcome"] for a in delivery["attempt_log"]]
        assert outcomes == ["http_error", "delivered"]
        assert all(r.verified for r in robot.requests)  # both attempts were correctly signed
    finally:
        await robot.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
async def test_email_goes_over_tls_with_auth_to_the_recipients_in_chinese(
    implicit: bool,
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    channel: Callable[..., Awaitable[Json]],
    enterprise: str,
    smtp_tls: SmtpTls,
) -> None:
    port = _free_port()
    smtp = SmtpReceiver(
        port=port,
        cert=str(smtp_tls.server.cert),
        key=str(smtp_tls.server.key),
        user="duty-bot",
        password="mail-pass-1",
        implicit=implicit,
    )
    smtp.start()
    try:
        scheme = "smtps" if implicit else "smtp"
        endpoint = await channel(
            kind="email",
            url=f"{scheme}://127.0.0.1:{port}",
            secret="mail-pass-1",
            email={
                "sender": "alerts@park.example.cn",
                "recipients": ["duty@park.example.cn", "energy@park.example.cn"],
                "username": "duty-bot",
            },
            enterprise_id=enterprise,
        )
        assert endpoint["email"]["recipients"] == ["duty@park.example.cn", "energy@park.example.cn"]
        await _alert(api_server, enterprise, ticket_id=31)
        (mail,) = await smtp.wait_for(1)
        assert mail.tls and mail.user == "duty-bot"
        assert mail.sender == "alerts@park.example.cn"
        assert mail.recipients == ["duty@park.example.cn", "energy@park.example.cn"]
        assert (
            mail.message["Subject"] == "【告警】" + catalogue()["rule.COMPLETENESS_LOW"][Lang.ZH_CN]
        )
        content = mail.message.get_body().get_content()  # type: ignore[union-attr]
        assert "可能原因：数据缺失" in content and f"/v1/tickets/{TICKET_BASE + 31}" in content
        await _until(lambda: _delivered(admin, endpoint["endpoint_id"], 1))
    finally:
        smtp.stop()


async def test_email_refuses_a_server_without_starttls(
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    channel: Callable[..., Awaitable[Json]],
    enterprise: str,
    smtp_tls: SmtpTls,
) -> None:
    """An smtps (implicit TLS) server reached as smtp:// speaks no plain SMTP: never sent in
    clear, the attempt fails and is retried."""
    port = _free_port()
    smtp = SmtpReceiver(
        port=port,
        cert=str(smtp_tls.server.cert),
        key=str(smtp_tls.server.key),
        user="u",
        password="p",
        implicit=True,
    )
    smtp.start()
    try:
        endpoint = await channel(
            kind="email",
            url=f"smtp://127.0.0.1:{port}",
            secret="p",
            email={"sender": "a@park.example.cn", "recipients": ["b@park.example.cn"]},
            enterprise_id=enterprise,
        )
        await _alert(api_server, enterprise, ticket_id=5)

        async def failed_once() -> list[Json]:
            ds = await _deliveries(admin, endpoint["endpoint_id"])
            return [d for d in ds if d["attempt_log"]]

        (delivery,) = await _until(failed_once)
        assert delivery["attempt_log"][0]["outcome"] == "network_error"
        assert smtp.inbox == []
    finally:
        smtp.stop()


async def test_a_dingtalk_robots_21st_message_in_a_minute_waits_for_its_slot_none_dropped(
    api_server: ApiServer,
    admin: httpx.AsyncClient,
    channel: Callable[..., Awaitable[Json]],
    enterprise: str,
) -> None:
    """DingTalk allows 20 messages a minute per robot. The 21st is not sent (the robot would
    answer 130101 and throttle the robot for 10 minutes) nor dropped: it waits, without an
    attempt counted, until the first send leaves the window; the dispatcher's clock is moved
    a minute ahead instead of waiting for it."""
    robot = await RobotReceiver("dingtalk", secret=DINGTALK_SECRET).start()
    state = api_server.state
    real_clock = state.clock
    try:
        endpoint = await channel(
            kind="dingtalk", url=robot.url, secret=DINGTALK_SECRET, enterprise_id=enterprise
        )
        await _alert(api_server, enterprise, ticket_id=1000, n=21)
        await robot.wait_for(20)
        ep = endpoint["endpoint_id"]
        await _until(lambda: _delivered(admin, ep, 20))
        deliveries = await _deliveries(admin, ep)
        waiting = [d for d in deliveries if d["status"] == "pending"]
        assert len(deliveries) == 21 and len(waiting) == 1
        (late,) = waiting
        assert late["attempts"] == 0 and late["attempt_log"] == []  # delayed, not failed
        first_sent = min(
            datetime.fromisoformat(d["attempt_log"][0]["attempted_at"])
            for d in deliveries
            if d["attempt_log"]
        )
        due = datetime.fromisoformat(late["next_attempt_at"])
        assert timedelta(seconds=55) <= due - first_sent <= timedelta(seconds=65)
        # Two more dispatcher rounds, run here: the 21st is not due, so not even claimed.
        async with httpx.AsyncClient(trust_env=False) as client:
            ctx = senders.SendContext(
                client=client,
                allow_private=True,
                timeout_s=5.0,
                public_url=state.settings.public_url,
                tls=dispatcher.tls_context(None),
                now=state.clock,
            )
            for _ in range(2):
                await dispatcher.dispatch_due(state, ctx)
        assert len(robot.requests) == 20
        [still] = [d for d in await _deliveries(admin, ep) if d["status"] == "pending"]
        assert (still["delivery_id"], still["attempts"]) == (late["delivery_id"], 0)

        state.clock = lambda: datetime.now(UTC) + timedelta(seconds=61)
        await robot.wait_for(21)
        await _until(lambda: _delivered(admin, ep, 21))
        assert all(r.verified for r in robot.requests)
        tickets = {r.body["markdown"]["text"].count("/v1/tickets/") for r in robot.requests}
        assert tickets == {1}
        links = {
            line
            for r in robot.requests
            for line in r.body["markdown"]["text"].split("\n")
            if "/v1/tickets/" in line
        }
        assert len(links) == 21  # every message once, none twice
    finally:
        state.clock = real_clock
        await robot.stop()
