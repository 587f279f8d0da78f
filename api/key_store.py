"""API keys in the database: create (shown once), find for a request, list, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api import audit
from api.keys import NewKey, Principal, Role, Scope, check_tenancy, new_key, scopes_for

_COLUMNS = (
    "key_id, name, role, enterprise_id, scopes, created_at, created_by, expires_at,"
    " revoked_at, revoked_by, last_used_at"
)
# Statements built once from the constant column list above; values are always parameters.
_INSERT = (
    "INSERT INTO api_key (key_id, name, role, enterprise_id, scopes, secret_sha256,"  # noqa: S608
    f" created_by, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}"
)
_ACTIVE = (
    f"SELECT {_COLUMNS}, secret_sha256 FROM api_key WHERE key_id = %s"  # noqa: S608
    " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
)
_LIST = f"SELECT {_COLUMNS} FROM api_key ORDER BY created_at, key_id"  # noqa: S608
_REVOKE = (
    "UPDATE api_key SET revoked_at = now(), revoked_by = %s"  # noqa: S608
    f" WHERE key_id = %s AND revoked_at IS NULL RETURNING {_COLUMNS}"
)
_ONE = f"SELECT {_COLUMNS} FROM api_key WHERE key_id = %s"  # noqa: S608


@dataclass(frozen=True, slots=True)
class StoredKey:
    key_id: str
    name: str
    role: Role
    enterprise_id: str | None
    scopes: frozenset[Scope]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoredKey:
        return cls(
            key_id=row["key_id"],
            name=row["name"],
            role=Role(row["role"]),
            enterprise_id=row["enterprise_id"],
            scopes=frozenset(Scope(s) for s in row["scopes"]),
            created_at=row["created_at"],
            created_by=row["created_by"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
            revoked_by=row["revoked_by"],
            last_used_at=row["last_used_at"],
        )

    def summary(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role.value,
            "enterprise_id": self.enterprise_id,
            "scopes": sorted(s.value for s in self.scopes),
            "expires_at": self.expires_at,
        }


async def create_key(
    conn: AsyncConnection[Any],
    *,
    name: str,
    role: Role,
    enterprise_id: str | None,
    scopes: list[str] | None,
    expires_at: datetime | None,
    actor: str,
) -> tuple[StoredKey, str]:
    """Store a new key and return it with its token; raises ``api.keys.KeyRequestError``."""
    check_tenancy(role, enterprise_id)
    granted = scopes_for(role, scopes)
    key: NewKey = new_key()
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _INSERT,
            (
                key.key_id,
                name,
                role.value,
                enterprise_id,
                sorted(s.value for s in granted),
                key.secret_sha256,
                actor,
                expires_at,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        stored = StoredKey.from_row(row)
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity="api_key",
            entity_id=key.key_id,
            before=None,
            after=stored.summary(),
        )
    return stored, key.token


async def active_key(conn: AsyncConnection[Any], key_id: str) -> tuple[StoredKey, bytes] | None:
    """The key and its secret hash, if it exists, is not revoked and has not expired."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _ACTIVE,
            (key_id,),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    return StoredKey.from_row(row), bytes(row["secret_sha256"])


async def touch(conn: AsyncConnection[Any], key_id: str) -> None:
    # At most once a minute per key, so reads do not turn into a write each.
    await conn.execute(
        "UPDATE api_key SET last_used_at = now() WHERE key_id = %s"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        (key_id,),
    )


async def list_keys(conn: AsyncConnection[Any]) -> list[StoredKey]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LIST)
        return [StoredKey.from_row(r) for r in await cur.fetchall()]


async def revoke_key(conn: AsyncConnection[Any], *, key_id: str, actor: str) -> StoredKey | None:
    """Revoke a key (idempotent: revoking a revoked key returns it unchanged); None if unknown."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _REVOKE,
            (actor, key_id),
        )
        row = await cur.fetchone()
        if row is None:
            await cur.execute(_ONE, (key_id,))
            existing = await cur.fetchone()
            return StoredKey.from_row(existing) if existing else None
        stored = StoredKey.from_row(row)
        await audit.record(
            conn,
            actor=actor,
            action="revoke",
            entity="api_key",
            entity_id=key_id,
            before={"revoked_at": None},
            after={"revoked_at": stored.revoked_at},
        )
        return stored


def principal_of(key: StoredKey) -> Principal:
    return Principal(key.key_id, key.name, key.role, key.scopes, key.enterprise_id)
