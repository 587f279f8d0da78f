"""Connections: one helper so every caller connects the same way."""

from __future__ import annotations

from typing import Any

import psycopg


def connect(database_url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection in autocommit mode; callers group writes with ``conn.transaction()``."""
    return psycopg.connect(database_url, autocommit=autocommit, connect_timeout=5)
