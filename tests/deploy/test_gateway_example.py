"""The README's gateway example is `deploy/gateway/example.yaml`, and it loads."""

from __future__ import annotations

from pathlib import Path

from ingest.config import FullPolicy, load_gateway_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "gateway" / "example.yaml"


def test_the_example_config_loads_whole() -> None:
    config = load_gateway_config(EXAMPLE)
    assert config.buffer.full_policy is FullPolicy.DROP_OLDEST
    (device,) = config.modbus_devices
    assert [p.meter_id for p in device.points] == ["E-0001", "E-0001-PWR"]
    (server,) = config.opcua_servers
    assert server.security_policy != "None"
    assert server.trust_list == Path("/etc/parkcarbon/opcua-trusted")
    assert [p.subscription is None for p in server.points] == [False, True]


def test_the_readme_shows_the_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```yaml\n" + EXAMPLE.read_text(encoding="utf-8") + "```" in readme
