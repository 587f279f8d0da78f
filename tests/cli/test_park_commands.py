"""`parkcarbon park inventory-start`: sets and clears a park's inventory start with an audit
entry, and refuses what is not a date or not a park with a message and exit code 1."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from cli.park_commands import register
from store.registry import add_park

pytestmark = pytest.mark.integration


def _run(database_url: str, *args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    result = CliRunner().invoke(
        app, ["park", "inventory-start", *args], env={"PARKCARBON_DATABASE_URL": database_url}
    )
    return result.exit_code, result.output


def test_the_inventory_start_is_set_cleared_and_audited(
    db: psycopg.Connection[Any], database_url: str, unique: str
) -> None:
    park = f"p-{unique}"
    add_park(db, park_id=park, name="park", actor="test")

    code, out = _run(database_url, park, "2025-01-01", "--actor", "office", "--reason", "base")
    assert (code, out.strip()) == (0, f"park {park}: inventory start 2025-01-01")
    row = db.execute("SELECT inventory_start FROM park WHERE park_id = %s", (park,)).fetchone()
    assert row == (date(2025, 1, 1),)

    code, out = _run(database_url, park, "2025-01-01", "--actor", "office")
    assert (code, out.strip()) == (0, f"park {park}: inventory start 2025-01-01 (unchanged)")
    code, out = _run(database_url, park, "none", "--actor", "office")
    assert (code, out.strip()) == (0, f"park {park}: inventory start none")
    audit = db.execute(
        "SELECT after, reason FROM audit_log WHERE entity = 'park' AND entity_id = %s ORDER BY id",
        (park,),
    ).fetchall()
    assert audit[-2:] == [
        ({"inventory_start": "2025-01-01"}, "base"),
        ({"inventory_start": None}, ""),
    ]


def test_a_bad_date_or_an_unknown_park_is_refused(database_url: str, unique: str) -> None:
    code, out = _run(database_url, f"p-{unique}", "2025-13-01", "--actor", "office")
    assert code != 0 and "is not a date" in out
    code, out = _run(database_url, f"nowhere-{unique}", "2025-01-01", "--actor", "office")
    assert (code, out.strip()) == (1, f"park nowhere-{unique}: not found")
