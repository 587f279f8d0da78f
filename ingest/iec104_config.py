"""Configuration of one IEC 60870-5-104 outstation the gateway reads (``iec104_servers``).

Each point maps one information object address (IOA) of the station's common address to a
meter: integrated totals (M_IT_NA_1, M_IT_TB_1) as cumulative registers, measured values
(M_ME_*) as instantaneous ones; the type is whatever the outstation sends for that IOA.
The timing parameters are clause 5.2's (table 3 gives the defaults used here).
"""

from __future__ import annotations

from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.patterns import ID_RE, NAME_RE, UNIT_RE

_NAME = NAME_RE  # no "/": the source key is "<gateway>/<name>"
_METER_ID = ID_RE
_UNIT = UNIT_RE


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Iec104Point(_Strict):
    """One information object as one meter's register: (raw * scale + offset) * multiplier."""

    ioa: int = Field(ge=1, le=16_777_215, description="information object address (3 octets)")
    meter_id: str = Field(description="the registry's meter id this object reports")
    unit: str = Field(description="unit of the value after scale, as the registry's meter has it")
    kind: Literal["cumulative", "instantaneous"] = Field(
        default="instantaneous", description="cumulative for integrated totals (M_IT_*)"
    )
    scale: float = Field(default=1.0, description="value = (raw * scale + offset) * multiplier")
    offset: float = Field(default=0.0, description="added after scale")
    multiplier: float = Field(default=1.0, gt=0, description="CT/PT ratio applied after scale")

    @field_validator("meter_id")
    @classmethod
    def _meter_id(cls, value: str) -> str:
        if not _METER_ID.match(value):
            raise ValueError(f"meter_id {value!r} must match {_METER_ID.pattern}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if not _UNIT.match(value):
            raise ValueError(f"unit {value!r} must match {_UNIT.pattern}")
        return value


class Iec104Server(_Strict):
    """An outstation (RTU): address, common address, timing, interrogation and points."""

    name: str = Field(description="unique in this gateway: the source key's second part")
    host: str = Field(min_length=1, max_length=253, description="the outstation's address")
    port: int = Field(default=2404, ge=1, le=65535, description="2404 is the registered port")
    common_address: int = Field(ge=1, le=65534, description="the station's ASDU address")
    time_zone: str = Field(
        default="UTC",
        description="zone of the outstation's clock in CP56Time2a tags (IANA name, e.g. "
        "Asia/Shanghai); the standard leaves it to the system",
    )
    t0_s: float = Field(default=30.0, gt=0, le=255, description="connection establishment")
    t1_s: float = Field(default=15.0, gt=0, le=255, description="send or test APDU unconfirmed")
    t2_s: float = Field(default=10.0, gt=0, le=255, description="acknowledge at the latest")
    t3_s: float = Field(default=20.0, gt=0, le=172_800, description="idle before TESTFR")
    k: int = Field(default=12, ge=1, le=32_767, description="unconfirmed I-format APDUs sent")
    w: int = Field(default=8, ge=1, le=32_767, description="I-format APDUs before an ack")
    gi_interval_s: float = Field(
        default=900.0, ge=1, le=86_400, description="general interrogation (C_IC_NA_1) cycle"
    )
    ci_interval_s: float = Field(
        default=900.0, ge=1, le=86_400, description="counter interrogation (C_CI_NA_1) cycle"
    )
    reconnect_min_s: float = Field(
        default=1.0, gt=0, le=600, description="first wait after a closed session; doubles"
    )
    reconnect_max_s: float = Field(
        default=60.0, gt=0, le=3600, description="longest wait between sessions"
    )
    points: list[Iec104Point] = Field(min_length=1, description="the objects read (below)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r} must match {_NAME.pattern}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.t2_s < self.t1_s:
            raise ValueError("t2_s must be shorter than t1_s (IEC 60870-5-104 5.2)")
        if self.w > self.k:
            raise ValueError("w must not exceed k (the standard recommends w = 2/3 k)")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        ioas = [p.ioa for p in self.points]
        twice = sorted({i for i in ioas if ioas.count(i) > 1})
        if twice:
            raise ValueError(f"an IOA is mapped to more than one point: {twice}")
        return self

    def meter_ids(self) -> list[str]:
        return [p.meter_id for p in self.points]
