"""Request and response bodies of the organisation tree and the meter registry (clause 4.3,
9.1 c). Request bodies forbid unknown fields and never coerce strings or booleans into numbers."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from accounting.boundary import MeterRole
from accounting.carriers import Carrier
from accounting.meter import RegisterKind
from api.registry.common import ID_PATTERN, METER_ID_PATTERN, PatchBody
from api.registry.enums import MeteringLevel, MeterSourceCategory, MeterStatus


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnterpriseCreate(Strict):
    enterprise_id: str = Field(pattern=ID_PATTERN)
    park_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    industry_code: str | None = Field(default=None, max_length=16, description="GB/T 4754")


class EnterprisePatch(PatchBody):
    NOT_NULL = ("name",)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry_code: str | None = Field(default=None, max_length=16)


class Enterprise(BaseModel):
    enterprise_id: str
    park_id: str
    name: str
    industry_code: str | None
    created_at: datetime


class SiteCreate(Strict):
    site_id: str = Field(pattern=ID_PATTERN)
    enterprise_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class SitePatch(PatchBody):
    NOT_NULL = ("name",)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class Site(BaseModel):
    site_id: str
    enterprise_id: str
    name: str
    created_at: datetime


class MeterFields(Strict):
    """The registry fields an admin may set; ``enterprise_id`` only at creation."""

    site_id: str | None = Field(default=None, pattern=ID_PATTERN)
    name: str = Field(default="", max_length=200)
    carrier: Carrier
    unit: str = Field(min_length=1, max_length=16)
    register_kind: RegisterKind
    source_category: MeterSourceCategory
    multiplier: float = Field(default=1.0, gt=0, strict=True, allow_inf_nan=False)
    rollover: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    range_min: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    range_max: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    expected_interval_s: int = Field(default=900, gt=0, le=86_400 * 31, strict=True)
    accuracy_class: str = Field(default="1.0", min_length=1, max_length=8)
    metering_level: MeteringLevel = MeteringLevel.UNIT
    accuracy_category: str | None = Field(default=None, max_length=64)
    calibration_due: date | None = None
    factor_key: str | None = Field(
        default=None,
        max_length=64,
        description="Pin the meter to a factor series of the catalogue (GET /v1/factors,"
        " `series`) instead of its carrier's default",
    )
    in_boundary: bool = Field(
        default=True,
        strict=True,
        description="false: outside the accounting boundary (clause 4.3): stored, never counted",
    )
    parent_meter_id: str | None = Field(
        default=None,
        pattern=METER_ID_PATTERN,
        description="The meter this one is a sub-meter of (same enterprise and carrier): its"
        " windows are detail, never added to a total (docs/boundary.md)",
    )
    role: MeterRole = Field(
        default=MeterRole.CONSUMPTION,
        description="'export': electricity or heat sold or passed on, netted (-1) in every total"
        " (GB/T 32150 net purchased electricity and heat)",
    )
    max_rate_per_h: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    serial: str | None = Field(default=None, min_length=1, max_length=64)


class MeterCreate(MeterFields):
    meter_id: str = Field(pattern=METER_ID_PATTERN)
    enterprise_id: str = Field(pattern=ID_PATTERN)
    installed_at: AwareDatetime | None = Field(default=None, description="Default: now")


class MeterPatch(PatchBody):
    """Fields to change; a field sent as null clears it (where the registry allows null).

    The enterprise is not here: a metering point of another enterprise is a new meter.
    """

    NOT_NULL = (
        "name",
        "carrier",
        "unit",
        "register_kind",
        "source_category",
        "multiplier",
        "expected_interval_s",
        "accuracy_class",
        "metering_level",
        "in_boundary",
        "installed_at",
        "role",
    )

    site_id: str | None = Field(default=None, pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    carrier: Carrier | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    register_kind: RegisterKind | None = None
    source_category: MeterSourceCategory | None = None
    multiplier: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    rollover: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    range_min: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    range_max: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    expected_interval_s: int | None = Field(default=None, gt=0, le=86_400 * 31, strict=True)
    accuracy_class: str | None = Field(default=None, min_length=1, max_length=8)
    metering_level: MeteringLevel | None = None
    accuracy_category: str | None = Field(default=None, max_length=64)
    calibration_due: date | None = None
    factor_key: str | None = Field(default=None, max_length=64)
    in_boundary: bool | None = Field(default=None, strict=True)
    parent_meter_id: str | None = Field(default=None, pattern=METER_ID_PATTERN)
    role: MeterRole | None = None
    max_rate_per_h: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    installed_at: AwareDatetime | None = Field(
        default=None,
        description="When the meter went into service: history imports (`parkcarbon backfill`,"
        " `POST /v1/readings?mode=history`) accept readings from this time on. Set it to the"
        " start of the oldest history to import (a base year, last year's inventory).",
    )
    serial: str | None = Field(default=None, min_length=1, max_length=64)


class Meter(BaseModel):
    meter_id: str
    enterprise_id: str
    site_id: str | None
    name: str
    carrier: Carrier
    unit: str
    register_kind: RegisterKind
    source_category: MeterSourceCategory
    multiplier: float
    rollover: float | None
    range_min: float | None
    range_max: float | None
    expected_interval_s: int
    accuracy_class: str
    metering_level: MeteringLevel
    accuracy_category: str | None
    calibration_due: date | None
    factor_key: str | None
    in_boundary: bool
    parent_meter_id: str | None
    role: MeterRole
    max_rate_per_h: float | None
    serial: str | None
    status: MeterStatus
    installed_at: datetime
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MeterRetire(Strict):
    retired_at: AwareDatetime | None = Field(default=None, description="Default: now; not future")
    reason: str = Field(min_length=1, max_length=1000)


class ReplacementCreate(Strict):
    replaced_at: AwareDatetime = Field(description="When the device was swapped; not in future")
    old_serial: str | None = Field(default=None, min_length=1, max_length=64)
    new_serial: str = Field(min_length=1, max_length=64)
    final_register: float = Field(ge=0, strict=True, allow_inf_nan=False)
    initial_register: float = Field(ge=0, strict=True, allow_inf_nan=False)
    multiplier: float | None = Field(
        default=None,
        gt=0,
        strict=True,
        allow_inf_nan=False,
        description="The new device's CT/PT ratio; default: unchanged",
    )
    reason: str = Field(min_length=1, max_length=1000)


class Replacement(BaseModel):
    replacement_id: int
    meter_id: str
    replaced_at: datetime
    old_serial: str | None
    new_serial: str
    final_register: float
    initial_register: float
    multiplier_before: float
    multiplier_after: float
    reason: str
    created_by: str
    created_at: datetime
