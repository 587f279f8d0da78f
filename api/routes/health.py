"""``/healthz`` (component status) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.deps import StateDep

router = APIRouter(tags=["health"])


class ComponentHealth(BaseModel):
    status: Literal["up", "down"]
    detail: str = ""


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]


async def _database(state: StateDep) -> ComponentHealth:
    try:
        async with state.pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:  # any failure is "down", reported with its text
        return ComponentHealth(status="down", detail=str(exc)[:200])
    return ComponentHealth(status="up")


async def _kafka(state: StateDep) -> ComponentHealth:
    try:
        up = await asyncio.wait_for(state.producer.ready(), 3)
    except TimeoutError:
        up = False
    return ComponentHealth(status="up" if up else "down")


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "A component is down"}},
)
async def healthz(state: StateDep) -> JSONResponse:
    """Status of each component the API needs; 503 when one is down."""
    components = {"database": await _database(state), "kafka": await _kafka(state)}
    for task in state.tasks:
        done = task.done() and not task.cancelled()
        failed = done and task.exception() is not None
        components[f"task:{task.get_name()}"] = ComponentHealth(
            status="down" if failed else "up",
            detail=repr(task.exception()) if failed else "",
        )
    ok = all(c.status == "up" for c in components.values())
    health = Health(status="ok" if ok else "degraded", components=components)
    return JSONResponse(health.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus metrics of this API process."""
    state.metrics.live_subscribers.set(state.hub.subscribers)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
