"""The FastAPI app: routers, error handling, and the process's lifetime (pool, producer,
background tasks). ``create_app(settings)`` builds one; ``parkcarbon api`` serves it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from api import errors, live_windows
from api.activity.views import router as activity_router
from api.context_issues.views import router as context_issues_router
from api.documents.views import router as documents_router
from api.interested_parties.views import router as interested_parties_router
from api.internal_audits.views import audits as audits_router
from api.internal_audits.views import findings as findings_router
from api.inventories.views import router as inventories_router
from api.management_reviews.views import router as management_reviews_router
from api.management_system.views import router as management_system_router
from api.measures.views import router as measures_router
from api.middleware import RequestGuard
from api.obligations.views import evaluations as evaluations_router
from api.obligations.views import obligations as obligations_router
from api.page.views import router as page_router
from api.producer import RawProducer
from api.queries.views import router as queries_router
from api.readings.views import router as readings_router
from api.registers import reminders as register_reminders
from api.registry.views import router as registry_router
from api.reports.views import router as reports_router
from api.risks.views import router as risks_router
from api.routes.health import router as health_router
from api.routes.keys import router as keys_router
from api.routes.live import router as live_router
from api.state import AppState
from api.tickets import consumer as alerts_consumer
from api.tickets.views import router as tickets_router
from api.training.views import router as training_router
from api.webhooks import dispatcher as webhook_dispatcher
from api.webhooks.views import router as webhooks_router
from config.settings import ApiSettings

log = logging.getLogger(__name__)

Background = Callable[[AppState], Coroutine[Any, Any, None]]


def _background(settings: ApiSettings) -> list[tuple[str, Background]]:
    tasks: list[tuple[str, Background]] = [
        ("webhooks", webhook_dispatcher.run),
        ("live-windows", live_windows.run),
        ("register-reminders", register_reminders.run),
    ]
    if settings.api_consume_alerts:
        tasks.append(("alerts", alerts_consumer.run))
    return tasks


def create_app(settings: ApiSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=10,
            kwargs={"autocommit": True},
            open=False,
        )
        # Do not wait for the database: the API starts, /healthz says what is down.
        await pool.open(wait=False)
        state = AppState(
            settings=settings,
            pool=pool,
            producer=RawProducer(
                settings.kafka_bootstrap,
                timeout_s=settings.api_kafka_timeout_s,
                security=settings.kafka_security(),
                max_message_bytes=settings.kafka_max_message_bytes,
                compression=settings.kafka_compression,
            ),
        )
        app.state.parkcarbon = state
        for name, run in _background(settings):
            state.tasks.append(asyncio.create_task(run(state), name=name))
        # What exists now lives as long as the process: keep it out of the collector's full
        # passes, which otherwise took half of the API's CPU under an EMS push load.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)
            await state.producer.stop()
            await pool.close()

    app = FastAPI(
        title="parkcarbon API",
        version="1",
        summary="Energy readings, CO2e, deviation alerts and corrective-action tickets of a park",
        lifespan=lifespan,
        # Any route may meet a database or broker outage, a body over the size limit, or a body
        # that does not parse (FastAPI's 400 "There was an error parsing the body").
        responses=errors.problems(400, 413, 503),
    )
    errors.install(app)
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.api_max_body_bytes)
    app.add_middleware(RequestGuard, max_body_bytes=settings.api_max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document_validation_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    for router in (
        health_router,
        keys_router,
        registry_router,
        readings_router,
        queries_router,
        tickets_router,
        activity_router,
        documents_router,
        training_router,
        risks_router,
        context_issues_router,
        interested_parties_router,
        measures_router,
        obligations_router,
        evaluations_router,
        audits_router,
        findings_router,
        webhooks_router,
        live_router,
        reports_router,
        inventories_router,
        management_reviews_router,
        management_system_router,
        page_router,
    ):
        app.include_router(router)
    return app
