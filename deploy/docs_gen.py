"""Generate the configuration references from the code: ``python -m deploy.docs_gen``.

``docs/configuration.md`` comes from the settings classes in ``config/settings.py`` (every
``PARKCARBON_*`` variable, its default, allowed values and meaning, and what docker-compose.yml
sets it to); ``docs/gateway-config.md`` from the gateway's YAML models (``ingest/config.py``,
``ingest/opcua_config.py``). ``--check`` exits 1 when a committed file differs from what the code
gives; ``tests/deploy/test_docs_consistency.py`` does the same, so neither can drift.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.settings import DEFAULT_CONFIG_FILE, CommonSettings
from ingest.config import GatewayConfig

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION_MD = ROOT / "docs" / "configuration.md"
GATEWAY_MD = ROOT / "docs" / "gateway-config.md"
COMPOSE_FILE = ROOT / "docker-compose.yml"
GATEWAY_EXAMPLE = ROOT / "deploy" / "gateway" / "example.yaml"
MQTT_EXAMPLE = ROOT / "deploy" / "gateway" / "mqtt-example.yaml"
ENV_PREFIX = "PARKCARBON_"
REGENERATE = "python -m deploy.docs_gen"

# Meanings of the gateway keys whose models carry no description. A new key without a
# description here or in its Field stops the generator, so the reference never skips one.
GATEWAY_MEANINGS: dict[tuple[str, str], str] = {
    ("GatewayConfig", "gateway_id"): "This gateway's id: the first part of every source key "
    '("<gateway_id>/<device name>", the Kafka message key) and the readings\' `gateway_id`.',
    ("GatewayConfig", "kafka"): "Where readings are sent (below).",
    ("GatewayConfig", "buffer"): "The durable store-and-forward buffer (below).",
    ("GatewayConfig", "metrics"): "The Prometheus metrics endpoint (below).",
    ("GatewayConfig", "modbus_devices"): "Modbus TCP devices, each polled by its own task.",
    ("GatewayConfig", "opcua_servers"): "OPC UA servers, each with its own session.",
    ("GatewayConfig", "modbus_lines"): "Shared Modbus lines (RS-485 RTU, RTU over TCP, a Modbus "
    "TCP gateway): many unit ids over one connection, one request at a time (below).",
    ("ModbusLine", "name"): "Line name, unique in this gateway (the `line` label of metrics).",
    ("ModbusLine", "transport"): "serial (RTU on a local port), rtu_over_tcp (a serial device "
    "server) or tcp (a Modbus TCP gateway).",
    ("ModbusLine", "reconnect_min_s"): "First wait before reopening the line; doubles, jittered.",
    ("ModbusLine", "reconnect_max_s"): "Longest wait before reopening the line.",
    ("ModbusLine", "backoff_max_s"): "Longest backoff of a unit id that does not answer.",
    ("ModbusLine", "poll_interval_s"): "Poll cycle of each unit id unless it sets its own.",
    ("ModbusLine", "devices"): "The unit ids on this line (below).",
    ("LineDevice", "name"): "Device name, unique in this gateway: the second part of the "
    "source key.",
    ("LineDevice", "unit_id"): "Modbus unit id: 1..247 on RTU lines, 0..255 through a TCP "
    "gateway; unique on the line.",
    ("LineDevice", "max_gap"): "Unused registers between two points still read in one block",
    ("LineDevice", "max_block"): "Most registers in one read request.",
    ("LineDevice", "points"): "The registers read from this unit (as modbus_devices' points).",
    ("KafkaConfig", "bootstrap"): "Kafka bootstrap servers, host:port[,host:port].",
    ("KafkaConfig", "topic"): "Topic of the raw batches: `readings.raw`, after the platform's "
    "PARKCARBON_TOPIC_PREFIX if it sets one.",
    ("KafkaConfig", "request_timeout_ms"): "Kafka request timeout.",
    ("KafkaConfig", "max_in_flight"): "Most batches sent before waiting for acknowledgements",
    ("KafkaConfig", "max_batches_per_s"): "Fastest drain of the buffer after an outage, batches/s",
    ("KafkaConfig", "retry_min_s"): "First wait after a failed send; doubles up to retry_max_s.",
    ("KafkaConfig", "retry_max_s"): "Longest wait between two send attempts.",
    ("BufferConfig", "path"): "SQLite file of the buffer; put it on a persistent volume.",
    ("BufferConfig", "max_bytes"): "Most payload bytes kept while Kafka is unreachable.",
    ("BufferConfig", "max_readings"): "Most readings kept (unset: only max_bytes bounds it).",
    ("BufferConfig", "full_policy"): "When full: drop the oldest batches, or refuse the newest.",
    ("MetricsConfig", "host"): "Address of the metrics endpoint (loopback only).",
    ("MetricsConfig", "port"): "Port of the metrics endpoint (0: any free port).",
    ("ModbusDevice", "name"): "Device name, unique in this gateway: the second part of the "
    "source key.",
    ("ModbusDevice", "host"): "Device (or Modbus TCP gateway) address.",
    ("ModbusDevice", "port"): "Modbus TCP port.",
    ("ModbusDevice", "unit_id"): "Modbus unit (slave) id.",
    ("ModbusDevice", "timeout_s"): "Timeout of one request.",
    ("ModbusDevice", "poll_interval_s"): "Poll cycle; the meters' expected interval.",
    ("ModbusDevice", "max_gap"): "Unused registers between two points still read in one block",
    ("ModbusDevice", "max_block"): "Most registers in one read request.",
    ("ModbusDevice", "reconnect_min_s"): "First reconnect wait; doubles, with jitter.",
    ("ModbusDevice", "reconnect_max_s"): "Longest reconnect wait.",
    ("ModbusDevice", "points"): "The registers read from this device (below).",
    ("ModbusPoint", "meter_id"): "The registry's meter id this register reports.",
    ("ModbusPoint", "function"): "Register table: holding or input registers.",
    ("ModbusPoint", "address"): "First register (0-based protocol address).",
    ("ModbusPoint", "data_type"): "How the registers are decoded.",
    ("ModbusPoint", "order"): "Byte/word order: ABCD big-endian, CDAB word-swapped, ...",
    ("ModbusPoint", "scale"): "value = (raw * scale + offset) * multiplier.",
    ("ModbusPoint", "offset"): "Added after scaling (see scale).",
    ("ModbusPoint", "unit"): "Unit of the value sent (after scale and multiplier).",
    ("ModbusPoint", "kind"): "cumulative (a counter: intervals are differences) or "
    "instantaneous (a rate or state).",
    ("OpcUaServerConfig", "name"): "Server name, unique in this gateway: the second part of "
    "the source key.",
    ("OpcUaServerConfig", "endpoint"): "opc.tcp:// endpoint URL.",
    ("OpcUaServerConfig", "security_policy"): "OPC UA security policy (None only with mode None).",
    ("OpcUaServerConfig", "security_mode"): "Message security mode.",
    ("OpcUaServerConfig", "username"): "User name of a user-token login (unset: anonymous).",
    ("OpcUaServerConfig", "password"): "Password of that login (kept secret in logs).",
    ("OpcUaServerConfig", "request_timeout_s"): "Timeout of one request.",
    ("OpcUaServerConfig", "reconnect_min_s"): "First reconnect wait; doubles, with jitter.",
    ("OpcUaServerConfig", "reconnect_max_s"): "Longest reconnect wait.",
    ("OpcUaServerConfig", "points"): "The nodes read from this server (below).",
    ("OpcUaPoint", "node_id"): "String NodeId, e.g. `ns=2;s=E-001.ActiveEnergy` or `i=2258`.",
    ("OpcUaPoint", "meter_id"): "The registry's meter id this node reports.",
    ("OpcUaPoint", "unit"): "Unit of the node's value.",
    ("OpcUaPoint", "kind"): "cumulative or instantaneous (as for Modbus points).",
    ("OpcUaPoint", "subscription"): "Monitor the node in a subscription (below); exactly one "
    "of subscription and poll_interval_s.",
    ("OpcUaPoint", "poll_interval_s"): "Read the node every this many seconds instead.",
    ("SubscriptionSettings", "publishing_interval_ms"): "Subscription publishing interval.",
    ("SubscriptionSettings", "sampling_interval_ms"): "Server-side sampling interval.",
    ("GatewayConfig", "mqtt_brokers"): "MQTT brokers to subscribe to (an edge gateway such as "
    "EMQX Neuron publishing there, or devices publishing JSON), each with its own session.",
    ("MqttBrokerConfig", "name"): "Broker name, unique in this gateway: the second part of its "
    "source key and of the default client id.",
    ("MqttBrokerConfig", "host"): "Broker host name or address.",
    ("MqttBrokerConfig", "port"): "Broker port (8883 is the usual one with TLS).",
    ("MqttBrokerConfig", "keepalive_s"): "MQTT keep-alive: a silent connection is probed, and "
    "given up after 1.5 times this.",
    ("MqttBrokerConfig", "connect_timeout_s"): "Time allowed for TCP, TLS, CONNACK and SUBACK.",
    ("MqttBrokerConfig", "username"): "Login at the broker; refused without `tls` unless the "
    "broker is on a loopback address.",
    ("MqttBrokerConfig", "password"): "Its password; never logged.",
    ("MqttBrokerConfig", "reconnect_min_s"): "First wait after a lost connection; doubles up to "
    "`reconnect_max_s`, jittered.",
    ("MqttBrokerConfig", "reconnect_max_s"): "Longest wait between connection attempts.",
    ("MqttBrokerConfig", "subscriptions"): "Topic filters (QoS 1) with the format published "
    "under each and the meters it carries; a message is read by the first filter it matches.",
    ("MqttSubscription", "format"): "`neuron`: EMQX Neuron's upload (values-format or "
    "tags-format, `timestamp` in ms); `json`: an object or array of objects with a time key.",
    ("MqttSubscription", "points"): "The published values that are meters (others are counted "
    "as unmapped).",
    ("MqttPoint", "meter_id"): "The registry's meter id, unique in this gateway.",
    ("MqttPoint", "unit"): "Unit of the value after scaling, as the registry has it.",
    ("MqttPoint", "kind"): "`cumulative` (a counter such as kWh) or `instantaneous` (kW, degC).",
    ("MqttPoint", "scale"): "value = (raw * scale + offset) * multiplier.",
    ("MqttPoint", "offset"): "Added after scale.",
    ("MqttPoint", "node"): "neuron: the south node's name (the upload's `node`).",
    ("MqttPoint", "group"): "neuron: the group's name (the upload's `group`).",
    ("MqttPoint", "tag"): "neuron: the tag's name (a key of `values`/`errors`, or a `name`).",
    ("MqttPoint", "key"): "json: the key of the value in each published object.",
}


# --- rendering one field -------------------------------------------------------------------------


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "string"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return "string"
        if issubclass(annotation, BaseModel):
            return "mapping"
        plain = {bool: "boolean", int: "integer", float: "number", str: "string"}
        if annotation in plain:
            return plain[annotation]
        if issubclass(annotation, Path):
            return "path"
        if issubclass(annotation, SecretStr):
            return "secret string"
    return str(annotation)


def _choices(annotation: Any) -> list[str]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return [str(a) for a in args]
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [c for a in args for c in _choices(a)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(m.value) for m in annotation]
    return []


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _allowed(field: FieldInfo) -> str:
    parts = []
    if choices := _choices(field.annotation):
        parts.append(", ".join(f"`{c}`" for c in choices))
    low = high = ""
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge):
            low = f"≥ {_number(meta.ge)}"
        elif isinstance(meta, annotated_types.Gt):
            low = f"> {_number(meta.gt)}"
        elif isinstance(meta, annotated_types.Le):
            high = f"≤ {_number(meta.le)}"
        elif isinstance(meta, annotated_types.Lt):
            high = f"< {_number(meta.lt)}"
        elif isinstance(meta, annotated_types.MinLen):
            low = f"at least {meta.min_length}"
        elif hasattr(meta, "pattern") and meta.pattern:
            parts.append(f"matches `{meta.pattern}`")
    if low or high:
        parts.append(", ".join(p for p in (low, high) if p))
    return "; ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return "(empty; secret)" if not value.get_secret_value() else "(secret)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, BaseModel):
        return "(see below)"
    if isinstance(value, list | tuple) and not value:
        return "`[]`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    text = str(value)
    return f"`{text}`" if text else "(empty)"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# --- docs/configuration.md -----------------------------------------------------------------------


def settings_classes() -> list[type[CommonSettings]]:
    """CommonSettings and every process kind built on it, in the order they are defined."""

    def walk(cls: type[CommonSettings]) -> Iterator[type[CommonSettings]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from walk(sub)

    return list(walk(CommonSettings))


def own_fields(cls: type[CommonSettings]) -> dict[str, FieldInfo]:
    """The fields a class adds to its base (CommonSettings: all of its own)."""
    base = next((b for b in cls.__mro__[1:] if issubclass(b, CommonSettings)), None)
    inherited = set(base.model_fields) if base is not None else set()
    return {n: f for n, f in cls.model_fields.items() if n not in inherited}


def env_name(cls: type[CommonSettings], field: str) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def setting_variables() -> set[str]:
    """Every PARKCARBON_* variable a settings class reads, plus the config file's own."""
    names = {env_name(c, f) for c in settings_classes() for f in c.model_fields}
    return names | {f"{ENV_PREFIX}CONFIG_FILE"}


@dataclass(frozen=True)
class ComposeUse:
    fixed: dict[str, set[str]]  # variable -> values docker-compose.yml sets
    passed: set[str]  # variables docker-compose.yml passes on from .env when set


def compose_environment(path: Path = COMPOSE_FILE) -> ComposeUse:
    """What docker-compose.yml does with each PARKCARBON_* variable, over all its services."""
    fixed: dict[str, set[str]] = {}
    passed: set[str] = set()
    if not path.is_file():
        return ComposeUse(fixed, passed)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for service in (doc.get("services") or {}).values():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        for name, value in env.items():
            if not str(name).startswith(ENV_PREFIX):
                continue
            if value is None:
                passed.add(name)
            else:
                fixed.setdefault(name, set()).add(str(value))
    return ComposeUse(fixed, passed)


def _compose_cell(name: str, use: ComposeUse) -> str:
    if name in use.fixed:
        values = sorted(use.fixed[name])
        text = " or ".join(f"`{v}`" for v in values)
        return text + (" (or from .env)" if name in use.passed else "")
    return "from `.env`" if name in use.passed else "—"


def render_configuration() -> str:
    use = compose_environment()
    out = [
        "# Configuration reference",
        "",
        f"Generated by `{REGENERATE}` from the settings classes in `config/settings.py`; do not",
        "edit by hand (`tests/deploy/test_docs_consistency.py` regenerates it and compares).",
        "",
        "Every process reads its settings, highest priority first, from keyword arguments, then",
        "`PARKCARBON_*` environment variables, then one YAML file, then the defaults below (which",
        "point at the local stack of `parkcarbon stack start`). The YAML file is named by",
        f"`{ENV_PREFIX}CONFIG_FILE` (default `{DEFAULT_CONFIG_FILE}` in the working directory,",
        "read only if it exists); its keys are the setting names in lower case (the *YAML key*",
        "column), and one file serves every process kind. A key that no process kind knows, or a",
        "bad value, stops the process with an error naming the file and the key (exit code 2).",
        "",
        "The *docker compose* column says what `docker-compose.yml` sets a variable to in the",
        "containers, or that it passes the variable on from `.env` when `.env` sets it (left",
        "unset, the default applies). `.env.example` lists them all.",
        "",
        "The gateway's own YAML file (`parkcarbon-gateway --config FILE`) is another format:",
        "[gateway-config.md](gateway-config.md).",
    ]
    for cls in settings_classes():
        doc = " ".join((cls.__doc__ or "").split())
        extends = "" if cls is CommonSettings else " Also reads every setting of the first table."
        out += ["", f"## {cls.__name__}", "", doc + extends, ""]
        out += [
            "| variable | YAML key | type | default | allowed | meaning | docker compose |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, field in own_fields(cls).items():
            var = env_name(cls, name)
            out.append(
                f"| `{var}` | `{name}` | {_type_name(field.annotation)} | {_default(field)} | "
                f"{_cell(_allowed(field))} | {_cell(field.description or '')} | "
                f"{_compose_cell(var, use)} |"
            )
    return "\n".join(out) + "\n"


# --- docs/gateway-config.md ----------------------------------------------------------------------


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _model_of(arg)) is not None:
            return found
    return None


def gateway_sections() -> list[tuple[str, type[BaseModel]]]:
    """(key path, model) of every mapping in the gateway YAML, depth first."""
    sections: list[tuple[str, type[BaseModel]]] = []

    def walk(path: str, model: type[BaseModel]) -> None:
        sections.append((path, model))
        for name, field in model.model_fields.items():
            sub = _model_of(field.annotation)
            if sub is not None:
                many = typing.get_origin(field.annotation) is list
                walk(f"{path}.{name}{'[]' if many else ''}".lstrip("."), sub)

    walk("", GatewayConfig)
    return sections


def gateway_meaning(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    meaning = GATEWAY_MEANINGS.get((model.__name__, name), "")
    if field.description:
        described = field.description.rstrip(".")
        meaning = f"{meaning} ({described})" if meaning else field.description
    if not meaning:
        raise LookupError(
            f"gateway key {model.__name__}.{name} has no meaning: give its Field a description "
            "or add it to GATEWAY_MEANINGS in deploy/docs_gen.py"
        )
    return meaning


DOCKER_GATEWAY_EXAMPLE = """\
# gateway.yaml for the compose file's `gateway` service (profile gateway): the broker is the
# `kafka` service, the buffer lives on the service's named volume.
gateway_id: gw-central
kafka:
  bootstrap: kafka:9092
buffer:
  path: /var/lib/parkcarbon/gateway-buffer.sqlite3
  max_bytes: 2000000000
metrics:
  port: 9108                         # the compose healthcheck reads this port
modbus_devices:
  - name: main-incomer
    host: 10.20.0.15                 # the meter or its Modbus TCP converter on the plant LAN
    port: 502
    unit_id: 1
    poll_interval_s: 60
    points:
      - meter_id: E-0001
        address: 0
        data_type: uint32
        order: CDAB
        scale: 0.01
        unit: kWh
        kind: cumulative
opcua_servers:
  - name: scada
    endpoint: opc.tcp://10.20.0.40:4840/
    points:
      - node_id: ns=2;s=S-00003.Energy
        meter_id: S-00003
        unit: GJ
        kind: cumulative
        subscription:
          publishing_interval_ms: 10000
          sampling_interval_ms: 5000
"""


def render_gateway() -> str:
    out = [
        "# Gateway configuration reference",
        "",
        f"Generated by `{REGENERATE}` from the gateway's models (`ingest/config.py`,",
        "`ingest/opcua_config.py`, `ingest/mqtt_config.py`); do not edit by hand.",
        "",
        "One YAML file configures a gateway: `parkcarbon-gateway --config gateway.yaml` (or",
        "`parkcarbon gateway --config ...`). The whole file is validated before anything starts:",
        "an unknown key, a wrong type or an inconsistent value (a repeated device name or meter",
        "id, a register past 65535, an OPC UA point with both or neither of `subscription` and",
        "`poll_interval_s`) stops the gateway with the file, the key path and its line, exit",
        'code 2. Values are strictly typed: `5` is not `"5"`, and `true` is not a number.',
        "",
        "## Keys",
    ]
    for path, model in gateway_sections():
        title = f"`{path}`" if path else "Top level"
        out += ["", f"### {title}", ""]
        if model.__doc__ and path:
            out += [" ".join(model.__doc__.split()), ""]
        out += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            out.append(
                f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | "
                f"{_cell(_allowed(field))} | {_cell(gateway_meaning(model, name, field))} |"
            )
    example = GATEWAY_EXAMPLE.read_text(encoding="utf-8")
    out += [
        "",
        "## A full example: Modbus TCP and OPC UA",
        "",
        "`deploy/gateway/example.yaml` (tested to load, `tests/deploy/test_gateway_example.py`):",
        "one Modbus meter with a CT ratio, and an OPC UA server with signed and encrypted",
        "messages, a user login, one subscribed node and one polled node.",
        "",
        "```yaml",
        example.rstrip("\n"),
        "```",
        "",
        "## DL/T 645-2007 lines",
        "",
        "A `dlt645_lines` entry is one RS-485 line: a serial port of the gateway (`transport:",
        "serial`, 2400 bit/s 8E1 by default, as the standard) or a serial device server's raw",
        "TCP port (`transport: tcp`, one connection for the whole line). One task per line",
        "sends one request at a time (control 11H, data identifiers of Appendix A) and waits",
        "`timeout_s` plus the frames' transmission time; a meter that does not answer is",
        "skipped for a doubling backoff (`backoff_min_s`..`backoff_max_s`) while the others",
        "are read. Energy identifiers (`00xxxxxx`) are cumulative readings in kWh/kvarh/kVAh;",
        "register the meter with rollover 1000000 (times `multiplier`): the meter's",
        "XXXXXX.XX register reads 0.00 after 999999.99.",
        "",
        "```yaml",
        "dlt645_lines:",
        "  - name: substation-2-rs485-1",
        "    transport: serial",
        "    device: /dev/ttyS1",
        "    poll_interval_s: 60",
        "    meters:",
        '      - address: "000012345678"         # quoted: YAML would read digits as a number',
        "        points:",
        '          - {di: "00010000", meter_id: E-0101}       # forward active energy, total',
        '          - {di: "00010100", meter_id: E-0101.t1}    # tariff 1 (peak)',
        '          - {di: "02010100", meter_id: E-0101.ua}    # phase A voltage, V',
        "  - name: workshop-3-server",
        "    transport: tcp",
        "    host: 10.20.0.31                 # the device server's raw TCP port",
        "    port: 4001",
        "    baudrate: 2400                   # its serial side: sets the line's timing",
        "    meters:",
        '      - address: "AAAAAAAAAAAA"         # the line\'s only meter: address read first',
        "        points:",
        '          - {di: "00010000", meter_id: E-0301}',
        "```",
        "",
        "### Mixed lines",
        "",
        "The gateway does not put DL/T 645 meters and Modbus RTU devices on one line: a DL/T",
        "645 line's port or device server is refused if a Modbus device uses it too. The",
        "standard defines its own RS-485 link (2400 bit/s, even parity, its own frame, the FE",
        "wake-up bytes), and a mixed line would work only if one task serialised both",
        "protocols' requests at one speed and parity and every device ignored the other's",
        "frames: a Modbus slave whose unit id happens to be FEH or 68H reads a DL/T 645 frame's",
        "first byte as its own address, and a meter's 68H search runs through Modbus frames.",
        "Wire such devices to separate lines (or separate device server ports).",
        "",
        "## MQTT: EMQX Neuron and plain JSON",
        "",
        "`deploy/gateway/mqtt-example.yaml` (tested to load): a Neuron edge gateway publishing",
        "to a broker over TLS with a login, and devices publishing plain JSON. The gateway",
        "subscribes with QoS 1 in a persistent session and acknowledges a message only once its",
        "readings are committed to the buffer, so the broker keeps (and re-sends) whatever the",
        "gateway has not stored. A reading keeps the message's own time, which is how a message",
        "delivered twice is recognised downstream (by meter and time); a plain JSON message",
        "without its time key is malformed for that reason.",
        "",
        "```yaml",
        MQTT_EXAMPLE.read_text(encoding="utf-8").rstrip("\n"),
        "```",
        "",
        "## In Docker",
        "",
        "The compose file's `gateway` service (`docker compose --profile gateway up -d`) mounts",
        "the file named by `GATEWAY_CONFIG` in `.env` (default `./gateway.yaml`) read-only at",
        "`/etc/parkcarbon/gateway.yaml`, and keeps its buffer on the named volume",
        "`gateway-buffer` at `/var/lib/parkcarbon`. Inside the compose network the broker is",
        "`kafka:9092`; the compose healthcheck reads the metrics on port 9108. OPC UA",
        "certificates and keys go in the same way, as read-only mounts named by the",
        "`certificate` and `private_key` keys. The file holds the OPC UA password, if any:",
        "keep it readable by its owner only (`chmod 600`).",
        "",
        "```yaml",
        DOCKER_GATEWAY_EXAMPLE.rstrip("\n"),
        "```",
        "",
        "A substation box runs the same gateway without Docker:",
        "`pip install 'parkcarbon[gateway]'` and the systemd unit",
        "`deploy/gateway/parkcarbon-gateway.service`.",
    ]
    return "\n".join(out) + "\n"


# --- entry point ---------------------------------------------------------------------------------


def outputs() -> dict[Path, str]:
    return {CONFIGURATION_MD: render_configuration(), GATEWAY_MD: render_gateway()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="Exit 1 if a committed file differs; write nothing."
    )
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        verb = "is out of date" if args.check else "written"
        print(f"{path.relative_to(ROOT)} {verb}")
    if args.check and stale:
        print(f"regenerate with: {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
