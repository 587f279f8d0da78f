from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from store.migrate import MigrationError, available, migrate, storage_mode

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    base = database_url.rsplit("/", 1)[0]
    name = f"parkcarbon_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{base}/{name}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_migrations_apply_to_an_empty_database_and_again_with_no_change(
    empty_database: str,
) -> None:
    mode, applied = migrate(empty_database)
    assert applied == [f"{m.version:04d}_{m.name}" for m in available()]
    with psycopg.connect(empty_database) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        before = conn.execute(
            "SELECT version, checksum, applied_at FROM schema_migration"
        ).fetchall()
    assert {
        "park",
        "enterprise",
        "site",
        "meter",
        "reading",
        "rejected_reading",
        "audit_log",
    } <= tables

    mode_again, applied_again = migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        after = conn.execute(
            "SELECT version, checksum, applied_at FROM schema_migration"
        ).fetchall()
    assert applied_again == []
    assert mode_again == mode
    assert after == before


def test_storage_mode_is_recorded_and_plain_postgresql_without_the_extension(
    empty_database: str,
) -> None:
    mode, _ = migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        has_timescale = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        assert storage_mode(conn) == mode
    assert mode == ("timescaledb" if has_timescale else "postgresql")


def test_a_migration_edited_after_it_was_applied_is_refused(empty_database: str) -> None:
    migrate(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("UPDATE schema_migration SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="0001_foundation changed after it was applied"):
        migrate(empty_database)


def test_audit_log_refuses_update_and_delete(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id) "
        "VALUES ('test', 'create', 'probe', 'x')"
    )
    for statement in (
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute(statement)


def test_reading_primary_key_makes_a_replayed_reading_one_row(db: psycopg.Connection) -> None:
    row = ("M-replay", "2026-01-01T00:00:00Z", 1.5, "kWh", "modbus", "gw", 1)
    for _ in range(2):
        db.execute(
            "INSERT INTO reading (meter_id, ts, value, unit, source, gateway_id, seq) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (meter_id, ts) DO NOTHING",
            row,
        )
    count = db.execute("SELECT count(*) FROM reading WHERE meter_id = 'M-replay'").fetchone()
    assert count == (1,)


def test_a_reading_of_a_dlt645_meter_is_stored_and_an_unknown_source_still_refused(
    db: psycopg.Connection,
) -> None:
    insert = (
        "INSERT INTO reading (meter_id, ts, value, unit, source, gateway_id, seq) "
        "VALUES (%s, '2026-01-01T00:00:00Z', 1.5, 'kWh', %s, 'gw', 1)"
    )
    db.execute(insert, ("M-dlt645", "dlt645"))
    stored = db.execute("SELECT source FROM reading WHERE meter_id = 'M-dlt645'").fetchone()
    assert stored == ("dlt645",)
    if storage_mode(db) == "postgresql":  # TimescaleDB: the worker's decoding is the check
        with pytest.raises(psycopg.errors.CheckViolation, match="reading_source_check"):
            db.execute(insert, ("M-nonsense", "carrier-pigeon"))
