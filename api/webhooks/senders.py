"""One sender per channel kind, behind one interface: ``send(ctx, claimed) -> Attempt``.

Every sender checks its target (``targets.resolve``, again before each attempt: DNS can
change), connects only to the addresses that passed, never raises for what the network or the
receiver does, and reports an ``Attempt`` the dispatcher logs and retries like any other.

- ``standard``: Standard Webhooks 1.0.0, the signed JSON event (``signing``).
- ``wecom``: WeCom group robot ("群机器人配置说明", WeCom developer documentation): POST
  ``{"msgtype": "markdown", "markdown": {"content": ...}}`` to the robot's URL (its ``key`` is
  the credential, there is no signature); the answer ``{"errcode": 0}`` means sent.
- ``dingtalk``: DingTalk custom robot, security setting "加签" ("自定义机器人安全设置",
  DingTalk Open Platform): ``timestamp`` (ms) and ``sign`` = URL-encoded base64 of
  HMAC-SHA256 keyed with the secret over ``"{timestamp}\\n{secret}"``, both as query
  parameters; body ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; ``errcode`` 0.
- ``feishu``: Feishu/Lark custom bot, "签名校验" ("自定义机器人使用指南", Feishu Open Platform):
  ``timestamp`` (s) and ``sign`` = base64 of HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"``
  over an empty message, both in the JSON body beside ``msg_type: post``; ``code`` 0 (older
  deployments answer ``StatusCode`` 0).
- ``email``: SMTP (aiosmtplib) with STARTTLS (``smtp://``, required) or implicit TLS
  (``smtps://``), certificates verified against the host name of the URL.

Robots answer HTTP 200 with an error code in the body when they refuse a message (a bad
signature, too many messages); that is a failed attempt with the code in its error, retried.
Libraries for these robots were evaluated (dingtalkchatbot 1.5.7, last released 2022, and
apprise 2.2): they send synchronously with their own HTTP stack, which would bypass the
address pinning of ``targets`` and hide the answer the delivery log keeps, so these small
senders are our own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib
import httpx
import orjson

from api.webhooks import backoff, messages, signing, targets
from api.webhooks.deliveries import Attempt, Claimed
from api.webhooks.enums import AttemptOutcome, ChannelKind

_EXCERPT_CHARS = 500
_USER_AGENT = "parkcarbon-webhooks/1"
_HEADING = "### "  # markdown heading of robot messages


@dataclass(frozen=True, slots=True)
class SendContext:
    client: httpx.AsyncClient
    allow_private: bool
    timeout_s: float
    public_url: str  # the base of ticket links in notifications
    tls: ssl.SSLContext  # verifies SMTP servers
    now: Callable[[], datetime]  # the dispatcher's clock: signatures' timestamps


Sender = Callable[[SendContext, Claimed], Awaitable[Attempt]]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` before URL encoding: base64(HMAC-SHA256(secret, "ts\\nsecret"))."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign``: base64(HMAC-SHA256 keyed with "ts\\nsecret" over nothing)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Timer:
    def __init__(self) -> None:
        self.attempted_at = datetime.now(UTC)
        self.started = time.perf_counter()

    def done(
        self,
        outcome: AttemptOutcome,
        *,
        error: str = "",
        status: int | None = None,
        excerpt: str = "",
        retry_after_s: float | None = None,
    ) -> Attempt:
        return Attempt(
            attempted_at=self.attempted_at,
            outcome=outcome,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            response_status=status,
            error=error[:1000],
            response_excerpt=excerpt,
            retry_after_s=retry_after_s,
        )


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer, read no further than needed (a receiver may answer a lot)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= _EXCERPT_CHARS * 4:
            break
    # PostgreSQL text holds no NUL characters.
    return data.decode("utf-8", errors="replace")[:_EXCERPT_CHARS].replace("\x00", "\ufffd")


async def _post(
    client: httpx.AsyncClient, target: targets.Target, body: bytes, headers: dict[str, str]
) -> tuple[httpx.Response, str]:
    """POST to the first checked address that accepts a connection; the answer's excerpt."""
    for i, url in enumerate(target.connect_urls):
        request = client.build_request(
            "POST", url, content=body, headers=headers, extensions=dict(target.extensions)
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError:
            if i + 1 == len(target.connect_urls):
                raise
            continue  # nothing was sent: the next address may listen
        try:
            return response, await _excerpt(response)
        finally:
            await response.aclose()
    raise AssertionError("a target has at least one address")


# What a robot's answer body says: None when it accepted the message, else why not.
Verdict = Callable[[str], str | None]


def _errcode_verdict(excerpt: str) -> str | None:
    """WeCom and DingTalk: ``{"errcode": 0, "errmsg": "ok"}`` when sent."""
    answer = _json(excerpt)
    if answer is None:
        return f"not a robot's JSON answer: {excerpt[:200]!r}"
    if answer.get("errcode") == 0:
        return None
    return f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}"


def _feishu_verdict(excerpt: str) -> str | None:
    """Feishu: ``{"code": 0, "msg": "success"}`` when sent (older: ``{"StatusCode": 0}``)."""
    answer = _json(excerpt)
    if answer is None:
        return f"not a robot's JSON answer: {excerpt[:200]!r}"
    code = answer.get("code", answer.get("StatusCode"))
    if code == 0:
        return None
    return f"code {code}: {answer.get('msg', answer.get('StatusMessage', ''))}"


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


async def _http(
    ctx: SendContext,
    url: str,
    body: bytes,
    headers: dict[str, str],
    verdict: Verdict | None,
    timer: _Timer,
) -> Attempt:
    """POST ``body`` to ``url`` within the attempt's timeout and judge the answer."""
    try:
        # The whole attempt, name resolution included, stays within the timeout (and so within
        # the claim's lease); httpx's own timeout bounds each phase as well.
        async with asyncio.timeout(ctx.timeout_s):
            target = await targets.resolve(url, allow_private=ctx.allow_private)
            all_headers = {
                "host": target.host_header,
                "content-type": "application/json",
                "user-agent": _USER_AGENT,
                **headers,
            }
            response, excerpt = await _post(ctx.client, target, body, all_headers)
    except targets.TargetRefused as exc:
        return timer.done(AttemptOutcome.TARGET_REFUSED, error=str(exc))
    except targets.TargetUnresolvable as exc:
        return timer.done(AttemptOutcome.NETWORK_ERROR, error=str(exc))
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        why = str(exc) or f"no answer within {ctx.timeout_s} s"
        return timer.done(AttemptOutcome.NETWORK_ERROR, error=f"{type(exc).__name__}: {why}")
    status = response.status_code
    retry_after = backoff.parse_retry_after(response.headers.get("retry-after"))
    if 200 <= status < 300:
        refused = None if verdict is None else verdict(excerpt)
        if refused is None:
            return timer.done(AttemptOutcome.DELIVERED, status=status, excerpt=excerpt)
        return timer.done(AttemptOutcome.HTTP_ERROR, status=status, excerpt=excerpt, error=refused)
    outcome = AttemptOutcome.GONE if status == 410 else AttemptOutcome.HTTP_ERROR
    return timer.done(outcome, status=status, excerpt=excerpt, retry_after_s=retry_after)


async def send_standard(ctx: SendContext, claimed: Claimed) -> Attempt:
    """Standard Webhooks: the stored JSON event, signed with every valid ``whsec_`` secret."""
    timer = _Timer()
    body = claimed.body.encode()
    headers = signing.headers(
        claimed.secrets,
        message_id=claimed.message_id,
        timestamp=int(ctx.now().timestamp()),
        body=body,
    )
    return await _http(ctx, claimed.url, body, headers, None, timer)


def _notification(ctx: SendContext, claimed: Claimed) -> messages.Notification:
    return messages.render(claimed.body, language=claimed.language, public_url=ctx.public_url)


def markdown(note: messages.Notification) -> str:
    """The notification as robots' markdown: a heading, the lines, the ticket link."""
    lines = [_HEADING + note.title, *note.text.splitlines()]
    if note.link:
        lines.append(f"[{note.link_label}]({note.link})")
    lines.append(f"> {note.footer}")
    # Markdown of both robots needs a blank line (or two trailing spaces) to break a line.
    return "\n\n".join(lines)


async def send_wecom(ctx: SendContext, claimed: Claimed) -> Attempt:
    timer = _Timer()
    note = _notification(ctx, claimed)
    body = orjson.dumps({"msgtype": "markdown", "markdown": {"content": markdown(note)}})
    return await _http(ctx, claimed.url, body, {}, _errcode_verdict, timer)


async def send_dingtalk(ctx: SendContext, claimed: Claimed) -> Attempt:
    timer = _Timer()
    note = _notification(ctx, claimed)
    body = orjson.dumps(
        {"msgtype": "markdown", "markdown": {"title": note.title, "text": markdown(note)}}
    )
    timestamp_ms = int(ctx.now().timestamp() * 1000)
    try:
        url = str(
            targets.parse(claimed.url).copy_merge_params(
                {
                    "timestamp": str(timestamp_ms),
                    "sign": dingtalk_sign(claimed.secrets[0], timestamp_ms),
                }
            )
        )
    except targets.TargetRefused as exc:
        return timer.done(AttemptOutcome.TARGET_REFUSED, error=str(exc))
    return await _http(ctx, url, body, {}, _errcode_verdict, timer)


async def send_feishu(ctx: SendContext, claimed: Claimed) -> Attempt:
    timer = _Timer()
    note = _notification(ctx, claimed)
    timestamp_s = int(ctx.now().timestamp())
    paragraphs: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": line}] for line in note.text.splitlines()
    ]
    if note.link:
        paragraphs.append([{"tag": "a", "text": note.link_label, "href": note.link}])
    paragraphs.append([{"tag": "text", "text": note.footer}])
    locale = "en_us" if claimed.language is not None and claimed.language.value == "en" else "zh_cn"
    body = orjson.dumps(
        {
            "timestamp": str(timestamp_s),
            "sign": feishu_sign(claimed.secrets[0], timestamp_s),
            "msg_type": "post",
            "content": {"post": {locale: {"title": note.title, "content": paragraphs}}},
        }
    )
    return await _http(ctx, claimed.url, body, {}, _feishu_verdict, timer)


def email_message(ctx: SendContext, claimed: Claimed) -> EmailMessage:
    """The notification as a plain-text e-mail (UTF-8), one per delivery; its Message-ID is
    derived from the webhook id so a retried message reads as the same one."""
    note = _notification(ctx, claimed)
    config = claimed.channel_config
    message = EmailMessage()
    message["Subject"] = note.title
    message["From"] = config["sender"]
    message["To"] = ", ".join(config["recipients"])
    message["Date"] = format_datetime(ctx.now())
    domain = str(config["sender"]).rpartition("@")[2] or "parkcarbon"
    message["Message-ID"] = make_msgid(idstring=claimed.message_id, domain=domain)
    lines = [note.text]
    if note.link:
        lines.append(f"{note.link_label}: {note.link}")
    lines.append(f"-- \n{note.footer}")
    message.set_content("\n\n".join(lines), charset="utf-8")
    return message


async def _smtp_socket(target: targets.Target) -> socket.socket:
    """A connected socket to the first checked address that accepts a connection."""
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for url in target.connect_urls:
        parsed = httpx.URL(url)
        ip = parsed.host
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (ip, parsed.port or 0))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    assert last is not None
    raise last


async def send_email(ctx: SendContext, claimed: Claimed) -> Attempt:
    timer = _Timer()
    try:
        message = email_message(ctx, claimed)
        async with asyncio.timeout(ctx.timeout_s):
            target = await targets.resolve(
                claimed.url, allow_private=ctx.allow_private, schemes=targets.SMTP_SCHEMES
            )
            implicit = claimed.url.startswith("smtps:")
            sock = await _smtp_socket(target)
            smtp = aiosmtplib.SMTP(
                hostname=target.host,  # what TLS verifies; the socket is already connected
                sock=sock,
                use_tls=implicit,
                start_tls=not implicit,  # STARTTLS required: fails if the server lacks it
                tls_context=ctx.tls,
                username=claimed.channel_config.get("username"),
                password=claimed.secrets[0] if claimed.secrets else None,
                timeout=ctx.timeout_s,
            )
            async with smtp:
                refused, reply = await smtp.send_message(message)
    except targets.TargetRefused as exc:
        return timer.done(AttemptOutcome.TARGET_REFUSED, error=str(exc))
    except targets.TargetUnresolvable as exc:
        return timer.done(AttemptOutcome.NETWORK_ERROR, error=str(exc))
    except aiosmtplib.SMTPResponseException as exc:
        return timer.done(
            AttemptOutcome.HTTP_ERROR,
            status=exc.code,
            error=f"SMTP {exc.code}: {exc.message}",
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        why = str(exc) or f"no answer within {ctx.timeout_s} s"
        return timer.done(AttemptOutcome.NETWORK_ERROR, error=f"{type(exc).__name__}: {why}")
    if refused:
        # Some recipients were refused: the others have it, so it is not sent again (they
        # would get it twice); the log names who did not.
        return timer.done(
            AttemptOutcome.DELIVERED,
            excerpt=f"refused recipients: {sorted(refused)}; {reply}"[:_EXCERPT_CHARS],
        )
    return timer.done(AttemptOutcome.DELIVERED, excerpt=reply[:_EXCERPT_CHARS])


SENDERS: dict[ChannelKind, Sender] = {
    ChannelKind.STANDARD: send_standard,
    ChannelKind.WECOM: send_wecom,
    ChannelKind.DINGTALK: send_dingtalk,
    ChannelKind.FEISHU: send_feishu,
    ChannelKind.EMAIL: send_email,
}
