"""Gateway grants as the stream worker reads them (migration 0014): which gateway may send
which enterprises' and which meters' readings, and the park each enterprise belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class GatewayGrant:
    """One registered gateway: its park, what it may send, and whether it may send at all."""

    gateway_id: str
    park_id: str
    enterprise_ids: frozenset[str]
    meter_ids: frozenset[str]
    active: bool


def gateways_version(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    """A cheap fingerprint that changes whenever a gateway is registered or changed (the
    table's trigger stamps ``updated_at`` on every write; rows are never deleted)."""
    row = conn.execute(
        "SELECT count(*), coalesce(max(updated_at)::text, '') FROM gateway"
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def all_gateways(conn: psycopg.Connection[Any]) -> list[GatewayGrant]:
    rows = conn.execute(
        "SELECT gateway_id, park_id, enterprise_ids, meter_ids, status FROM gateway"
    ).fetchall()
    return [
        GatewayGrant(str(g), str(p), frozenset(e), frozenset(m), s == "active")
        for g, p, e, m, s in rows
    ]


def enterprise_parks(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Each enterprise's park."""
    rows = conn.execute("SELECT enterprise_id, park_id FROM enterprise").fetchall()
    return {str(e): str(p) for e, p in rows}
