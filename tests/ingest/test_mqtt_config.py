"""The MQTT part of the gateway YAML: checked whole on load, errors name file, key path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError
from ingest.config import GatewayConfig, load_gateway_config
from ingest.mqtt_config import PayloadFormat

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "gateway" / "mqtt-example.yaml"

GOOD = """\
gateway_id: gw-1
mqtt_brokers:
  - name: neuron
    host: 127.0.0.1
    subscriptions:
      - topic: /neuron/app/+/+
        format: neuron
        points:
          - {node: line-1, group: energy, tag: kwh, meter_id: E-1, unit: kWh, kind: cumulative}
      - topic: plant/#
        format: json
        points:
          - {key: volume, topic: plant/gas-1, meter_id: G-1, unit: Nm3}
"""


def load(tmp_path: Path, text: str) -> GatewayConfig:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return load_gateway_config(path)


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_the_mqtt_example_loads_with_a_persistent_session_and_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = EXAMPLE.read_text().replace("/etc/parkcarbon/mqtt-ca.pem", str(ca))
    config = load(tmp_path, text)
    (broker,) = config.mqtt_brokers
    assert broker.session_client_id("gw-substation-5") == "parkcarbon-gw-substation-5"
    assert broker.tls is not None and broker.password is not None
    assert (broker.protocol, broker.session_expiry_s, broker.tls.ca_file) == ("5", 604800, ca)
    assert [s.format for s in broker.subscriptions] == [PayloadFormat.NEURON, PayloadFormat.JSON]
    assert broker.meter_ids() == ["E-0101", "E-0101-PWR", "G-0001"]
    assert broker.password.get_secret_value() == "change-me"


def test_defaults_give_a_stable_client_id_per_gateway_and_broker(tmp_path: Path) -> None:
    (broker,) = load(tmp_path, GOOD).mqtt_brokers
    assert broker.session_client_id("gw-1") == "parkcarbon-gw-1-neuron"
    assert (broker.port, broker.protocol, broker.keepalive_s) == (1883, "5", 30)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("topic: plant/#", "topic: plant/#/x", "mqtt_brokers[0].subscriptions[1].topic (line 10)"),
        ("topic: /neuron/app/+/+", "topic: /neuron/app/a+/+",
         "mqtt_brokers[0].subscriptions[0].topic (line 6)"),
        ("format: json", "format: csv", "mqtt_brokers[0].subscriptions[1].format (line 11)"),
        ("tag: kwh, ", "", "mqtt_brokers[0].subscriptions[0] (line 6)"),
        ("topic: plant/gas-1", "topic: other/gas-1", "mqtt_brokers[0].subscriptions[1] (line 10)"),
        ("host: 127.0.0.1", "host: 127.0.0.1\n    qos: 2", "mqtt_brokers[0].qos (line 5)"),
        ("meter_id: G-1", "meter_id: E-1", "(top level)"),
    ],
)  # fmt: skip
def test_a_bad_mqtt_key_names_the_file_the_key_path_and_its_line(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    assert old in GOOD
    message = refusal(tmp_path, GOOD.replace(old, new))
    assert str(tmp_path / "gateway.yaml") in message
    assert where in message


def test_a_password_crosses_the_network_only_over_tls(tmp_path: Path) -> None:
    remote = GOOD.replace("host: 127.0.0.1", "host: 10.0.0.7\n    username: u\n    password: p")
    assert "without 'tls'" in refusal(tmp_path, remote)
    local = GOOD.replace("host: 127.0.0.1", "host: 127.0.0.1\n    username: u\n    password: p")
    load(tmp_path, local)  # a broker on the same box (Neuron's own) may take a plain login
    missing = remote.replace("password: p", "password: p\n    tls: {ca_file: /nonexistent.pem}")
    assert "/nonexistent.pem is not a readable file" in refusal(tmp_path, missing)


def test_two_brokers_with_one_client_id_would_steal_each_others_session(tmp_path: Path) -> None:
    twice = GOOD + (
        "  - name: again\n    host: 127.0.0.1\n    client_id: parkcarbon-gw-1-neuron\n"
        "    subscriptions:\n      - topic: x/#\n        format: json\n"
        "        points: [{key: v, meter_id: X-1, unit: kWh}]\n"
    )
    assert "client ids must be unique per broker: parkcarbon-gw-1-neuron" in refusal(
        tmp_path, twice
    )
