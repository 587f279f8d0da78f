"""``/v1/api-keys``: create (the key is shown once), list and revoke API keys (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from psycopg import errors as pg_errors
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api import key_store
from api.deps import DbDep, require
from api.errors import ApiError, problems
from api.keys import KeyRequestError, Principal, Role, Scope

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])
Admin = Annotated[Principal, Depends(require(Scope.KEYS_ADMIN))]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    enterprise_id: str | None = Field(default=None, description="Required for role enterprise")
    scopes: list[str] | None = Field(
        default=None, description="A subset of the role's scopes; default all of them"
    )
    expires_at: AwareDatetime | None = Field(default=None, description="With a UTC offset")


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    enterprise_id: str | None
    scopes: list[str]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyOut):
    token: str = Field(description="The key itself. Shown once: it is not stored.")


def _out(key: key_store.StoredKey) -> KeyOut:
    return KeyOut(
        key_id=key.key_id,
        name=key.name,
        role=key.role,
        enterprise_id=key.enterprise_id,
        scopes=sorted(s.value for s in key.scopes),
        created_at=key.created_at,
        created_by=key.created_by,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


@router.post("", status_code=201, response_model=KeyCreated, responses=problems(401, 403, 422))
async def create(body: KeyCreate, conn: DbDep, who: Admin) -> KeyCreated:
    """Create a key. The response carries the token once; store it, it cannot be shown again."""
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise ApiError(422, "expires_at is not in the future: the key would never work")
    try:
        stored, token = await key_store.create_key(
            conn,
            name=body.name,
            role=body.role,
            enterprise_id=body.enterprise_id,
            scopes=body.scopes,
            expires_at=body.expires_at,
            actor=who.actor,
        )
    except KeyRequestError as exc:
        raise ApiError(422, str(exc)) from exc
    except pg_errors.ForeignKeyViolation as exc:
        raise ApiError(422, f"unknown enterprise {body.enterprise_id!r}") from exc
    return KeyCreated(**_out(stored).model_dump(), token=token)


@router.get("", response_model=list[KeyOut], responses=problems(401, 403))
async def list_all(conn: DbDep, _: Admin) -> list[KeyOut]:
    """Every key, revoked and expired ones included (never their secrets)."""
    return [_out(k) for k in await key_store.list_keys(conn)]


@router.delete("/{key_id}", response_model=KeyOut, responses=problems(401, 403, 404))
async def revoke(key_id: str, conn: DbDep, who: Admin) -> KeyOut:
    """Revoke a key at once; requests with it get 401 from now on."""
    stored = await key_store.revoke_key(conn, key_id=key_id, actor=who.actor)
    if stored is None:
        raise ApiError(404, f"no API key {key_id!r}")
    return _out(stored)
