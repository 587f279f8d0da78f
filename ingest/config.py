"""The gateway's YAML configuration: strict pydantic models, validated whole before anything runs.

``load_gateway_config`` refuses unknown keys, wrong types and inconsistent values (duplicate
device names or meter ids, points past the register space) with a ``ConfigError`` naming the
file, the key path, its line and what is wrong, so a gateway never starts half-configured.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from config import kafka_security
from config.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol
from config.settings import ConfigError
from ingest.mqtt_config import MqttBrokerConfig
from ingest.opcua_config import OpcUaServerConfig
from ingest.registers import MAX_READ_REGISTERS, DataType, Function, Order, Span

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")  # no "/": it separates gateway and device keys
_UNIT = re.compile(r"^[A-Za-z0-9^/ %.\-]{1,16}\Z")  # as stream.records accepts


class RegisterKind(StrEnum):
    CUMULATIVE = "cumulative"  # a counter (kWh, m3): intervals are differences
    INSTANTANEOUS = "instantaneous"  # a rate or state (kW, degC)


class FullPolicy(StrEnum):
    DROP_OLDEST = "drop_oldest"
    REFUSE_NEWEST = "refuse_newest"


# Enums and paths come from YAML as strings; everything else is strictly typed.
_LOOSE = Field(strict=False)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class KafkaConfig(_Model):
    bootstrap: str = "127.0.0.1:9092"
    topic: str = "readings.raw"
    request_timeout_ms: int = Field(default=15_000, ge=1_000, le=300_000)
    max_in_flight: int = Field(default=500, ge=1, le=10_000, description="batches per send window")
    max_batches_per_s: float = Field(default=2_000.0, gt=0, description="drain rate bound")
    retry_min_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    # A gateway outside the central site reaches the broker over the plant network: TLS with
    # the park CA, a SCRAM login per gateway, and ACLs that let it write readings.raw only
    # (docs/operations.md, "Kafka for remote gateways"). Checks: config/kafka_security.py.
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="PLAINTEXT (loopback, closed network), SSL (TLS) or SASL_SSL (TLS and a "
        "SASL login, for a broker on the plant network); SASL_PLAINTEXT is refused: it sends "
        "readings and a PLAIN password in clear text",
    )
    ssl_ca_file: Annotated[Path | None, _LOOSE] = Field(
        default=None,
        description="PEM file of the CA that signed the broker's certificate (the park CA); "
        "unset trusts the system's CAs; must exist when the config is loaded",
    )
    ssl_cert_file: Annotated[Path | None, _LOOSE] = Field(
        default=None, description="this gateway's certificate (PEM) for mutual TLS; needs the key"
    )
    ssl_key_file: Annotated[Path | None, _LOOSE] = Field(
        default=None, description="its private key (PEM, unencrypted: keep it mode 0600)"
    )
    sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", description="SASL mechanism with SASL_SSL: SCRAM-SHA-512 or PLAIN"
    )
    sasl_username: str = Field(
        default="", description="this gateway's Kafka user (SASL_SSL), one per gateway for ACLs"
    )
    sasl_password: Annotated[SecretStr, _LOOSE] = Field(
        default=SecretStr(""),
        description="its password (SASL_SSL); never logged; keep the file mode 0600",
    )

    @field_validator("security_protocol", mode="before")
    @classmethod
    def _protocol(cls, value: object) -> object:
        return kafka_security.check_protocol(value)

    @field_validator("ssl_ca_file", "ssl_cert_file", "ssl_key_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        return kafka_security.check_file(value)

    @_model_validator(mode="after")
    def _security(self) -> KafkaConfig:
        kafka_security.check(self.security())
        return self

    def security(self) -> KafkaSecurity:
        return KafkaSecurity(
            protocol=self.security_protocol,
            ca_file=self.ssl_ca_file,
            cert_file=self.ssl_cert_file,
            key_file=self.ssl_key_file,
            sasl_mechanism=self.sasl_mechanism,
            username=self.sasl_username,
            password=self.sasl_password,
        )

    max_message_bytes: int = Field(
        default=900_000,
        ge=10_000,
        le=10_000_000,
        description="a batch is sent as messages of at most this many encoded bytes (before"
        " compression); keep it below the broker's message.max.bytes and the topic's"
        " max.message.bytes (both 1,048,588 by default)",
    )
    compression: Literal["gzip", "none"] = Field(
        default="gzip",
        description="Kafka compression of readings.raw messages; gzip needs no extra library"
        " in any client",
    )


class BufferConfig(_Model):
    path: Annotated[Path, _LOOSE] = Path("gateway-buffer.sqlite3")
    max_bytes: int = Field(default=1_000_000_000, ge=1_000)
    max_readings: int | None = Field(default=None, ge=1)
    full_policy: Annotated[FullPolicy, _LOOSE] = FullPolicy.DROP_OLDEST
    commit_interval_ms: float = Field(
        default=10.0, ge=0, le=1_000, description="group commit: at most one commit per interval"
    )


class MetricsConfig(_Model):
    host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


class ModbusPoint(_Model):
    meter_id: str
    function: Annotated[Function, _LOOSE] = Function.HOLDING
    address: int = Field(ge=0, le=65535)
    data_type: Annotated[DataType, _LOOSE]
    order: Annotated[Order, _LOOSE] = Order.ABCD
    scale: float = 1.0
    offset: float = 0.0
    multiplier: float = Field(default=1.0, gt=0, description="CT/PT ratio applied after scale")
    unit: str
    kind: Annotated[RegisterKind, _LOOSE] = RegisterKind.INSTANTANEOUS

    @field_validator("meter_id")
    @classmethod
    def _meter_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if not _UNIT.match(value):
            raise ValueError(f"must match {_UNIT.pattern}")
        return value

    @_model_validator(mode="after")
    def _fits(self) -> ModbusPoint:
        if self.address + self.data_type.words > 65536:
            raise ValueError(f"{self.data_type} at {self.address} runs past register 65535")
        return self

    def span(self, index: int) -> Span:
        return Span(index, self.function, self.address, self.data_type.words)


class ModbusDevice(_Model):
    name: str
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    poll_interval_s: float = Field(default=1.0, ge=0.05, le=86_400)
    max_gap: int = Field(default=8, ge=0, le=MAX_READ_REGISTERS, description="registers")
    max_block: int = Field(default=MAX_READ_REGISTERS, ge=1, le=MAX_READ_REGISTERS)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    points: list[ModbusPoint] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value

    @_model_validator(mode="after")
    def _backoff(self) -> ModbusDevice:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self


class GatewayConfig(_Model):
    gateway_id: str
    kafka: KafkaConfig = KafkaConfig()
    buffer: BufferConfig = BufferConfig()
    metrics: MetricsConfig = MetricsConfig()
    modbus_devices: list[ModbusDevice] = []
    opcua_servers: list[OpcUaServerConfig] = []
    mqtt_brokers: list[MqttBrokerConfig] = []

    @field_validator("gateway_id")
    @classmethod
    def _gateway_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value

    @_model_validator(mode="after")
    def _unique(self) -> GatewayConfig:
        # Names form the source keys "<gateway_id>/<name>", shared by every protocol.
        names = [d.name for d in self.modbus_devices] + [s.name for s in self.opcua_servers]
        names += [b.name for b in self.mqtt_brokers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"device/server names must be unique, repeated: {', '.join(twice)}")
        # A meter is read by exactly one source, or its readings could interleave out of order.
        meters = [p.meter_id for d in self.modbus_devices for p in d.points]
        meters += [p.meter_id for s in self.opcua_servers for p in s.points]
        meters += [m for b in self.mqtt_brokers for m in b.meter_ids()]
        twice = sorted({m for m in meters if meters.count(m) > 1})
        if twice:
            raise ValueError(f"meter ids must be unique, repeated: {', '.join(twice[:10])}")
        # One client id is one session at the broker: two collectors sharing one would take
        # each other's messages (and acknowledge them) in turn.
        ids = [(b.host, b.port, b.session_client_id(self.gateway_id)) for b in self.mqtt_brokers]
        twice = sorted({i[2] for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"MQTT client ids must be unique per broker: {', '.join(twice)}")
        return self


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the key path ``loc``."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if getattr(k, "value", None) == part]
            if not found:
                break
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_gateway_config(path: Path) -> GatewayConfig:
    """Read and validate the whole file; any problem is a ConfigError naming file, key, line."""
    # libyaml when present: a thousand-device file parses in about a second instead of six.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read gateway config: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (gateway_id: ..., ...)")
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        node = yaml.compose(text, Loader=loader)  # parsed again only to find the lines
        problems = []
        for err in exc.errors():
            # pydantic appends the validator kind ("function-after") to some paths; drop it.
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            line = _line_of(node, loc)
            where = f"{_path(loc)} (line {line})" if line else _path(loc)
            problems.append(f"{where}: {err['msg']}")
        raise ConfigError(f"{path}: invalid gateway config:\n  " + "\n  ".join(problems)) from exc
