"""Request dependencies: the app state, a database connection, and the caller's identity.

Routes declare what they need with the ``Annotated`` aliases below, e.g.
``async def get_meter(conn: DbDep, who: Annotated[Principal, Depends(require(Scope.X))])``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection, OperationalError

from api import key_store
from api.errors import ApiError
from api.keys import Principal, Scope, parse_token, secret_matches
from api.state import AppState

_bearer = HTTPBearer(auto_error=False, description="An API key: `Bearer pck_...`")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.parkcarbon
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_db(state: StateDep) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection in autocommit mode; services group writes with ``conn.transaction()``."""
    try:
        async with state.pool.connection(timeout=5) as conn:
            yield conn
    except (OperationalError, TimeoutError) as exc:
        # Only failures to obtain a connection land here before the route ran; a failure inside
        # the route after its response started cannot be turned into a 503.
        raise ApiError(503, f"database unavailable: {exc}", headers={"Retry-After": "5"}) from exc


DbDep = Annotated[AsyncConnection[Any], Depends(get_db)]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def get_principal(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from its API key. Holds a pooled connection only for the lookup, so a
    long-lived response (the live feed) does not keep one."""
    if credentials is None:
        raise ApiError(401, "send an API key: Authorization: Bearer pck_...", headers=_UNAUTHORIZED)
    parsed = parse_token(credentials.credentials)
    if parsed is None:
        raise ApiError(401, "malformed API key", headers=_UNAUTHORIZED)
    key_id, secret = parsed
    try:
        async with state.pool.connection(timeout=5) as conn:
            found = await key_store.active_key(conn, key_id)
            if found is not None and secret_matches(secret, found[1]):
                await key_store.touch(conn, key_id)
    except (OperationalError, TimeoutError) as exc:
        raise ApiError(503, f"database unavailable: {exc}", headers={"Retry-After": "5"}) from exc
    if found is None or not secret_matches(secret, found[1]):
        raise ApiError(401, "unknown, revoked or expired API key", headers=_UNAUTHORIZED)
    return key_store.principal_of(found[0])


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits a caller holding ``scope`` (403 otherwise)."""

    async def check(who: PrincipalDep) -> Principal:
        if scope not in who.scopes:
            raise ApiError(403, f"this key lacks the scope {scope.value}", required=scope.value)
        return who

    return check
