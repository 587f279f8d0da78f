"""Per-request work around every route, as plain ASGI (no extra copies of the request or the
response): refuse a declared body over the limit, and count requests and latency per route."""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            # Streamed bodies are counted by Starlette's limiter further in; a declared size is
            # refused before anything is read, as a problem document like every other error.
            response = errors.problem_response(
                413, f"the body is larger than {self.max_body_bytes} bytes"
            )
            await response(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _count(scope, status, time.perf_counter() - started)


def _count(scope: Scope, status: int, seconds: float) -> None:
    app: Any = scope.get("app")
    state = getattr(getattr(app, "state", None), "parkcarbon", None)
    if state is None:
        return
    # The matched route's path template, so metrics do not get one label per meter id.
    route = str(getattr(scope.get("route"), "path", "unmatched"))
    state.metrics.requests.labels(route, str(status)).inc()
    state.metrics.latency.labels(route).observe(seconds)
