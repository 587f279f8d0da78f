"""OPC UA server configuration: what a wrong file is told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import ConfigError
from ingest.config import load_gateway_config
from ingest.opcua_config import OpcUaServerConfig

POINT = {"node_id": "ns=2;i=5", "meter_id": "E1", "unit": "kWh", "poll_interval_s": 1.0}


SECURE = {
    "security_policy": "Aes256Sha256RsaPss",
    "security_mode": "SignAndEncrypt",
    "certificate": "/etc/parkcarbon/gw.der",
    "private_key": "/etc/parkcarbon/gw.pem",
}


@pytest.mark.parametrize(
    "trust",
    [
        {"trust_list": "/etc/parkcarbon/opcua-trusted"},
        {"server_certificate": "/etc/parkcarbon/boiler-house.der"},
    ],
)
def test_a_secure_server_config_with_a_pinned_or_listed_server_certificate_loads(
    trust: dict[str, str],
) -> None:
    config = OpcUaServerConfig.model_validate(
        {
            "name": "ua1",
            "endpoint": "opc.tcp://127.0.0.1:4840",
            **SECURE,
            **trust,
            "username": "gw",
            "password": "s3cret",
            "points": [POINT],
        }
    )
    assert (config.security_policy, config.security_mode) == (
        "Aes256Sha256RsaPss",
        "SignAndEncrypt",
    )
    [(key, path)] = trust.items()
    assert getattr(config, key) == Path(path)
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"security_policy": "Basic256Sha256"}, "do not go together"),
        ({"security_policy": "Basic256Sha256", "security_mode": "Sign"}, "requires 'certificate'"),
        ({"endpoint": "http://127.0.0.1:4840"}, "must look like opc.tcp://"),
        ({"username": "operator"}, "give both or neither"),
        ({"reconnect_min_s": 90.0, "reconnect_max_s": 60.0}, "exceeds"),
        (
            {"points": [{"node_id": "E-1", "meter_id": "E1", "unit": "kWh", "poll_interval_s": 1}]},
            "is not a string NodeId",
        ),
        ({"points": [{"node_id": "ns=2;i=5", "meter_id": "E1", "unit": "kWh"}]}, "exactly one of"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
        # A trailing newline is not part of a name, an ID or a unit.
        ({"name": "ua1\n"}, "name 'ua1\\\\n' must match"),
        ({"points": [{**POINT, "meter_id": "E-0001\n"}]}, "meter_id 'E-0001\\\\n' must match"),
        ({"points": [{**POINT, "unit": "kWh\n"}]}, "unit 'kWh\\\\n' must match"),
        ({"points": [{**POINT, "node_id": "ns=2;i=5\n"}]}, "is not a string NodeId"),
        # A signing policy without a way to check the server's certificate trusts whoever answers.
        (SECURE, "requires exactly one of 'server_certificate'"),
        (
            {
                **SECURE,
                "server_certificate": "/etc/parkcarbon/s.der",
                "trust_list": "/etc/parkcarbon/trusted",
            },
            "requires exactly one of 'server_certificate'",
        ),
        ({"trust_list": "/etc/parkcarbon/trusted"}, "need a signing security_policy"),
        # A password over a channel that neither signs nor encrypts is readable by anyone.
        ({"username": "gw", "password": "s3cret"}, "refused with security_policy None"),
        (
            {"username": "gw", "password": "s3cret", "security_mode": "None"},
            "refused with security_policy None and security_mode None",
        ),
    ],
)
def test_a_bad_server_config_is_refused_with_a_message_naming_the_problem(
    change: dict[str, Any], message: str
) -> None:
    base = {
        "name": "ua1",
        "endpoint": "opc.tcp://127.0.0.1:4840",
        "points": [POINT],
    }
    with pytest.raises(ValidationError, match=message):
        OpcUaServerConfig.model_validate({**base, **change})


def test_a_password_without_security_is_refused_at_load_naming_the_file_key_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "gateway_id: gw-1\n"
        "kafka:\n"
        "  bootstrap: 127.0.0.1:9092\n"
        "buffer:\n"
        f"  path: {tmp_path / 'buffer.db'}\n"
        "opcua_servers:\n"
        "  - name: boiler-house\n"
        "    endpoint: opc.tcp://127.0.0.1:4840\n"
        "    username: gateway\n"
        "    password: change-me\n"
        "    points:\n"
        "      - {node_id: 'ns=2;i=5', meter_id: E1, unit: kWh, poll_interval_s: 1}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "opcua_servers[0] (line 7)" in message
    assert "refused with security_policy None" in message
    assert "change-me" not in message
