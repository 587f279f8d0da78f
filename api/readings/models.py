"""EMS push request and response models (the OpenAPI contract of ``POST /v1/readings``).

The body is checked by ``api.readings.parse`` (strict, fast, one error per bad field with its
index); these models document the same rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.readings.enums import Outcome, RejectReason
from contracts.patterns import ID_PATTERN, UNIT_PATTERN


class PushReading(BaseModel):
    """One reading: a JSON number (never a string or boolean), finite; an aware ISO 8601 time."""

    model_config = ConfigDict(extra="forbid")

    meter_id: str = Field(pattern=ID_PATTERN, examples=["E-0001"])
    ts: str = Field(
        description="ISO 8601 instant with a UTC offset, e.g. 2026-01-05T08:00:00+08:00",
        examples=["2026-01-05T08:00:00+08:00"],
    )
    value: float = Field(strict=True, allow_inf_nan=False, examples=[123456.7])
    unit: str = Field(
        pattern=UNIT_PATTERN, description="The meter's registry unit", examples=["kWh"]
    )


class ReadingResult(BaseModel):
    index: int = Field(description="Position in the pushed batch (CSV: data row, from 0)")
    meter_id: str
    ts: str = Field(
        description="The reading's time in UTC; as pushed when it is TIMESTAMP_OUT_OF_RANGE"
    )
    outcome: Outcome
    reason: RejectReason | None = None
    detail: str | None = None


class PushResult(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[ReadingResult]


def request_body_schema(max_readings: int) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of the push: JSON or CSV with the same four fields."""
    reading = PushReading.model_json_schema()
    body = {
        "type": "object",
        "additionalProperties": False,
        "required": ["readings"],
        "properties": {
            "readings": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_readings,
                "items": reading,
            }
        },
    }
    csv_example = "meter_id,ts,value,unit\nE-0001,2026-01-05T08:00:00+08:00,123456.7,kWh\n"
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": body},
                "text/csv": {
                    "schema": {"type": "string", "description": "header meter_id,ts,value,unit"},
                    "example": csv_example,
                },
            },
        }
    }
