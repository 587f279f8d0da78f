"""``/v1/webhooks``: subscriptions of duty staff's systems to alert and ticket events, their
secrets, the delivery log, manual redelivery and a test ping (Standard Webhooks spec). A
subscription's ``kind`` is its channel: Standard Webhooks, a WeCom, DingTalk or Feishu group
robot, or e-mail (api/webhooks/senders.py).

Needs the ``webhooks:admin`` scope (admin and operator keys). A caller confined to an
enterprise would see only its enterprise's endpoints; others are 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from psycopg import errors as pg_errors

from api.deps import DbDep, StateDep, require
from api.errors import ApiError, problems
from api.keys import Principal, Scope
from api.webhooks import deliveries, outbox, service, targets
from api.webhooks.enums import ChannelKind, DeliveryStatus, EventType
from api.webhooks.models import (
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    SecretRotate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookAdmin = Annotated[Principal, Depends(require(Scope.WEBHOOKS_ADMIN))]
EndpointId = Annotated[str, Path(description="An endpoint id, ep_...")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A delivery id")]


async def _visible(conn: DbDep, who: Principal, endpoint_id: str) -> EndpointOut:
    found = await service.get_endpoint(conn, endpoint_id=endpoint_id)
    if found is None or not who.sees(found.enterprise_id):
        raise ApiError(404, f"no webhook endpoint {endpoint_id!r}")
    return found


def _target_problem(exc: targets.TargetError) -> ApiError:
    return ApiError(422, f"webhook URL refused: {exc}")


@router.post(
    "", status_code=201, response_model=EndpointWithSecret, responses=problems(401, 403, 422, 503)
)
async def create(
    body: EndpointCreate, conn: DbDep, state: StateDep, who: WebhookAdmin
) -> EndpointWithSecret:
    """Subscribe a URL to event types. The answer carries the ``whsec_`` signing secret once.

    422: the URL is not http(s), carries credentials, does not resolve, or resolves to a
    link-local, cloud metadata, unspecified, multicast or reserved address (or, unless the API
    allows private targets, a loopback or private one); or the enterprise is unknown."""
    if who.enterprise_id is not None:
        if body.enterprise_id not in (None, who.enterprise_id):
            raise ApiError(422, "an enterprise key subscribes to its own enterprise only")
        body = body.model_copy(update={"enterprise_id": who.enterprise_id})
    try:
        return await service.create_endpoint(
            conn,
            body=body,
            allow_private=state.settings.webhook_allow_private_targets,
            actor=who.actor,
        )
    except targets.TargetError as exc:
        raise _target_problem(exc) from exc
    except pg_errors.ForeignKeyViolation as exc:
        raise ApiError(422, f"unknown enterprise {body.enterprise_id!r}") from exc


@router.get("", response_model=list[EndpointOut], responses=problems(401, 403, 503))
async def list_all(conn: DbDep, who: WebhookAdmin) -> list[EndpointOut]:
    """Every endpoint (secrets are never shown again), oldest first."""
    return await service.list_endpoints(conn, enterprise_id=who.enterprise_id)


@router.get("/{endpoint_id}", response_model=EndpointOut, responses=problems(401, 403, 404, 503))
async def get(endpoint_id: EndpointId, conn: DbDep, who: WebhookAdmin) -> EndpointOut:
    return await _visible(conn, who, endpoint_id)


@router.patch(
    "/{endpoint_id}", response_model=EndpointOut, responses=problems(401, 403, 404, 422, 503)
)
async def update(
    endpoint_id: EndpointId, body: EndpointUpdate, conn: DbDep, state: StateDep, who: WebhookAdmin
) -> EndpointOut:
    """Change the URL (checked like a new one: 422), event types, description, or enable it
    again after a 410 Gone disabled it (``enabled: true``); pending deliveries then resume."""
    await _visible(conn, who, endpoint_id)
    try:
        updated = await service.update_endpoint(
            conn,
            endpoint_id=endpoint_id,
            changes=body,
            allow_private=state.settings.webhook_allow_private_targets,
            actor=who.actor,
        )
    except targets.TargetError as exc:
        raise _target_problem(exc) from exc
    except ValueError as exc:  # a change this kind of channel does not take
        raise ApiError(422, str(exc)) from exc
    if updated is None:
        raise ApiError(404, f"no webhook endpoint {endpoint_id!r}")
    return updated


@router.delete("/{endpoint_id}", response_model=EndpointOut, responses=problems(401, 403, 404, 503))
async def delete(endpoint_id: EndpointId, conn: DbDep, who: WebhookAdmin) -> EndpointOut:
    """Remove the endpoint with its pending deliveries and delivery log."""
    await _visible(conn, who, endpoint_id)
    deleted = await service.delete_endpoint(conn, endpoint_id=endpoint_id, actor=who.actor)
    if deleted is None:
        raise ApiError(404, f"no webhook endpoint {endpoint_id!r}")
    return deleted


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def rotate_secret(
    endpoint_id: EndpointId, conn: DbDep, who: WebhookAdmin, body: SecretRotate | None = None
) -> EndpointWithSecret:
    """A new secret (shown once). For ``grace_period_s`` (default a day) every message is signed
    with both the new and the previous secret, so receivers can switch without losing one.
    409 for a robot or e-mail channel: its secret is the service's, changed with PATCH."""
    found = await _visible(conn, who, endpoint_id)
    if found.kind is not ChannelKind.STANDARD:
        raise ApiError(
            409, f"a {found.kind.value} channel's secret is set with PATCH, not generated here"
        )
    grace = (body or SecretRotate()).grace_period_s
    rotated = await service.rotate_secret(
        conn, endpoint_id=endpoint_id, grace_period_s=grace, actor=who.actor
    )
    if rotated is None:
        raise ApiError(404, f"no webhook endpoint {endpoint_id!r}")
    return rotated


@router.post(
    "/{endpoint_id}/ping",
    status_code=202,
    response_model=DeliveryOut,
    responses=problems(401, 403, 404, 409, 503),
)
async def ping(endpoint_id: EndpointId, conn: DbDep, who: WebhookAdmin) -> DeliveryOut:
    """Queue a signed ``ping`` message to this endpoint (whatever it subscribes to); follow it
    in the delivery log. 409 if the endpoint is disabled."""
    endpoint = await _visible(conn, who, endpoint_id)
    if not endpoint.enabled:
        raise ApiError(409, f"endpoint {endpoint_id} is disabled: {endpoint.disabled_reason}")
    delivery_id = await outbox.enqueue_to(
        conn,
        endpoint_id=endpoint_id,
        event_type=EventType.PING,
        payload={"endpoint_id": endpoint_id, "requested_by": who.actor},
    )
    found = await deliveries.get_delivery(conn, delivery_id=delivery_id)
    assert found is not None
    return found


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=problems(401, 403, 404, 422, 503),
)
async def list_deliveries(
    endpoint_id: EndpointId,
    conn: DbDep,
    who: WebhookAdmin,
    status: DeliveryStatus | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only deliveries older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest first, each with every attempt (status, latency,
    error, response excerpt, the retry delay chosen). Page with ``before`` = the last id."""
    await _visible(conn, who, endpoint_id)
    return await deliveries.list_deliveries(
        conn, endpoint_id=endpoint_id, status=status, before=before, limit=limit
    )


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    responses=problems(401, 403, 404, 409, 422, 503),
)
async def redeliver(delivery_id: DeliveryId, conn: DbDep, who: WebhookAdmin) -> DeliveryOut:
    """Send a delivered or failed message again, with the same ``webhook-id`` so the receiver
    can tell it has seen it. 409 while the delivery is still pending or the endpoint is
    disabled."""
    original = await deliveries.get_delivery(conn, delivery_id=delivery_id)
    endpoint = None
    if original is not None:
        endpoint = await service.get_endpoint(conn, endpoint_id=original.endpoint_id)
    if original is None or endpoint is None or not who.sees(endpoint.enterprise_id):
        raise ApiError(404, f"no webhook delivery {delivery_id}")
    if original.status is DeliveryStatus.PENDING:
        raise ApiError(409, f"delivery {delivery_id} is still pending: it will be retried")
    if not endpoint.enabled:
        raise ApiError(409, f"endpoint {endpoint.endpoint_id} is disabled: enable it first")
    new_id = await deliveries.redeliver(conn, delivery_id=delivery_id)
    found = await deliveries.get_delivery(conn, delivery_id=new_id)
    assert found is not None
    return found
