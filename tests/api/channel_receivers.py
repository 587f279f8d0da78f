"""Local stand-ins for the services alert channels talk to, on 127.0.0.1, each checking what
the real service checks, implemented here from the services' documentation (hmac and base64
from the standard library, never the API's senders):

- WeCom group robot ("群机器人配置说明"): the robot's ``key`` query parameter; a ``markdown``
  message of at most 4096 bytes. Answers ``{"errcode": 0, "errmsg": "ok"}``; a wrong key
  ``{"errcode": 93000, ...}``.
- DingTalk custom robot, "加签" ("自定义机器人安全设置"): query ``timestamp`` (ms, within an
  hour of now) and ``sign``, URL-decoded, must equal base64(HMAC-SHA256(key=secret,
  msg="{timestamp}\\n{secret}")). A wrong one: ``{"errcode": 310000, "errmsg": "sign not
  match"}``.
- Feishu custom bot, "签名校验" ("自定义机器人使用指南"): body ``timestamp`` (s, within an hour)
  and ``sign`` = base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg="")). A wrong one:
  ``{"code": 19021, "msg": "sign match fail ..."}``; a good one ``{"code": 0, "msg": "success"}``.
- SMTP (aiosmtpd): STARTTLS required before AUTH and MAIL, or implicit TLS; the user name and
  password checked; every accepted message kept.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ssl
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

_HOUR_S = 3600


@dataclass(frozen=True)
class RobotRequest:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    verified: bool  # the signature (or key) was right
    why: str  # what was wrong, if anything


@dataclass
class RobotReceiver:
    """A group robot of ``kind`` (wecom, dingtalk, feishu). ``failures`` scripts the first
    answers: an int is an HTTP status, a dict a 200 answer with that JSON (a service error)."""

    kind: str
    secret: str = ""
    key: str = "robot-key-0001"
    failures: list[int | dict[str, Any]] = field(default_factory=list)
    port: int = 0
    requests: list[RobotRequest] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        if self.kind == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={self.key}"
        if self.kind == "dingtalk":
            return f"{base}/robot/send?access_token={self.key}"
        return f"{base}/open-apis/bot/v2/hook/{self.key}"

    @property
    def verified(self) -> list[RobotRequest]:
        return [r for r in self.requests if r.verified]

    async def start(self) -> RobotReceiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def check(self, path: str, query: dict[str, str], body: dict[str, Any]) -> str:
        """Why the service would refuse this request ('' if it would accept it)."""
        now = time.time()
        if self.kind == "wecom":
            if query.get("key") != self.key:
                return "invalid webhook url (key)"
            content = body.get("markdown", {}).get("content", "")
            if body.get("msgtype") != "markdown" or not content:
                return "not a markdown message"
            if len(content.encode()) > 4096:
                return "content exceeds 4096 bytes"
            return ""
        if self.kind == "dingtalk":
            if query.get("access_token") != self.key:
                return "token is not exist"
            ts = query.get("timestamp", "")
            if not ts.isdigit() or abs(now * 1000 - int(ts)) > _HOUR_S * 1000:
                return "invalid timestamp"
            expected = base64.b64encode(
                hmac.new(
                    self.secret.encode("utf-8"),
                    f"{ts}\n{self.secret}".encode(),
                    hashlib.sha256,
                ).digest()
            ).decode()
            if not hmac.compare_digest(query.get("sign", ""), expected):
                return "sign not match"
            if body.get("msgtype") != "markdown" or not body["markdown"].get("title"):
                return "not a markdown message with a title"
            return ""
        # feishu
        if not path.endswith("/" + self.key):
            return "hook id not found"
        ts = str(body.get("timestamp", ""))
        if not ts.isdigit() or abs(now - int(ts)) > _HOUR_S:
            return "timestamp is not within one hour from current time"
        string_to_sign = f"{ts}\n{self.secret}".encode()
        expected = base64.b64encode(
            hmac.new(string_to_sign, digestmod=hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(str(body.get("sign", "")), expected):
            return "sign match fail"
        if body.get("msg_type") != "post":
            return "not a post message"
        return ""

    def _refusal(self, why: str) -> dict[str, Any]:
        if self.kind == "feishu":
            return {"code": 19021, "msg": why}
        return {"errcode": 93000 if self.kind == "wecom" else 310000, "errmsg": why}

    def _ok(self) -> dict[str, Any]:
        if self.kind == "feishu":
            return {"code": 0, "msg": "success", "data": {}}
        return {"errcode": 0, "errmsg": "ok"}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode()
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode().strip()) != "":
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            target = urlsplit(request_line.split(" ")[1])
            # parse_qs decodes %2B as "+" and "+" as a space, as the services' servers do: a
            # sign that is not URL-encoded fails here as it would there.
            query = {k: v[0] for k, v in parse_qs(target.query).items()}
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = {}
            why = self.check(target.path, query, body)
            self.requests.append(RobotRequest(target.path, query, body, why == "", why))
            index = len(self.requests)
            status, answer = 200, self._ok() if why == "" else self._refusal(why)
            if index <= len(self.failures):
                scripted = self.failures[index - 1]
                if isinstance(scripted, int):
                    status, answer = scripted, {"error": "scripted"}
                else:
                    answer = scripted
            text = orjson.dumps(answer)
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n".encode()
                + text
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def wait_for(self, count: int, *, timeout_s: float = 20) -> list[RobotRequest]:
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count:
            assert time.monotonic() < deadline, (
                f"{self.kind} receiver got {len(self.requests)} of {count} in {timeout_s} s"
            )
            await asyncio.sleep(0.05)
        return self.requests[:count]


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    tls: bool  # the session was encrypted when the message was sent
    user: str | None


class _Handler:
    def __init__(self, inbox: list[Mail], user: str, password: str, implicit: bool) -> None:
        self.inbox = inbox
        self.implicit = implicit  # the server accepts TLS connections only
        self.user = user
        self.password = password

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.inbox.append(
            Mail(
                sender=str(envelope.mail_from),
                recipients=[str(r) for r in envelope.rcpt_tos],
                message=message_from_bytes(content, policy=default_policy),
                tls=self.implicit or session.ssl is not None,
                user=None if session.auth_data is None else str(session.auth_data),
            )
        )
        return "250 OK queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth: Any
    ) -> AuthResult:
        if (
            isinstance(auth, LoginPassword)
            and auth.login.decode() == self.user
            and auth.password.decode() == self.password
        ):
            return AuthResult(success=True, auth_data=self.user)
        return AuthResult(success=False, handled=False)


class SmtpReceiver(Controller):
    """An SMTP server on 127.0.0.1: ``implicit`` TLS (smtps) or STARTTLS required (smtp), AUTH
    required (only over TLS), messages kept in ``inbox``."""

    def __init__(
        self, *, port: int, cert: str, key: str, user: str, password: str, implicit: bool
    ) -> None:
        self.inbox: list[Mail] = []
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
        handler = _Handler(self.inbox, user, password, implicit)
        common: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": port,
            "authenticator": handler.authenticate,
            "auth_required": True,
            "auth_require_tls": True,
        }
        if implicit:
            # The whole connection is TLS, but aiosmtpd counts only STARTTLS as TLS when it
            # decides whether to offer AUTH: with implicit TLS AUTH is offered regardless.
            common["auth_require_tls"] = False
            super().__init__(handler, ssl_context=tls, **common)
        else:
            super().__init__(handler, tls_context=tls, require_starttls=True, **common)

    async def wait_for(self, count: int, *, timeout_s: float = 20) -> list[Mail]:
        deadline = time.monotonic() + timeout_s
        while len(self.inbox) < count:
            assert time.monotonic() < deadline, (
                f"SMTP receiver got {len(self.inbox)} of {count} in {timeout_s} s"
            )
            await asyncio.sleep(0.05)
        return self.inbox[:count]
