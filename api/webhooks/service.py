"""Webhook subscriptions (endpoints) in the database: create, read, change, rotate, delete.

Every change is recorded in the audit log in the same transaction (clause 7.3), never with a
secret in it. Targets are checked here, when a subscription is made or its URL changes; the
dispatcher checks them again before every attempt.
"""

from __future__ import annotations

import secrets
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api import audit
from api.webhooks import signing, targets
from api.webhooks.enums import ChannelKind
from api.webhooks.models import (
    EmailConfig,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    check_channel,
)

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_ENTITY = "webhook_endpoint"
_PUBLIC = "SELECT * FROM webhook_endpoint_public WHERE endpoint_id = %s"


def _new_endpoint_id() -> str:
    return "ep_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


_ROBOTS = frozenset({ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.FEISHU})


def redacted_url(kind: ChannelKind, url: str) -> str:
    """A robot's URL as the API shows it: its key or token (the query, or the hook id at the
    end of the path) is a credential, so only its last four characters are kept."""
    if kind not in _ROBOTS:
        return url
    cut = url.find("?") if "?" in url else url.rstrip("/").rfind("/")
    return url[: cut + 1] + "\u2026" + url[-4:]


def _out(row: dict[str, Any]) -> EndpointOut:
    kind = ChannelKind(row["kind"])
    config = row.pop("channel_config")
    return EndpointOut(
        **{**row, "url": redacted_url(kind, row["url"])},
        email=EmailConfig(**config) if kind is ChannelKind.EMAIL else None,
    )


def _schemes(kind: ChannelKind) -> tuple[str, ...]:
    return targets.SMTP_SCHEMES if kind is ChannelKind.EMAIL else targets.HTTP_SCHEMES


def _snapshot(endpoint: EndpointOut) -> dict[str, Any]:
    return endpoint.model_dump(mode="json")


async def get_endpoint(conn: AsyncConnection[Any], *, endpoint_id: str) -> EndpointOut | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_PUBLIC, (endpoint_id,))
        row = await cur.fetchone()
    return None if row is None else _out(row)


async def _change(conn: AsyncConnection[Any], sql: str, params: Any) -> EndpointOut | None:
    """Run a change that returns the endpoint id; the endpoint as it is afterwards."""
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return None if row is None else await get_endpoint(conn, endpoint_id=row[0])


async def list_endpoints(
    conn: AsyncConnection[Any], *, enterprise_id: str | None
) -> list[EndpointOut]:
    """Every endpoint, or (for an enterprise caller) that enterprise's endpoints only."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM webhook_endpoint_public WHERE %(ent)s::text IS NULL"
            " OR enterprise_id = %(ent)s ORDER BY created_at, endpoint_id",
            {"ent": enterprise_id},
        )
        return [_out(row) for row in await cur.fetchall()]


async def create_endpoint(
    conn: AsyncConnection[Any], *, body: EndpointCreate, allow_private: bool, actor: str
) -> EndpointWithSecret:
    """A new subscription: a Standard Webhooks one with a fresh ``whsec_`` secret, a robot or
    e-mail channel with the secret given. Raises ``targets.TargetError`` for a URL a webhook
    must not reach, ``psycopg.errors.ForeignKeyViolation`` for an unknown enterprise."""
    await targets.resolve(body.url, allow_private=allow_private, schemes=_schemes(body.kind))
    generated = signing.new_secret() if body.kind is ChannelKind.STANDARD else None
    async with conn.transaction():
        created = await _change(
            conn,
            "INSERT INTO webhook_endpoint (endpoint_id, url, description, event_types,"
            " enterprise_id, secret, created_by, kind, channel_config, language)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING endpoint_id",
            (
                _new_endpoint_id(),
                body.url,
                body.description,
                sorted({e.value for e in body.event_types}),
                body.enterprise_id,
                generated or body.secret,
                actor,
                body.kind.value,
                Jsonb(body.email.model_dump() if body.email else {}),
                body.language,
            ),
        )
        assert created is not None
        await audit.record(
            conn,
            actor=actor,
            action="create",
            entity=_ENTITY,
            entity_id=created.endpoint_id,
            before=None,
            after=_snapshot(created),
        )
    return EndpointWithSecret(**created.model_dump(), secret=generated)


async def update_endpoint(
    conn: AsyncConnection[Any],
    *,
    endpoint_id: str,
    changes: EndpointUpdate,
    allow_private: bool,
    actor: str,
) -> EndpointOut | None:
    """Apply the given changes; None if there is no such endpoint. A new URL is checked.
    Raises ``ValueError`` for a change its kind does not take (``models.check_channel``)."""
    kind_row = await (
        await conn.execute(
            "SELECT kind FROM webhook_endpoint WHERE endpoint_id = %s", (endpoint_id,)
        )
    ).fetchone()
    if kind_row is None:
        return None
    kind = ChannelKind(kind_row[0])
    check_channel(kind, secret=changes.secret, email=changes.email, creating=False)
    if changes.url is not None:
        await targets.resolve(changes.url, allow_private=allow_private, schemes=_schemes(kind))
    event_types = (
        None if changes.event_types is None else sorted({e.value for e in changes.event_types})
    )
    if changes.enabled is None:
        enabled, reason = None, None
    elif changes.enabled:
        enabled, reason = True, None
    else:
        enabled, reason = False, f"disabled by {actor}"
    async with conn.transaction():
        await conn.execute(
            "SELECT 1 FROM webhook_endpoint WHERE endpoint_id = %s FOR UPDATE", (endpoint_id,)
        )
        before = await get_endpoint(conn, endpoint_id=endpoint_id)
        if before is None:
            return None
        after = await _change(
            conn,
            "UPDATE webhook_endpoint SET url = coalesce(%(url)s, url),"
            " description = coalesce(%(description)s, description),"
            " event_types = coalesce(%(event_types)s::text[], event_types),"
            " enabled = coalesce(%(enabled)s::boolean, enabled),"
            " secret = coalesce(%(secret)s, secret),"
            " channel_config = coalesce(%(config)s, channel_config),"
            " language = coalesce(%(language)s, language),"
            " disabled_reason = CASE WHEN %(enabled)s::boolean IS NULL THEN disabled_reason"
            "   WHEN %(enabled)s::boolean THEN NULL ELSE coalesce(disabled_reason, %(reason)s) END,"
            " disabled_at = CASE WHEN %(enabled)s::boolean IS NULL THEN disabled_at"
            "   WHEN %(enabled)s::boolean THEN NULL ELSE coalesce(disabled_at, now()) END,"
            " updated_at = now()"
            " WHERE endpoint_id = %(id)s RETURNING endpoint_id",
            {
                "url": changes.url,
                "description": changes.description,
                "event_types": event_types,
                "enabled": enabled,
                "reason": reason,
                "id": endpoint_id,
                "secret": changes.secret,
                "config": None if changes.email is None else Jsonb(changes.email.model_dump()),
                "language": changes.language,
            },
        )
        assert after is not None
        await audit.record(
            conn,
            actor=actor,
            action="update",
            entity=_ENTITY,
            entity_id=endpoint_id,
            before=_snapshot(before),
            after=_snapshot(after),
        )
    return after


async def rotate_secret(
    conn: AsyncConnection[Any], *, endpoint_id: str, grace_period_s: int, actor: str
) -> EndpointWithSecret | None:
    """A new secret of a Standard Webhooks endpoint (None for another kind or no endpoint); the
    current one keeps signing too for ``grace_period_s`` seconds (0: it stops at once)."""
    secret = signing.new_secret()
    async with conn.transaction():
        rotated = await _change(
            conn,
            "UPDATE webhook_endpoint SET"
            " previous_secret = CASE WHEN %(grace)s > 0 THEN secret END,"
            " previous_secret_expires_at ="
            "   CASE WHEN %(grace)s > 0 THEN now() + make_interval(secs => %(grace)s) END,"
            " secret = %(secret)s, updated_at = now()"
            " WHERE endpoint_id = %(id)s AND kind = 'standard' RETURNING endpoint_id",
            {"grace": grace_period_s, "secret": secret, "id": endpoint_id},
        )
        if rotated is None:
            return None
        await audit.record(
            conn,
            actor=actor,
            action="rotate_secret",
            entity=_ENTITY,
            entity_id=endpoint_id,
            before=None,
            after={
                "previous_secret_valid_until": _snapshot(rotated)["previous_secret_valid_until"]
            },
        )
    return EndpointWithSecret(**rotated.model_dump(), secret=secret)


async def delete_endpoint(
    conn: AsyncConnection[Any], *, endpoint_id: str, actor: str
) -> EndpointOut | None:
    """Remove the subscription, its pending deliveries and their log."""
    async with conn.transaction():
        deleted = await get_endpoint(conn, endpoint_id=endpoint_id)
        if deleted is None:
            return None
        await conn.execute("DELETE FROM webhook_endpoint WHERE endpoint_id = %s", (endpoint_id,))
        await audit.record(
            conn,
            actor=actor,
            action="delete",
            entity=_ENTITY,
            entity_id=endpoint_id,
            before=_snapshot(deleted),
            after=None,
        )
    return deleted


async def disable_endpoint(
    conn: AsyncConnection[Any], *, endpoint_id: str, reason: str, actor: str
) -> None:
    """Stop deliveries to the endpoint (pending ones wait until it is enabled again)."""
    async with conn.transaction():
        before = await get_endpoint(conn, endpoint_id=endpoint_id)
        after = await _change(
            conn,
            "UPDATE webhook_endpoint SET enabled = false, disabled_reason = %s,"
            " disabled_at = now(), updated_at = now() WHERE endpoint_id = %s RETURNING endpoint_id",
            (reason, endpoint_id),
        )
        if before is None or after is None:
            return
        await audit.record(
            conn,
            actor=actor,
            action="disable",
            entity=_ENTITY,
            entity_id=endpoint_id,
            before=_snapshot(before),
            after=_snapshot(after),
            reason=reason,
        )
