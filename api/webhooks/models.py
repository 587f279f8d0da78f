"""Webhook API models: subscriptions (endpoints), secrets, deliveries and their attempts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from api.webhooks.enums import AttemptOutcome, ChannelKind, DeliveryStatus, EventType, Language

_DAY_S = 86_400
# A plain address (no display name): enough to reject typos, not a full RFC 5322 parser.
_ADDRESS = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"
SIGNED_ROBOTS = frozenset({ChannelKind.DINGTALK, ChannelKind.FEISHU})


class EmailConfig(BaseModel):
    """Who an e-mail channel writes as and to; the SMTP password is the endpoint's secret."""

    model_config = ConfigDict(extra="forbid")

    sender: str = Field(pattern=_ADDRESS, max_length=254, description="The From address")
    recipients: list[str] = Field(
        min_length=1, max_length=50, description="The To addresses (duty staff, a list)"
    )
    username: str | None = Field(
        default=None, max_length=254, description="SMTP user name, if the server asks for one"
    )

    @model_validator(mode="after")
    def _addresses(self) -> Self:
        bad = [r for r in self.recipients if len(r) > 254 or not re.match(_ADDRESS, r)]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return self


def check_channel(
    kind: ChannelKind, *, secret: str | None, email: EmailConfig | None, creating: bool
) -> None:
    """What each kind needs: a secret given for DingTalk and Feishu (their robot's signing
    secret), none for WeCom and Standard Webhooks (one is generated), recipients for e-mail."""
    if kind is ChannelKind.STANDARD and secret is not None:
        raise ValueError("a standard webhook's secret is generated (see rotate-secret)")
    if kind is ChannelKind.WECOM and secret is not None:
        raise ValueError("a WeCom robot has no signing secret: its key is in the URL")
    if kind in SIGNED_ROBOTS and creating and secret is None:
        raise ValueError(f"a {kind.value} robot needs its signing secret (security setting)")
    if (kind is ChannelKind.EMAIL) != (email is not None) and (creating or email is not None):
        raise ValueError("email (sender, recipients) is required for, and only for, kind email")


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
    kind: ChannelKind = Field(
        default=ChannelKind.STANDARD,
        description="standard (Standard Webhooks), wecom, dingtalk, feishu (group robots: "
        "the robot's webhook URL) or email (url smtp://host:587 for STARTTLS, "
        "smtps://host:465 for TLS)",
    )
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="The robot's signing secret (dingtalk, feishu) or the SMTP password "
        "(email); never shown again",
    )
    email: EmailConfig | None = None
    language: Language | None = Field(
        default=None, description="Language of notifications; omit for the park's (zh-CN)"
    )

    @model_validator(mode="after")
    def _channel(self) -> Self:
        check_channel(self.kind, secret=self.secret, email=self.email, creating=True)
        return self


class EndpointUpdate(BaseModel):
    """Fields to change; omitted fields stay. ``enabled: true`` re-enables after a 410."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EventType)
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = None
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="A new robot signing secret or SMTP password (not for standard webhooks: "
        "rotate-secret)",
    )
    email: EmailConfig | None = None
    language: Language | None = None


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
    kind: ChannelKind
    url: str = Field(description="A robot's URL shows only the end of its key or token")
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
    email: EmailConfig | None
    language: Language | None


class EndpointWithSecret(EndpointOut):
    secret: str | None = Field(
        description="whsec_ signing secret of a standard webhook. Shown only when created or "
        "rotated: store it (null for other kinds: their secret is the one you gave)"
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
