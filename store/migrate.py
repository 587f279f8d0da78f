"""Versioned schema migrations, applied in order, each once, each in its own transaction.

A migration is ``migrations/NNNN_name.sql``; an optional ``NNNN_name.timescale.sql`` beside it
runs right after it when the TimescaleDB extension is available. The storage mode chosen the
first time (``timescaledb`` or ``postgresql``) is recorded in ``parkcarbon_meta`` and kept.
After the migrations, reference tables copied from packaged data files are refreshed from them
(``energy_coefficient``, ``store.energy_coefficients``), so SQL never holds its own copy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg

StorageMode = Literal["timescaledb", "postgresql"]
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql\Z")


class MigrationError(Exception):
    """A migration failed or the applied history no longer matches the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    timescale_sql: str | None

    @property
    def checksum(self) -> str:
        return hashlib.sha256((self.sql + (self.timescale_sql or "")).encode()).hexdigest()


def available() -> list[Migration]:
    folder = resources.files("store.migrations")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        extra = folder / entry.name.replace(".sql", ".timescale.sql")
        found.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                sql=entry.read_text(encoding="utf-8"),
                timescale_sql=extra.read_text(encoding="utf-8") if extra.is_file() else None,
            )
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version: {versions}")
    return found


def _bookkeeping(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migration (
               version    integer PRIMARY KEY,
               name       text NOT NULL,
               checksum   text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS parkcarbon_meta (
               key   text PRIMARY KEY,
               value text NOT NULL)"""
    )


def _choose_mode(conn: psycopg.Connection) -> StorageMode:
    row = conn.execute("SELECT value FROM parkcarbon_meta WHERE key = 'storage_mode'").fetchone()
    if row is not None:
        return "timescaledb" if row[0] == "timescaledb" else "postgresql"
    available_ext = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    mode: StorageMode = "postgresql"
    if available_ext is not None:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            mode = "timescaledb"
        except psycopg.Error:
            # Listed but not loadable (e.g. not in shared_preload_libraries): plain PostgreSQL.
            mode = "postgresql"
    conn.execute("INSERT INTO parkcarbon_meta (key, value) VALUES ('storage_mode', %s)", (mode,))
    return mode


def storage_mode(conn: psycopg.Connection) -> StorageMode | None:
    row = conn.execute("SELECT value FROM parkcarbon_meta WHERE key = 'storage_mode'").fetchone()
    if row is None:
        return None
    return "timescaledb" if row[0] == "timescaledb" else "postgresql"


def migrate(conninfo: str) -> tuple[StorageMode, list[str]]:
    """Apply every pending migration; returns the storage mode and the names applied now."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # One migrator at a time: two processes starting together must not race.
        conn.execute("SELECT pg_advisory_lock(hashtext('parkcarbon.migrate'))")
        with conn.transaction():
            _bookkeeping(conn)
            mode = _choose_mode(conn)
        done = {
            int(v): c for v, c in conn.execute("SELECT version, checksum FROM schema_migration")
        }
        applied: list[str] = []
        for migration in available():
            label = f"{migration.version:04d}_{migration.name}"
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(f"{label} changed after it was applied; add a new one")
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    if mode == "timescaledb" and migration.timescale_sql:
                        conn.execute(migration.timescale_sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migration (version, name, checksum) VALUES (%s,%s,%s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"{label} failed: {exc}") from exc
            applied.append(label)
        if 26 in done or any(m.startswith("0026_") for m in applied):
            from store.energy_coefficients import sync

            sync(conn)
        conn.execute("SELECT pg_advisory_unlock(hashtext('parkcarbon.migrate'))")
    return mode, applied
