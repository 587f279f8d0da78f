"""Shared fixtures: one real broker, one real database, started once for the whole run.

Integration tests (marked ``integration``) use the local stack that ``parkcarbon stack start``
runs; the fixtures start it if it is down. Each run migrates a fresh ``parkcarbon_test``
database so migrations are exercised from empty every time.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.workers import Worker, start_worker, stop_workers, wait_ready
from config.settings import StackSettings
from deploy import stack as local_stack
from stream.topics import Topic, create_topics, topic_name

ROOT = Path(__file__).resolve().parent.parent
# One database per test run, so runs in parallel (two checkouts, two developers) never collide.
TEST_DB = f"parkcarbon_test_{os.getpid()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that stop and restart a stack component run last, so nothing else sees the outage.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings(state_dir=ROOT / ".parkcarbon")


@pytest.fixture(scope="session")
def running_stack(stack_settings: StackSettings) -> StackSettings:
    local_stack.start(stack_settings)
    return stack_settings


@pytest.fixture(scope="session")
def database_url(running_stack: StackSettings) -> Iterator[str]:
    """A freshly created and migrated test database, shared by the whole run."""
    from store.migrate import migrate

    base = running_stack.database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEST_DB}")
    url = f"{base}/{TEST_DB}"
    migrate(url)
    yield url
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def kafka_bootstrap(running_stack: StackSettings) -> str:
    import asyncio

    from stream.topics import create_topics

    asyncio.run(
        create_topics(
            running_stack.kafka_bootstrap,
            partitions=running_stack.topic_partitions,
            replication=running_stack.topic_replication,
        )
    )
    return running_stack.kafka_bootstrap


@pytest.fixture
def unique() -> str:
    """A short unique suffix so tests sharing the broker and database never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def cli_env(stack_settings: StackSettings) -> dict[str, str]:
    env = dict(os.environ)
    env["PARKCARBON_STATE_DIR"] = str(stack_settings.state_dir)
    return env


def spawn_worker(
    *, database_url: str, kafka_bootstrap: str, app_id: str, state: Path, **extra_env: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start a real `parkcarbon worker` process and wait until it has joined and loaded."""
    worker = start_worker(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        app_id=app_id,
        state=state,
        extra_env=extra_env,
    )
    wait_ready([worker])
    return worker.proc, worker.log


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    stop_workers([Worker(proc, Path())])


@dataclass(frozen=True)
class RunningWorker:
    log: Path
    prefix: str  # the worker's topics are its own: other tests' traffic never reaches it

    def topic(self, topic: Topic) -> str:
        return topic_name(topic, self.prefix)


@pytest.fixture(scope="session")
def worker(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWorker]:
    """One stream worker (a real `parkcarbon worker` process) shared by the whole run."""
    import asyncio

    prefix = f"t{uuid.uuid4().hex[:8]}."
    asyncio.run(create_topics(kafka_bootstrap, partitions=6, replication=1, prefix=prefix))
    proc, log_path = spawn_worker(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        app_id=f"parkcarbon-test-{prefix}",
        state=tmp_path_factory.mktemp("worker"),
        PARKCARBON_TOPIC_PREFIX=prefix,
    )
    yield RunningWorker(log_path, prefix)
    stop_worker(proc)
