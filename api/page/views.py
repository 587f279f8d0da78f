"""Routes of the live page: ``/`` (the page, no key needed: it holds no data), the
management-system page ``/management-system`` (the same: its data comes from the API), their
static assets under ``/static/live/``, and ``/page/context`` (the parks a key sees, with
their local today).

The page reads every figure from the query API with the key the user gives it; nothing here
renders data, so the numbers on the page are the API's own (clause 9.1 a, b).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response

from accounting.i18n import Lang, messages, preferred
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.page import context
from api.page.models import PageContext

router = APIRouter(tags=["page"])
_STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only the package's own files, read once: no path from the request ever reaches the disk.
_ASSETS = {
    p.name: (p.read_bytes(), _TYPES[p.suffix])
    for p in sorted(_STATIC.iterdir())
    if p.suffix in _TYPES and p.suffix != ".html"
}
_INDEX = (_STATIC / "index.html").read_bytes()
_SYSTEM = (_STATIC / "system.html").read_bytes()
# The key lives in the page's sessionStorage: allow no script, style or connection but our own,
# never send the page's address elsewhere, and never let another site frame it.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@router.get("/", include_in_schema=False)
async def page() -> Response:
    """The live page; it asks for a key (``#key=pck_...`` in the address, or its form)."""
    return Response(_INDEX, media_type=_TYPES[".html"], headers=_HEADERS)


@router.get("/management-system", include_in_schema=False)
async def system_page() -> Response:
    """The management-system page: open obligations, audit findings, measures and review
    outputs (``GET /v1/management-system/open-items``), with the live page's key."""
    return Response(_SYSTEM, media_type=_TYPES[".html"], headers=_HEADERS)


@router.get("/static/live/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    found = _ASSETS.get(name)
    if found is None:
        raise ApiError(404, f"no asset {name!r}")
    body, media_type = found
    return Response(body, media_type=media_type, headers=_HEADERS)


# Both languages of the one catalogue, built once: the page switches language without a request.
_MESSAGES = {lang.value: messages(lang) for lang in Lang}


@router.get("/page/messages", include_in_schema=False)
async def page_messages(
    accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None,
) -> Response:
    """The page's texts in every language, and the one the browser's Accept-Language prefers
    (null when it names none of ours: the page then takes the park's language). No key needed:
    it holds no data."""
    chosen = preferred(accept_language)
    body = {"accepted": None if chosen is None else chosen.value, "messages": _MESSAGES}
    headers = {**_HEADERS, "Vary": "Accept-Language"}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


@router.get("/page/context", response_model=PageContext, responses=problems(401, 403, 503))
async def page_context(
    conn: DbDep, who: Annotated[Principal, Depends(require(Scope.REGISTRY_READ))]
) -> PageContext:
    """Parks the key sees (an enterprise key: its own park and enterprise), each with its
    enterprises and the instants its local today starts and ends, for the page's queries."""
    rows = await context.parks(conn, tenant=who.enterprise_id)
    return PageContext.model_validate({"enterprise_id": who.enterprise_id, "parks": rows})
