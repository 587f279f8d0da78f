"""Request and response bodies of ``/v1/gateways``: which gateway may send which meters
(migration 0014). Request bodies forbid unknown fields; grant lists hold no duplicates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from api.registry.common import ID_PATTERN, METER_ID_PATTERN, PatchBody
from api.registry.enums import GatewayStatus
from api.registry.models import Strict
from contracts import patterns

# The gateway_id of a readings.raw batch (contracts/records.py), which is what the worker checks.
GATEWAY_ID_PATTERN = patterns.ID_PATTERN
MAX_GRANTS = 10_000

EnterpriseIds = list[Annotated[str, Field(pattern=ID_PATTERN)]]
MeterIds = list[Annotated[str, Field(pattern=METER_ID_PATTERN)]]


def _distinct(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"listed more than once: {', '.join(sorted(set(seen)))}")
    return sorted(values)


class GatewayCreate(Strict):
    gateway_id: str = Field(pattern=GATEWAY_ID_PATTERN, description="As the gateway's batches say.")
    park_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(default="", max_length=200)
    enterprise_ids: EnterpriseIds = Field(
        default_factory=list,
        max_length=MAX_GRANTS,
        description="Enterprises of the park whose meters (also those added later) it may send.",
    )
    meter_ids: MeterIds = Field(
        default_factory=list,
        max_length=MAX_GRANTS,
        description="Single meters of the park it may send, beside whole enterprises.",
    )
    reason: str = Field(default="", max_length=1000, description="Recorded in the audit log.")

    @field_validator("enterprise_ids", "meter_ids")
    @classmethod
    def _distinct_grants(cls, values: list[str]) -> list[str] | None:
        return _distinct(values)


class GatewayPatch(PatchBody):
    """Fields to change; grant lists are replaced whole. ``reason`` goes to the audit log."""

    NOT_NULL = ("name", "enterprise_ids", "meter_ids", "status")
    name: str | None = Field(default=None, max_length=200)
    enterprise_ids: EnterpriseIds | None = Field(default=None, max_length=MAX_GRANTS)
    meter_ids: MeterIds | None = Field(default=None, max_length=MAX_GRANTS)
    status: GatewayStatus | None = None
    reason: str = Field(default="", max_length=1000)

    @field_validator("enterprise_ids", "meter_ids")
    @classmethod
    def _distinct_grants(cls, values: list[str] | None) -> list[str] | None:
        return _distinct(values)

    def changes(self) -> dict[str, object]:
        return {k: v for k, v in super().changes().items() if k != "reason"}


class Gateway(BaseModel):
    gateway_id: str
    park_id: str
    name: str
    enterprise_ids: list[str]
    meter_ids: list[str]
    status: GatewayStatus
    created_at: datetime
    updated_at: datetime
