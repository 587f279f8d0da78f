"""Shared fixtures: one real broker, one real database, started once for the whole run.

Integration tests (marked ``integration``) use the local stack that ``parkcarbon stack start``
runs; the fixtures start it if it is down. Each run migrates a fresh ``parkcarbon_test``
database so migrations are exercised from empty every time.

Tests never publish to the default (un-prefixed) topics, which `make up`'s worker consumes:
leftovers there became alerts about meters nobody knows. They use the ``worker`` fixture's
topics or a topic of their own (``raw_topic``). A run that used the broker checks this at its
end: if a default topic gained messages meanwhile, the run fails and names their sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.workers import Worker, start_worker, stop_workers, wait_ready
from config.settings import StackSettings
from contracts.records import decode_batch
from deploy import stack as local_stack
from stream.topics import Topic, create_topics, topic_name

ROOT = Path(__file__).resolve().parent.parent
# One database per test run, so runs in parallel (two checkouts, two developers) never collide.
TEST_DB = f"parkcarbon_test_{os.getpid()}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--storage-mode",
        choices=("postgresql", "timescaledb"),
        default="postgresql",
        help="Storage mode of the run's test database (timescaledb: the server must have the"
        " extension preloaded, as `make test` starts it when the source archive is there)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that stop and restart a stack component run last, so nothing else sees the outage.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings(state_dir=ROOT / ".parkcarbon")


DEFAULT_TOPICS = [t.value for t in Topic]  # no prefix: the topics of `make up`'s worker
_DEFAULT_ENDS: dict[str, dict[TopicPartition, int]] = {}  # bootstrap -> end offsets at start


async def default_topic_ends(bootstrap: str) -> dict[TopicPartition, int]:
    """End offsets of every partition of the default topics that exist on the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(DEFAULT_TOPICS)
    finally:
        await admin.close()
    parts = [
        TopicPartition(d["topic"], p["partition"])
        for d in described
        if d["error_code"] == 0
        for p in d["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        # aiokafka's stop right after start can re-raise the cancellation of its own internal
        # task; the offsets are already read by then.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


async def _sources_since(bootstrap: str, start: dict[TopicPartition, int]) -> dict[str, int]:
    """Messages written to the default topics since ``start``, counted by their source (a raw
    batch's source key, else the message key): what to look for in the tests."""
    end = await default_topic_ends(bootstrap)
    grown = {tp: o for tp, o in end.items() if o > start.get(tp, 0)}
    if not grown:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, int] = {}
    try:
        consumer.assign(list(grown))
        for tp in grown:
            consumer.seek(tp, start.get(tp, 0))
        left = {tp: o - start.get(tp, 0) for tp, o in grown.items()}
        async with asyncio.timeout(20):
            while any(n > 0 for n in left.values()):
                for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                    for m in messages:
                        left[tp] -= 1
                        batch = (
                            decode_batch(m.value).batch if tp.topic == Topic.READINGS_RAW else None
                        )
                        who = batch.source_key if batch else (m.key or b"").decode(errors="replace")
                        name = f"{tp.topic}: {who}"
                        found[name] = found.get(name, 0) + 1
    except TimeoutError:
        found["(not all read back within 20 s)"] = 0
    finally:
        await consumer.stop()
    return found


@pytest.fixture(scope="session")
def running_stack(stack_settings: StackSettings) -> StackSettings:
    local_stack.start(stack_settings)
    bootstrap = stack_settings.kafka_bootstrap
    _DEFAULT_ENDS.setdefault(bootstrap, asyncio.run(default_topic_ends(bootstrap)))
    return stack_settings


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if the default topics gained messages while it ran (see the docstring)."""
    for bootstrap, start in _DEFAULT_ENDS.items():
        try:
            sources = asyncio.run(_sources_since(bootstrap, start))
        except (Exception, asyncio.CancelledError) as exc:  # reported, never skipped
            sources = {f"(could not read the default topics: {exc!r})": 0}
        if not sources:
            continue
        listed = "\n".join(f"  {name}: {n} message(s)" for name, n in sorted(sources.items()))
        session.config.get_terminal_writer().line(
            "\nThe default topics gained messages during this run (a test must use the"
            f" worker's prefix or a topic of its own):\n{listed}",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def storage_mode(pytestconfig: pytest.Config) -> str:
    """The storage mode the run's test database is migrated in (``--storage-mode``)."""
    return str(pytestconfig.getoption("storage_mode"))


@pytest.fixture(scope="session")
def database_url(running_stack: StackSettings, storage_mode: str) -> Iterator[str]:
    """A freshly created and migrated test database, shared by the whole run."""
    from store.migrate import migrate

    base = running_stack.database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {TEST_DB}")
    url = f"{base}/{TEST_DB}"
    migrate(url, mode="timescaledb" if storage_mode == "timescaledb" else "postgresql")
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
async def raw_topic(kafka_bootstrap: str, unique: str) -> AsyncIterator[str]:
    """A readings.raw of the test's own (6 partitions, as the default): no worker reads it and
    `make up`'s worker never sees what the test sends."""
    name = f"t{unique}.{Topic.READINGS_RAW.value}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=6, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


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

    def wait_for_registry(self, db: psycopg.Connection[Any], timeout_s: float = 30.0) -> None:
        """Wait until the worker has loaded the registry as it is now in ``db`` (a change is
        picked up at the worker's next check, every PARKCARBON_REGISTRY_REFRESH_S)."""
        from store.registry import registry_version

        wanted = f"fingerprint {registry_version(db)[1]}".encode()
        deadline = time.monotonic() + timeout_s
        while wanted not in self.log.read_bytes():
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker did not load the registry in {timeout_s} s")
            time.sleep(0.05)


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
        PARKCARBON_REGISTRY_REFRESH_S="0.5",  # registry changes reach tests' worker at once
    )
    yield RunningWorker(log_path, prefix)
    stop_worker(proc)
