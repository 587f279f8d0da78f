"""Configuration of one MQTT broker the gateway subscribes to, validated on load.

The gateway config (``ingest/config.py``) holds a list of these under ``mqtt_brokers``. Each
broker has subscriptions (a topic filter and the payload format published under it) and each
subscription maps what is published to meters: a Neuron tag (node, group, tag) or a key of a
plain JSON object. Delivery is QoS 1 in a persistent session (MQTT 5 session expiry, or MQTT
3.1.1 ``clean_session`` false) under a stable client id, so the broker keeps what is published
while the gateway is away. Topic filters follow MQTT 3.1.1 4.7 / MQTT 5.0 4.7: ``+`` is one
whole level, ``#`` the last level alone.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from paho.mqtt.client import topic_matches_sub
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from contracts.patterns import ID_RE, UNIT_RE

FilePath = Annotated[Path, Field(strict=False)]
# Same alphabets as the wire contract (contracts/records.py); no "/" in a broker name because the
# source key is "<gateway_id>/<broker name>".
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,63}\Z")
_METER_ID = ID_RE
_UNIT = UNIT_RE
# MQTT 3.1.1 3.1.3.1 lets a broker refuse ids beyond 23 characters of [0-9a-zA-Z]; brokers in
# use (Mosquitto, EMQX) take up to 65535 bytes of UTF-8. Printable ASCII keeps logs readable.
_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,128}\Z")


class PayloadFormat(StrEnum):
    NEURON = "neuron"  # EMQX Neuron's upload message (values-format or tags-format)
    JSON = "json"  # a plain JSON object (or array of objects) with a time key and value keys


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class MqttPoint(_Strict):
    """One published value as one meter's register: (raw * scale + offset) * multiplier."""

    meter_id: str
    unit: str
    kind: Literal["cumulative", "instantaneous"] = "instantaneous"
    scale: float = 1.0
    offset: float = 0.0
    multiplier: float = Field(default=1.0, gt=0, description="CT/PT ratio applied after scale")
    # Neuron: the south node, its group and the tag name, as in the upload message.
    node: str | None = Field(default=None, min_length=1, max_length=256)
    group: str | None = Field(default=None, min_length=1, max_length=256)
    tag: str | None = Field(default=None, min_length=1, max_length=256)
    # Plain JSON: the value's key, and optionally the one topic it is published on.
    key: str | None = Field(default=None, min_length=1, max_length=256)
    topic: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="json: only messages on this topic name (no wildcards) carry this point",
    )

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

    @field_validator("topic")
    @classmethod
    def _topic_name(cls, value: str | None) -> str | None:
        if value is not None and ("+" in value or "#" in value or "\x00" in value):
            raise ValueError(f"topic {value!r} must be a topic name, without + or #")
        return value


class MqttSubscription(_Strict):
    """A topic filter, the format published under it, and the points it carries."""

    topic: str = Field(min_length=1, max_length=1024, description="MQTT topic filter")
    format: Annotated[PayloadFormat, Field(strict=False)]
    time_key: str = Field(
        default="ts",
        min_length=1,
        max_length=256,
        description="json: the key of the reading time, integer ms since the epoch or ISO "
        "8601 text with an offset; a message without it is malformed (the time is what makes "
        "a redelivered message recognisable downstream)",
    )
    points: list[MqttPoint] = Field(min_length=1)

    @field_validator("topic")
    @classmethod
    def _filter(cls, value: str) -> str:
        levels = value.split("/")
        for i, level in enumerate(levels):
            if "#" in level and (level != "#" or i != len(levels) - 1):
                raise ValueError(f"topic filter {value!r}: '#' must be the whole last level")
            if "+" in level and level != "+":
                raise ValueError(f"topic filter {value!r}: '+' must be a whole level")
        if "\x00" in value:
            raise ValueError("a topic filter must not contain NUL")
        return value

    @model_validator(mode="after")
    def _points_fit_the_format(self) -> Self:
        for point in self.points:
            neuron = (point.node, point.group, point.tag)
            if self.format is PayloadFormat.NEURON:
                if None in neuron or point.key is not None or point.topic is not None:
                    raise ValueError(
                        f"point {point.meter_id}: a neuron point names 'node', 'group' and "
                        "'tag' (and no 'key' or 'topic')"
                    )
            elif point.key is None or neuron != (None, None, None):
                raise ValueError(
                    f"point {point.meter_id}: a json point names 'key' (and no 'node', "
                    "'group' or 'tag')"
                )
            if point.topic is not None and not topic_matches_sub(self.topic, point.topic):
                raise ValueError(
                    f"point {point.meter_id}: topic {point.topic!r} does not match the "
                    f"subscription's filter {self.topic!r}"
                )
        where = [(p.node, p.group, p.tag, p.key, p.topic) for p in self.points]
        twice = {w for w in where if where.count(w) > 1}
        if twice:
            raise ValueError(f"a value is mapped to more than one point: {sorted(map(str, twice))}")
        return self


class MqttTls(_Strict):
    """TLS to the broker: the CA of its certificate, optionally a client certificate."""

    ca_file: FilePath | None = Field(
        default=None, description="PEM CA of the broker's certificate; unset: the system's CAs"
    )
    cert_file: FilePath | None = Field(default=None, description="client certificate (PEM)")
    key_file: FilePath | None = Field(default=None, description="its private key (PEM)")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("'cert_file' and 'key_file' go together: give both or neither")
        return self


class MqttBrokerConfig(_Strict):
    """One broker: address, session, security, reconnect policy and subscriptions."""

    name: str
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str | None = Field(
        default=None,
        description="stable client id of the persistent session; default "
        "'parkcarbon-<gateway_id>-<name>'. Two gateways must never share one",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT 5 (session expiry) or 3.1.1 (clean_session false)"
    )
    session_expiry_s: int = Field(
        default=604_800,
        ge=60,
        le=4_294_967_294,
        description="MQTT 5: how long the broker keeps the session and queues QoS 1 messages "
        "while the gateway is away (3.1.1: the broker's own setting decides)",
    )
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    username: str | None = Field(default=None, min_length=1)
    password: Annotated[SecretStr | None, Field(strict=False)] = None
    tls: MqttTls | None = Field(default=None, description="TLS to the broker; unset: plain TCP")
    reconnect_min_s: float = Field(default=0.5, gt=0, le=600)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    max_batch_messages: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="messages committed to the buffer together (then acknowledged)",
    )
    subscriptions: list[MqttSubscription] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r} must match {_NAME.pattern}")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not _CLIENT_ID.match(value):
            raise ValueError(f"client_id {value!r} must be 1-128 printable ASCII characters")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("'username' and 'password' go together: give both or neither")
        if self.password is not None and self.tls is None and not _loopback(self.host):
            raise ValueError(
                f"a password to {self.host} without 'tls' would cross the network readable by "
                "anyone; configure 'tls' (or reach the broker on a loopback address)"
            )
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        filters = [s.topic for s in self.subscriptions]
        twice = sorted({f for f in filters if filters.count(f) > 1})
        if twice:
            raise ValueError(f"topic filters must be unique, repeated: {', '.join(twice)}")
        return self

    def session_client_id(self, gateway_id: str) -> str:
        return self.client_id or f"parkcarbon-{gateway_id}-{self.name}"

    def meter_ids(self) -> list[str]:
        return [p.meter_id for s in self.subscriptions for p in s.points]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
