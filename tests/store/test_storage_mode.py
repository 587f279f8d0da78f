"""The storage mode a database is migrated in (TimescaleDB or plain PostgreSQL), for real.

`make test` runs the storage, rollup, query and Grafana-SQL tests a second time with
``--storage-mode=timescaledb`` on a server that `stack start` built the extension for (from
its source archive) and preloaded: the first test here proves that pass really runs on
hypertables with compression and retention policies. The second starts a server of its own
*without* the preload, on a machine where the extension is installed, and checks that
``parkcarbon db migrate`` falls back to plain PostgreSQL and says what to change, where it used
to die with "the connection is closed"."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from config.settings import StackSettings
from deploy import postgres, timescaledb
from store.migrate import NOT_PRELOADED
from store.migrate import storage_mode as mode_of

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PARKCARBON = ROOT / ".venv" / "bin" / "parkcarbon"
ARCHIVES = sorted((ROOT.parent / "shared" / "vendor").glob("timescaledb-*.tar.gz"))


def test_the_run_database_is_in_the_mode_asked_for(
    db: psycopg.Connection[Any], storage_mode: str
) -> None:
    assert mode_of(db) == storage_mode
    if storage_mode != "timescaledb":
        return
    hypertables = {
        r[0] for r in db.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
    }
    assert {"reading", "emission_window"} <= hypertables
    jobs = {
        r[0]
        for r in db.execute(
            "SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL"
        )
    }
    assert "policy_compression" in jobs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_an_installed_but_not_preloaded_timescaledb_falls_back_to_postgresql_and_says_why(
    running_stack: StackSettings,
) -> None:
    if not timescaledb.installed(postgres.bin_dir()):
        # `make test` installs it whenever its source archive is beside the project: then a
        # missing extension is a failure. Only a checkout without the archive cannot run this.
        assert not ARCHIVES, f"TimescaleDB not installed although {ARCHIVES[0]} is here"
        pytest.skip("no TimescaleDB source archive in ../shared/vendor/ to install it from")
    state = ROOT / ".parkcarbon" / "test-no-preload"
    shutil.rmtree(state, ignore_errors=True)
    url = f"postgresql://parkcarbon@127.0.0.1:{_free_port()}/parkcarbon"
    own = StackSettings(state_dir=state, database_url=url, timescaledb_source=None)
    postgres.start(own)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_")}
        env["PARKCARBON_DATABASE_URL"] = url
        auto = subprocess.run(
            [PARKCARBON, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
        )
        assert auto.returncode == 0, auto.stdout + auto.stderr
        assert "storage mode: postgresql" in auto.stdout
        assert NOT_PRELOADED in " ".join(auto.stderr.split())
        with psycopg.connect(url, autocommit=True) as conn:
            assert mode_of(conn) == "postgresql"
            conn.execute("CREATE DATABASE insisting")
        env["PARKCARBON_DATABASE_URL"] = url.rsplit("/", 1)[0] + "/insisting"
        env["PARKCARBON_STORAGE_MODE"] = "timescaledb"
        insist = subprocess.run(
            [PARKCARBON, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
        )
        assert insist.returncode == 1
        assert "shared_preload_libraries" in insist.stdout + insist.stderr
    finally:
        postgres.stop(own)
        shutil.rmtree(state, ignore_errors=True)
