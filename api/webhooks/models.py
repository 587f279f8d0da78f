"""Webhook API models: subscriptions (endpoints), secrets, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.webhooks.enums import AttemptOutcome, DeliveryStatus, EventType

_DAY_S = 86_400


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=8,
        max_length=2000,
        description="http(s) URL; its host must not resolve to link-local, metadata, "
        "multicast or (unless the API allows private targets) loopback/private addresses",
    )
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))
    enterprise_id: str | None = Field(
        default=None,
        max_length=64,
        description="Receive only this enterprise's events; omit for every event of the park",
    )
    description: str = Field(default="", max_length=500)


class EndpointUpdate(BaseModel):
    """Fields to change; omitted fields stay. ``enabled: true`` re-enables after a 410."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EventType)
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = None


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period_s: StrictInt = Field(
        default=_DAY_S,
        ge=0,
        le=7 * _DAY_S,
        description="How long the previous secret keeps signing too (both signatures are sent)",
    )


class EndpointOut(BaseModel):
    endpoint_id: str
    url: str
    description: str
    event_types: list[EventType]
    enterprise_id: str | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        description="While set, messages carry a signature with the previous secret as well"
    )
    created_at: datetime
    created_by: str
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="whsec_ signing secret. Shown only when created or rotated: store it"
    )


class AttemptOut(BaseModel):
    attempt_no: int
    attempted_at: datetime
    outcome: AttemptOutcome
    response_status: int | None
    latency_ms: float
    error: str
    response_excerpt: str = Field(description="The first 500 characters of the answer")
    retry_in_s: float | None = Field(description="Delay chosen before the next attempt")


class DeliveryOut(BaseModel):
    delivery_id: int
    message_id: str = Field(description="The webhook-id header: the same on every attempt")
    endpoint_id: str
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="Set while the delivery is pending")
    created_at: datetime
    finished_at: datetime | None
    redelivery_of: int | None
    attempt_log: list[AttemptOut]
