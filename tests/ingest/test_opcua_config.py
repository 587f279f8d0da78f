"""OPC UA server configuration: what a wrong file is told."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ingest.opcua_config import OpcUaServerConfig

POINT = {"node_id": "ns=2;i=5", "meter_id": "E1", "unit": "kWh", "poll_interval_s": 1.0}


def test_a_valid_secure_server_config_gives_asyncuas_security_string() -> None:
    config = OpcUaServerConfig.model_validate(
        {
            "name": "ua1",
            "endpoint": "opc.tcp://127.0.0.1:4840",
            "security_policy": "Aes256Sha256RsaPss",
            "security_mode": "SignAndEncrypt",
            "certificate": "/etc/parkcarbon/gw.der",
            "private_key": "/etc/parkcarbon/gw.pem",
            "username": "gw",
            "password": "s3cret",
            "points": [POINT],
        }
    )
    assert config.security_string == (
        "Aes256Sha256RsaPss,SignAndEncrypt,/etc/parkcarbon/gw.der,/etc/parkcarbon/gw.pem"
    )
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
