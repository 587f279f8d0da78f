"""The gateway's YAML configuration: strict pydantic models, validated whole before anything runs.

``load_gateway_config`` refuses unknown keys, wrong types and inconsistent values (duplicate
device names or meter ids, points past the register space) with a ``ConfigError`` naming the
file, the key path, its line and what is wrong, so a gateway never starts half-configured.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from config import kafka_security
from config.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol
from config.settings import ConfigError
from contracts.patterns import NAME_RE, UNIT_RE
from ingest import dlt645_codec
from ingest.iec104_config import Iec104Server
from ingest.mqtt_config import MqttBrokerConfig
from ingest.opcua_config import OpcUaServerConfig
from ingest.registers import MAX_READ_REGISTERS, DataType, Function, Order, Span

_ID = NAME_RE  # no "/": it separates gateway and device keys
_UNIT = UNIT_RE  # as contracts.records accepts


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


class LineTransport(StrEnum):
    SERIAL = "serial"  # an RS-485 port on this box: Modbus RTU
    RTU_OVER_TCP = "rtu_over_tcp"  # a serial device server: RTU frames in one TCP connection
    TCP = "tcp"  # a Modbus TCP gateway (MBAP frames) in front of many unit ids


class LineDevice(_Model):
    """One unit id on a line: its points are planned and decoded as a ``ModbusDevice``'s."""

    name: str
    # Modbus over Serial Line V1.02, 2.2: 1..247 are device addresses (0 is broadcast, which
    # no device answers; 248..255 are reserved); a TCP gateway may route 0..255.
    unit_id: int = Field(ge=0, le=255)
    poll_interval_s: float | None = Field(
        default=None, ge=0.05, le=86_400, description="unset: the line's poll_interval_s"
    )
    timeout_s: float | None = Field(
        default=None, gt=0, le=60, description="unset: the line's timeout_s"
    )
    max_gap: int = Field(default=8, ge=0, le=MAX_READ_REGISTERS, description="registers")
    max_block: int = Field(default=MAX_READ_REGISTERS, ge=1, le=MAX_READ_REGISTERS)
    points: list[ModbusPoint] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value


class ModbusLine(_Model):
    """A shared bus: one connection, one request at a time, many unit ids."""

    name: str
    transport: Annotated[LineTransport, _LOOSE]
    port: str | None = Field(
        default=None, description="serial: the device (/dev/ttyUSB0); tcp transports: unused"
    )
    baudrate: int = Field(default=9600, ge=300, le=921_600, description="serial only")
    parity: Literal["N", "E", "O"] = Field(default="E", description="serial only")
    stopbits: Literal[1, 2] = Field(default=1, description="serial only")
    bytesize: Literal[7, 8] = Field(default=8, description="serial only")
    host: str | None = Field(default=None, description="rtu_over_tcp and tcp: the server")
    tcp_port: int = Field(default=502, ge=1, le=65535, description="rtu_over_tcp and tcp")
    timeout_s: float = Field(
        default=0.5, gt=0, le=60, description="per request; a device may set its own"
    )
    inter_frame_s: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="silence before each request; unset: 3.5 character times at the line's "
        "baud rate (1.75 ms above 19200 baud) on serial lines, 0 over TCP",
    )
    poll_interval_s: float = Field(default=5.0, ge=0.05, le=86_400)
    backoff_min_s: float = Field(
        default=2.0, gt=0, description="first retry delay of a unit id that did not answer"
    )
    backoff_max_s: float = Field(default=60.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    devices: list[LineDevice] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value

    @_model_validator(mode="after")
    def _consistent(self) -> ModbusLine:
        if self.transport is LineTransport.SERIAL:
            if not self.port:
                raise ValueError("transport serial needs port (e.g. /dev/ttyUSB0)")
            if self.host is not None:
                raise ValueError("transport serial takes port, not host")
        elif not self.host:
            raise ValueError(f"transport {self.transport.value} needs host (and tcp_port)")
        elif self.port is not None:
            raise ValueError(f"transport {self.transport.value} takes host and tcp_port, not port")
        if self.transport is not LineTransport.TCP:
            bad = [d.name for d in self.devices if not 1 <= d.unit_id <= 247]
            if bad:
                raise ValueError(
                    "unit_id must be 1..247 on an RTU line (Modbus over Serial Line V1.02, "
                    f"2.2): {', '.join(bad)}"
                )
        ids = [d.unit_id for d in self.devices]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"unit ids must be unique on a line, repeated: {twice}")
        if self.backoff_min_s > self.backoff_max_s:
            raise ValueError("backoff_min_s must not exceed backoff_max_s")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self

    @property
    def bits_per_char(self) -> int:
        """Start bit, data bits, parity bit if any, stop bits (11 for 8E1 and 8N2)."""
        return 1 + self.bytesize + (self.parity != "N") + self.stopbits

    @property
    def frame_gap_s(self) -> float:
        """The silence kept before each request (Modbus over Serial Line V1.02, 2.5.1.1:
        3.5 character times, fixed at 1.75 ms above 19200 baud)."""
        if self.inter_frame_s is not None:
            return self.inter_frame_s
        if self.transport is not LineTransport.SERIAL:
            return 0.0  # the device server keeps the serial timing itself
        if self.baudrate > 19_200:
            return 0.00175
        return 3.5 * self.bits_per_char / self.baudrate


def _quoted(value: object, what: str, example: str) -> str:
    """YAML reads 000012345678 as the number 12345678 (and 02010100 as an octal number):
    refuse a number with a message that says to quote it, before the digits are lost."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a quoted string, e.g. {example!r}; YAML read {value!r}")
    return value


class Dlt645Point(_Model):
    """One data identifier read from a DL/T 645-2007 meter; its format, unit and register
    kind come from the standard's Appendix A tables (``ingest/dlt645_codec.py``)."""

    di: str = Field(
        description="data identifier DI3 DI2 DI1 DI0 as 8 hex digits, quoted: '00010000' "
        "forward active energy total, '00010100'..'00010400' its tariffs 1-4, '02010100' "
        "phase A voltage, '02020100' phase A current, '01010000' maximum demand"
    )
    meter_id: str = Field(description="the registry's meter id this value reports")
    multiplier: float = Field(
        default=1.0,
        gt=0,
        description="CT/PT ratio applied to the meter's value (1 for meters reading primary "
        "values); a cumulative register's rollover is multiplied by it too",
    )

    @field_validator("di", mode="before")
    @classmethod
    def _di(cls, value: object) -> object:
        text = _quoted(value, "di", "00010000")
        dlt645_codec.data_format(text)
        return text.upper()

    @field_validator("meter_id")
    @classmethod
    def _meter_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value

    def data_format(self) -> dlt645_codec.DataFormat:
        return dlt645_codec.data_format(self.di)


class Dlt645Meter(_Model):
    """A meter on a DL/T 645 line, addressed by its 12-digit address."""

    address: str = Field(
        description="the meter's 12-digit address (on its nameplate), quoted; high-order "
        "bytes may be the AA wildcard ('AAAAAA345678'); 'AAAAAAAAAAAA' reads the address of "
        "the line's only meter first (control 13H) and needs that meter alone on its line"
    )
    points: list[Dlt645Point] = Field(min_length=1, description="the identifiers read (below)")

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: object) -> object:
        return dlt645_codec.check_address(_quoted(value, "address", "000012345678"))


class Dlt645Line(_Model):
    """An RS-485 line of DL/T 645-2007 meters, on a serial port of the gateway or behind a
    serial device server (raw TCP). The line carries one request at a time. Modbus devices
    are not allowed on the same line (see docs/gateway-config.md, "Mixed lines")."""

    name: str = Field(description="line name, unique in this gateway: the source key's second part")
    transport: Literal["serial", "tcp"] = Field(
        description="serial: a serial port of this machine; tcp: a serial device server's raw "
        "TCP port (one connection for the whole line)"
    )
    device: str | None = Field(default=None, description="serial port path, e.g. /dev/ttyS1")
    host: str | None = Field(default=None, description="device server address (tcp)")
    port: int | None = Field(default=None, ge=1, le=65535, description="its TCP port (tcp)")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200] = Field(
        default=2400,
        description="line speed; 2400 is the standard's default. With tcp it is the device "
        "server's serial side, used for the line's timing",
    )
    parity: Literal["E", "N", "O"] = Field(default="E", description="E (the standard's 8E1)")
    stop_bits: Literal[1, 2] = Field(default=1, description="stop bits")
    preamble: bool = Field(
        default=True, description="send the FE FE FE FE wake-up preamble before each request"
    )
    timeout_s: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="wait for a reply after the request left the line (the standard's meter "
        "answers within 500 ms), plus the reply's own transmission time at baudrate",
    )
    inter_frame_s: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="pause between a reply (or timeout) and the next request; at least 4 "
        "character times at baudrate is kept in any case",
    )
    poll_interval_s: float = Field(default=60.0, ge=0.05, le=86_400, description="poll cycle")
    backoff_min_s: float = Field(
        default=5.0,
        gt=0,
        description="a meter that did not answer is skipped this long; doubles, with jitter",
    )
    backoff_max_s: float = Field(default=300.0, gt=0, description="longest skip of a meter")
    reconnect_min_s: float = Field(default=0.5, gt=0, description="first reopen wait; doubles")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="longest reopen wait")
    meters: list[Dlt645Meter] = Field(min_length=1, description="meters on this line (below)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"must match {_ID.pattern}")
        return value

    @_model_validator(mode="after")
    def _consistent(self) -> Dlt645Line:
        if self.transport == "serial" and (self.device is None or self.host or self.port):
            raise ValueError("a serial line needs device and no host/port")
        if self.transport == "tcp" and (self.host is None or self.port is None or self.device):
            raise ValueError("a tcp line needs host and port and no device")
        if self.backoff_min_s > self.backoff_max_s:
            raise ValueError("backoff_min_s must not exceed backoff_max_s")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        addresses = [m.address for m in self.meters]
        if dlt645_codec.ALL_AA in addresses and len(addresses) > 1:
            raise ValueError(
                "address AAAAAAAAAAAA reaches every meter on the line: it needs the meter alone"
            )
        for i, a in enumerate(addresses):
            for b in addresses[i + 1 :]:
                if dlt645_codec.address_matches(a, b) or dlt645_codec.address_matches(b, a):
                    raise ValueError(f"addresses {a} and {b} can reach the same meter")
        return self

    def endpoint(self) -> str:
        return self.device if self.transport == "serial" else f"{self.host}:{self.port}"  # type: ignore[return-value]


class GatewayConfig(_Model):
    gateway_id: str
    kafka: KafkaConfig = KafkaConfig()
    buffer: BufferConfig = BufferConfig()
    metrics: MetricsConfig = MetricsConfig()
    modbus_devices: list[ModbusDevice] = []
    modbus_lines: list[ModbusLine] = []
    opcua_servers: list[OpcUaServerConfig] = []
    dlt645_lines: list[Dlt645Line] = Field(
        default=[], description="RS-485 lines of DL/T 645-2007 meters, one task per line"
    )
    mqtt_brokers: list[MqttBrokerConfig] = []
    iec104_servers: list[Iec104Server] = Field(
        default=[], description="IEC 60870-5-104 outstations, one session each"
    )

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
        names += [d.name for line in self.modbus_lines for d in line.devices]
        names += [line.name for line in self.dlt645_lines]
        lines = [line.name for line in self.modbus_lines]
        twice = sorted({n for n in lines if lines.count(n) > 1})
        if twice:
            raise ValueError(f"line names must be unique, repeated: {', '.join(twice)}")
        names += [b.name for b in self.mqtt_brokers]
        names += [s.name for s in self.iec104_servers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"device/server names must be unique, repeated: {', '.join(twice)}")
        # A meter is read by exactly one source, or its readings could interleave out of order.
        meters = [p.meter_id for d in self.modbus_devices for p in d.points]
        meters += [p.meter_id for s in self.opcua_servers for p in s.points]
        meters += [p.meter_id for ln in self.modbus_lines for d in ln.devices for p in d.points]
        meters += [p.meter_id for line in self.dlt645_lines for m in line.meters for p in m.points]
        meters += [m for b in self.mqtt_brokers for m in b.meter_ids()]
        meters += [m for s in self.iec104_servers for m in s.meter_ids()]
        twice = sorted({m for m in meters if meters.count(m) > 1})
        if twice:
            raise ValueError(f"meter ids must be unique, repeated: {', '.join(twice[:10])}")
        # One owner per line: DL/T 645 frames and timing differ from Modbus RTU's, and a
        # device server takes one TCP connection per line; see docs, "Mixed lines".
        endpoints = [line.endpoint() for line in self.dlt645_lines]
        twice = sorted({e for e in endpoints if endpoints.count(e) > 1})
        if twice:
            raise ValueError(f"two DL/T 645 lines on one port: {', '.join(twice)}")
        modbus = {f"{d.host}:{d.port}" for d in self.modbus_devices}
        modbus |= {ln.port if ln.port else f"{ln.host}:{ln.tcp_port}" for ln in self.modbus_lines}
        mixed = sorted(modbus & set(endpoints))
        if mixed:
            raise ValueError(
                f"{', '.join(mixed)} is a DL/T 645 line and a Modbus device or line: this gateway"
                " does not mix the two protocols on one line"
            )
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
