"""Versioned schema migrations, applied in order, each once, each in its own transaction.

A migration is ``migrations/NNNN_name.sql``; an optional ``NNNN_name.timescale.sql`` beside it
runs right after it in TimescaleDB mode. The storage mode chosen the first time (``timescaledb``
or ``postgresql``) is recorded in ``parkcarbon_meta`` and kept. ``auto`` takes TimescaleDB when
the server has it installed *and preloaded* (``shared_preload_libraries``): an extension that is
installed but not preloaded cannot be created (PostgreSQL ends the session), so then the
database is plain PostgreSQL and ``notes`` say what to change.
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
RequestedMode = Literal["auto", "timescaledb", "postgresql"]
NOT_PRELOADED = (
    "TimescaleDB is installed but not preloaded: storage mode postgresql. To use it, add "
    "shared_preload_libraries = 'timescaledb' to postgresql.conf, restart PostgreSQL and "
    "migrate a new database"
)
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


def _preloaded(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    names = str(row[0] if row else "").replace(" ", "").split(",")
    return "timescaledb" in names


def _choose_mode(
    conn: psycopg.Connection, requested: RequestedMode, notes: list[str]
) -> StorageMode:
    row = conn.execute("SELECT value FROM parkcarbon_meta WHERE key = 'storage_mode'").fetchone()
    if row is not None:
        kept: StorageMode = "timescaledb" if row[0] == "timescaledb" else "postgresql"
        if requested not in ("auto", kept):
            raise MigrationError(
                f"this database is in storage mode {kept}; {requested} needs a new database"
            )
        return kept
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    usable = available is not None and _preloaded(conn)
    if requested == "timescaledb" and not usable:
        raise MigrationError(
            "storage mode timescaledb: "
            + (NOT_PRELOADED if available else "the TimescaleDB extension is not installed")
        )
    mode: StorageMode = "postgresql"
    if requested != "postgresql" and usable:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        mode = "timescaledb"
    elif requested == "auto" and available is not None:
        notes.append(NOT_PRELOADED)
    conn.execute("INSERT INTO parkcarbon_meta (key, value) VALUES ('storage_mode', %s)", (mode,))
    return mode


def storage_mode(conn: psycopg.Connection) -> StorageMode | None:
    row = conn.execute("SELECT value FROM parkcarbon_meta WHERE key = 'storage_mode'").fetchone()
    if row is None:
        return None
    return "timescaledb" if row[0] == "timescaledb" else "postgresql"


def migrate(
    conninfo: str, *, mode: RequestedMode = "auto", notes: list[str] | None = None
) -> tuple[StorageMode, list[str]]:
    """Apply every pending migration; returns the storage mode and the names applied now.
    ``notes`` (if given) receives what an operator should know (e.g. an extension installed
    but not preloaded)."""
    requested = mode
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # One migrator at a time: two processes starting together must not race.
        conn.execute("SELECT pg_advisory_lock(hashtext('parkcarbon.migrate'))")
        with conn.transaction():
            _bookkeeping(conn)
            mode = _choose_mode(conn, requested, notes if notes is not None else [])
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
