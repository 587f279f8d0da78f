"""`parkcarbon park create`: a park onboarded from the command line, in the run's test database."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import psycopg
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _park(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/parkcarbon"), "park", "create", *args],
        env={**os.environ, "PARKCARBON_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_park_create_stores_every_setting_and_audits_it(
    database_url: str, db: psycopg.Connection[Any], unique: str
) -> None:
    park = f"cli-{unique}"
    done = _park(
        database_url, park, "--name", "西湖园区", "--timezone", "Asia/Urumqi",
        "--grid-level", "province", "--language", "en", "--tce-convention", "equivalent",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"park '{park}' created" in done.stdout
    row = db.execute(
        "SELECT name, timezone, region, grid_level, language, tce_electricity_convention"
        " FROM park WHERE park_id = %s",
        (park,),
    ).fetchone()
    assert row == ("西湖园区", "Asia/Urumqi", "CN", "province", "en", "equivalent")
    audited = db.execute(
        "SELECT actor, action FROM audit_log WHERE entity = 'park' AND entity_id = %s", (park,)
    ).fetchall()
    assert audited == [("parkcarbon park create", "create")]
    again = _park(database_url, park, "--name", "again")
    assert again.returncode == 1 and "already exists" in again.stderr


def test_a_refused_setting_is_named_and_nothing_is_stored(
    database_url: str, db: psycopg.Connection[Any], unique: str
) -> None:
    park = f"cli-bad-{unique}"
    done = _park(database_url, park, "--name", "x", "--timezone", "UTC+8", "--language", "fr")
    assert done.returncode == 2
    assert "timezone" in done.stderr and "language" in done.stderr
    assert db.execute("SELECT 1 FROM park WHERE park_id = %s", (park,)).fetchone() is None
