"""A real webhook receiver for the tests: an HTTP/1.1 server on 127.0.0.1 that records every
request, answers with scripted status codes, can hold requests open, and verifies Standard
Webhooks signatures itself (hmac from the standard library, not the API's code).

The tests at the bottom check the receiver's own verification, so the webhook tests can trust it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

import httpx
import pytest


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request had arrived in full
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


def verify(received: Received, secrets: list[str], *, tolerance_s: float = 300) -> bool:
    """True if one of the ``webhook-signature`` entries is a valid ``v1`` signature under one of
    ``secrets`` and the attempt's timestamp is within ``tolerance_s`` of now (spec, "Verifying
    signatures")."""
    msg_id = received.headers.get("webhook-id", "")
    ts = received.headers.get("webhook-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance_s:
        return False
    signed = f"{msg_id}.{ts}.".encode() + received.body
    offered = received.headers.get("webhook-signature", "").split(" ")
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for entry in offered:
            version, _, value = entry.partition(",")
            if version == "v1" and hmac.compare_digest(value, expected):
                return True
    return False


@dataclass
class Receiver:
    """``statuses`` are answered in order (then 200); the first ``hold`` requests wait for
    ``release`` before answering."""

    statuses: list[int] = field(default_factory=list)
    hold: int = 0
    port: int = 0
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/duty"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.release.set()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode()
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode().strip()) != "":
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(
                Received(time.monotonic(), request_line.split(" ")[1], headers, body)
            )
            index = len(self.received)  # 1-based number of this request
            if index <= self.hold:
                await self.release.wait()
            status = self.statuses[index - 1] if index <= len(self.statuses) else 200
            text = f"receiver answer {status}".encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(text)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + text
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def wait_for(self, count: int, *, timeout_s: float = 20) -> list[Received]:
        """The first ``count`` requests, waiting at most ``timeout_s`` for them."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, (
                f"receiver got {len(self.received)} of {count} requests in {timeout_s} s"
            )
            await asyncio.sleep(0.05)
        return self.received[:count]


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _signed(secret: str, msg_id: str, ts: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{ts}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_the_receiver_accepts_a_valid_signature_and_refuses_a_tampered_body() -> None:
    receiver = await Receiver().start()
    try:
        ts = int(time.time())
        body = b'{"type":"ping"}'
        headers = {
            "webhook-id": "msg_x",
            "webhook-timestamp": str(ts),
            "webhook-signature": _signed(SECRET, "msg_x", ts, body),
        }
        async with httpx.AsyncClient(trust_env=False) as client:
            ok = await client.post(receiver.url, content=body, headers=headers)
            await client.post(receiver.url, content=body + b" ", headers=headers)
        assert ok.status_code == 200
        good, tampered = await receiver.wait_for(2)
        assert verify(good, [SECRET])
        assert not verify(tampered, [SECRET])
        assert not verify(good, ["whsec_" + base64.b64encode(b"another secret of 24 b").decode()])
    finally:
        await receiver.stop()


async def test_the_receiver_refuses_a_stale_timestamp() -> None:
    receiver = await Receiver().start()
    try:
        ts = int(time.time()) - 301
        body = b"{}"
        headers = {
            "webhook-id": "msg_y",
            "webhook-timestamp": str(ts),
            "webhook-signature": _signed(SECRET, "msg_y", ts, body),
        }
        async with httpx.AsyncClient(trust_env=False) as client:
            await client.post(receiver.url, content=body, headers=headers)
        (stale,) = await receiver.wait_for(1)
        assert not verify(stale, [SECRET])
    finally:
        await receiver.stop()


@pytest.mark.parametrize("statuses", [[500, 410], [204]])
async def test_the_receiver_answers_its_scripted_statuses_then_200(statuses: list[int]) -> None:
    receiver = await Receiver(statuses=list(statuses)).start()
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            got = [
                (await client.post(receiver.url, content=b"{}")).status_code
                for _ in range(len(statuses) + 1)
            ]
        assert got == [*statuses, 200]
    finally:
        await receiver.stop()
