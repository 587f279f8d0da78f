"""Errors as RFC 9457 problem details, and their OpenAPI documentation.

Every route declares the problems it can answer with ``problems(401, 404, ...)``, so the OpenAPI
document lists each error response a client can meet.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import DataError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; extra members carry specifics (e.g. ``allowed`` transitions)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""


class ApiError(Exception):
    """Raise to answer with a problem: ``ApiError(409, "...", allowed=[...])``."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


_DESCRIPTIONS = {
    400: "The request is malformed",
    401: "No valid API key (missing, malformed, unknown, revoked or expired)",
    403: "The key lacks the scope this route needs",
    404: "Not found, or not visible to this key's enterprise",
    409: "Conflicts with the object's current state",
    410: "Gone",
    413: "The body or the batch is larger than the documented limit",
    415: "Unsupported content type",
    422: "The body or the parameters fail validation",
    503: "A component the request needs (Kafka, the database) is unavailable; retry later",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these status codes, each a problem document."""
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


def problem_response(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def document_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every operation's 422 a problem document, as the handler below answers it."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if "422" in responses:
                responses["422"] = {"description": _DESCRIPTIONS[422], "content": problem}
    components = schema.get("components", {}).get("schemas", {})
    if "Problem" not in components:
        components["Problem"] = Problem.model_json_schema()
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return problem_response(exc.status, exc.detail, headers=exc.headers, **exc.extra)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's own errors (unknown route, wrong method, body too large) as problems too.
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(exc.status_code, str(exc.detail), headers=headers)

    async def on_data_error(_: Request, exc: Exception) -> JSONResponse:
        # A value PostgreSQL refuses (a NUL byte, an out-of-range time) is the caller's error.
        return problem_response(422, f"value refused by the database: {exc}".strip())

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        # The same problem shape as every other error; the offending input is not echoed back
        # (it may not even be encodable, e.g. a lone surrogate).
        assert isinstance(exc, RequestValidationError)
        found: list[dict[str, Any]] = [
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        detail = "invalid request"
        if found:
            loc, msg = ".".join(found[0]["loc"]), found[0]["msg"]
            detail = f"{loc}: {msg}" if loc else msg
        if len(found) > 1:
            detail += f" (and {len(found) - 1} more)"
        return problem_response(422, detail, errors=found)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DataError, on_data_error)
