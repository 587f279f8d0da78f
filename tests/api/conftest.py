"""API fixtures: one real API server (uvicorn on a loopback port) for the whole run, against the
run's test database and the real broker, and keys of every role.

Tests share the server and the database: each creates its own objects with unique ids
(the ``unique`` fixture) and never assumes it is alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from psycopg import AsyncConnection

from api import key_store
from api.app import create_app
from api.keys import Role
from api.state import AppState
from config.settings import ApiSettings
from deploy import kafka_tls
from stream.topics import create_topics
from tests.conftest import RunningWorker

# Enterprises of the API tests' park: "a" and "b" are tenants that must never see each other.
PARK = "apitest"
ENTERPRISE_A = "apitest-ent-a"
ENTERPRISE_B = "apitest-ent-b"


@dataclass(frozen=True)
class ApiServer:
    url: str
    settings: ApiSettings
    database_url: str
    app: FastAPI | None = None  # the served app: its state (``app.state.parkcarbon``) for tests

    @property
    def state(self) -> AppState:
        assert self.app is not None
        state: AppState = self.app.state.parkcarbon
        return state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_api(settings: ApiSettings) -> AsyncIterator[ApiServer]:
    """An API (``create_app(settings)``) served by uvicorn on 127.0.0.1:``settings.api_port``
    in this event loop, until the block ends."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=settings.api_port,
            log_level="warning",
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    assert server.started, "the API server did not start within 10 s"
    try:
        yield ApiServer(
            f"http://127.0.0.1:{settings.api_port}", settings, settings.database_url, app
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 15)


@pytest.fixture(scope="session")
async def api_park(database_url: str) -> str:
    """A park with two enterprises (tenants A and B), created once per run."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO park (park_id, name, timezone) VALUES (%s, 'API test park',"
            " 'Asia/Shanghai') ON CONFLICT DO NOTHING",
            (PARK,),
        )
        for ent in (ENTERPRISE_A, ENTERPRISE_B):
            await conn.execute(
                "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (ent, PARK, ent),
            )
    return PARK


@dataclass(frozen=True)
class SmtpTls:
    """A CA the test API trusts for SMTP (``webhook_smtp_ca_file``) and a certificate it
    signed for 127.0.0.1, for the tests' local SMTP receivers."""

    ca: kafka_tls.Issued
    server: kafka_tls.Issued


@pytest.fixture(scope="session")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> SmtpTls:
    folder = tmp_path_factory.mktemp("smtp-tls")
    ca = kafka_tls.make_ca(folder)
    return SmtpTls(
        ca, kafka_tls.issue(ca, folder, "smtp", hosts=["127.0.0.1", "localhost"], server=True)
    )


@pytest.fixture(scope="session")
async def api_server(
    database_url: str,
    kafka_bootstrap: str,
    api_park: str,
    worker: RunningWorker,
    smtp_tls: SmtpTls,
) -> AsyncIterator[ApiServer]:
    """The API served by uvicorn on 127.0.0.1, on the same topics as the run's stream worker:
    pushed readings reach the worker and the worker's alerts reach the API, as in production."""
    prefix = worker.prefix
    await create_topics(kafka_bootstrap, partitions=6, replication=1, prefix=prefix)
    settings = ApiSettings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=prefix,
        api_port=_free_port(),
        webhook_allow_private_targets=True,
        webhook_backoff_base_s=0.2,
        webhook_backoff_max_s=2.0,
        webhook_smtp_ca_file=str(smtp_tls.ca.cert),
    )
    async with serve_api(settings) as server:
        yield server


MakeKey = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
async def make_key(api_server: ApiServer) -> MakeKey:
    """``await make_key(Role.OPERATOR)`` / ``make_key(Role.ENTERPRISE, enterprise_id=...)``:
    a fresh key's token, created the way ``parkcarbon api-key create`` does."""

    async def make(
        role: Role, *, enterprise_id: str | None = None, scopes: list[str] | None = None, **kw: Any
    ) -> str:
        async with await AsyncConnection.connect(api_server.database_url, autocommit=True) as c:
            _, token = await key_store.create_key(
                c,
                name=f"test-{role}",
                role=role,
                enterprise_id=enterprise_id,
                scopes=scopes,
                expires_at=kw.get("expires_at"),
                actor="test",
            )
        return token

    return make


def _client(server: ApiServer, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
async def admin(api_server: ApiServer, make_key: MakeKey) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(api_server, await make_key(Role.ADMIN)) as client:
        yield client


@pytest.fixture(scope="session")
async def operator(api_server: ApiServer, make_key: MakeKey) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(api_server, await make_key(Role.OPERATOR)) as client:
        yield client


@pytest.fixture(scope="session")
async def auditor(api_server: ApiServer, make_key: MakeKey) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(api_server, await make_key(Role.AUDITOR)) as client:
        yield client


@pytest.fixture(scope="session")
async def tenant_a(api_server: ApiServer, make_key: MakeKey) -> AsyncIterator[httpx.AsyncClient]:
    """An enterprise key of enterprise A."""
    token = await make_key(Role.ENTERPRISE, enterprise_id=ENTERPRISE_A)
    async with _client(api_server, token) as client:
        yield client


@pytest.fixture(scope="session")
async def tenant_b(api_server: ApiServer, make_key: MakeKey) -> AsyncIterator[httpx.AsyncClient]:
    """An enterprise key of enterprise B."""
    token = await make_key(Role.ENTERPRISE, enterprise_id=ENTERPRISE_B)
    async with _client(api_server, token) as client:
        yield client


@pytest.fixture
async def anonymous(api_server: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(api_server, None) as client:
        yield client


async def own_enterprise(server: ApiServer, tag: str) -> str:
    ent = f"own-{tag}"
    async with await AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO enterprise (enterprise_id, park_id, name) VALUES (%s, %s, %s)",
            (ent, PARK, f"own tenant {tag}"),
        )
    return ent


@pytest.fixture
async def own_tenant(api_server: ApiServer, make_key: MakeKey) -> AsyncIterator[tuple[str, Any]]:
    """An enterprise of this test's own and a client with its enterprise key."""
    ent = await own_enterprise(api_server, uuid.uuid4().hex[:8])
    token = await make_key(Role.ENTERPRISE, enterprise_id=ent)
    async with _client(api_server, token) as client:
        yield ent, client
