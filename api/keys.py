"""API keys, roles and scopes: who may call what, and for which enterprise.

A key reads ``pck_<key id>_<secret>``. The key id finds the row; only a SHA-256 of the secret is
stored, so a key is shown once, when it is created. Keys are 256-bit random: a fast hash is
enough (stretching protects guessable passwords, not random keys).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN = re.compile(r"^pck_([a-z0-9]{12})_([A-Za-z0-9_-]{43})\Z")


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"  # park-wide read, alerts and tickets
    AUDITOR = "auditor"  # read-only, including the audit log (clause 7.3)
    ENTERPRISE = "enterprise"  # its own enterprise's data only


class Scope(StrEnum):
    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"
    READINGS_READ = "readings:read"
    READINGS_WRITE = "readings:write"
    EMISSIONS_READ = "emissions:read"
    ALERTS_READ = "alerts:read"
    ALERTS_WRITE = "alerts:write"
    TICKETS_READ = "tickets:read"
    TICKETS_WRITE = "tickets:write"
    WEBHOOKS_ADMIN = "webhooks:admin"
    AUDIT_READ = "audit:read"
    KEYS_ADMIN = "keys:admin"
    LIVE_READ = "live:read"
    REPORTS_READ = "reports:read"
    ACTIVITY_READ = "activity:read"  # manual activity records (clause 6.3.1 e)
    ACTIVITY_WRITE = "activity:write"
    INVENTORIES_READ = "inventories:read"  # stored inventories (clause 6.3.1 f)
    INVENTORIES_WRITE = "inventories:write"  # compute and store a new version
    REGISTERS_READ = "registers:read"  # the management-system registers (clauses 4-10)
    REGISTERS_WRITE = "registers:write"


_READ = frozenset(
    {
        Scope.REGISTRY_READ,
        Scope.READINGS_READ,
        Scope.EMISSIONS_READ,
        Scope.ALERTS_READ,
        Scope.TICKETS_READ,
        Scope.LIVE_READ,
        Scope.REPORTS_READ,
        Scope.ACTIVITY_READ,
        Scope.INVENTORIES_READ,
        Scope.REGISTERS_READ,
    }
)

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.OPERATOR: _READ
    | {
        Scope.ALERTS_WRITE,
        Scope.TICKETS_WRITE,
        Scope.WEBHOOKS_ADMIN,
        Scope.READINGS_WRITE,
        Scope.ACTIVITY_WRITE,
        Scope.INVENTORIES_WRITE,
        Scope.REGISTERS_WRITE,
    },
    Role.AUDITOR: _READ | {Scope.AUDIT_READ},
    Role.ENTERPRISE: _READ
    | {
        Scope.READINGS_WRITE,
        Scope.TICKETS_WRITE,
        Scope.ACTIVITY_WRITE,
        Scope.INVENTORIES_WRITE,
        Scope.REGISTERS_WRITE,
    },
}


class KeyRequestError(ValueError):
    """A key request that cannot be honoured: the message says why."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    token: str  # shown once
    secret_sha256: bytes


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: which key, which role, which scopes, and the enterprise it is confined to."""

    key_id: str
    name: str
    role: Role
    scopes: frozenset[Scope]
    enterprise_id: str | None

    @property
    def actor(self) -> str:
        """How the audit log and ticket history name this caller."""
        return f"key:{self.key_id}({self.name})"

    def sees(self, enterprise_id: str | None) -> bool:
        """Whether an object of ``enterprise_id`` is visible (enterprise keys: their own only)."""
        return self.enterprise_id is None or enterprise_id == self.enterprise_id


def scopes_for(role: Role, requested: list[str] | None = None) -> frozenset[Scope]:
    """The role's scopes, or the requested subset of them; asking for more is an error."""
    allowed = ROLE_SCOPES[role]
    if requested is None:
        return allowed
    wanted = set()
    for name in requested:
        try:
            wanted.add(Scope(name))
        except ValueError:
            raise KeyRequestError(f"unknown scope {name!r}") from None
    if not wanted <= allowed:
        extra = ", ".join(sorted(wanted - allowed))
        raise KeyRequestError(f"role {role} cannot hold scope(s) {extra}")
    return frozenset(wanted)


def check_tenancy(role: Role, enterprise_id: str | None) -> None:
    if role is Role.ENTERPRISE and not enterprise_id:
        raise KeyRequestError("an enterprise key needs the enterprise it belongs to")
    if role is not Role.ENTERPRISE and enterprise_id is not None:
        raise KeyRequestError(f"a {role} key is park-wide: it takes no enterprise")


def new_key() -> NewKey:
    key_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"pck_{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_sha256: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_sha256)
