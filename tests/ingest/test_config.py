from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from config.settings import ConfigError
from ingest.config import FullPolicy, load_gateway_config
from ingest.registers import DataType, Function, Order

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
gateway_id: gw-sub-1
kafka:
  bootstrap: 127.0.0.1:9092
buffer:
  path: {buffer}
  max_bytes: 50000000
metrics:
  port: {port}
modbus_devices:
  - name: dev-1
    host: 127.0.0.1
    port: 5020
    unit_id: 3
    points:
      - meter_id: E-1.kwh
        address: 0
        data_type: uint32
        order: CDAB
        scale: 0.01
        multiplier: 80
        unit: kWh
        kind: cumulative
      - meter_id: E-1.kw
        function: input
        address: 4
        data_type: float32
        unit: kW
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_a_good_config_loads_with_defaults_filled_in(tmp_path: Path) -> None:
    config = load_gateway_config(_write(tmp_path, GOOD.format(buffer=tmp_path / "b.db", port=0)))
    [device] = config.modbus_devices
    assert (device.unit_id, device.timeout_s, device.poll_interval_s) == (3, 1.0, 1.0)
    kwh, kw = device.points
    assert (kwh.data_type, kwh.order, kwh.multiplier) == (DataType.UINT32, Order.CDAB, 80.0)
    assert (kw.function, kw.order, kw.kind.value) == (Function.INPUT, Order.ABCD, "instantaneous")
    assert config.buffer.full_policy is FullPolicy.DROP_OLDEST
    assert config.opcua_servers == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "data_type: uint32",
            "data_type: uint24",
            "modbus_devices[0].points[0].data_type (line 17)",
        ),
        ("order: CDAB", "order: ACBD", "modbus_devices[0].points[0].order (line 18)"),
        ("unit_id: 3", "unit_id: 300", "modbus_devices[0].unit_id (line 13)"),
        ("unit_id: 3", "unit_id: '3'", "modbus_devices[0].unit_id (line 13)"),
        ("scale: 0.01", "scael: 0.01", "modbus_devices[0].points[0].scael (line 19)"),
        ("address: 4", "address: 65535", "modbus_devices[0].points[1] (line 23)"),
        ("meter_id: E-1.kw\n", "meter_id: E-1.kwh\n", "(top level)"),
        ("gateway_id: gw-sub-1", "gateway_id: gw/sub", "gateway_id (line 1)"),
        # A trailing newline is not part of an ID ("$" alone would let it pass).
        ("gateway_id: gw-sub-1", 'gateway_id: "gw-sub-1\\n"', "gateway_id (line 1)"),
        ("name: dev-1", 'name: "dev-1\\n"', "modbus_devices[0].name (line 10)"),
        (
            "meter_id: E-1.kwh",
            'meter_id: "E-0001\\n"',
            "modbus_devices[0].points[0].meter_id (line 15)",
        ),
        ("unit: kWh", 'unit: "kWh\\n"', "modbus_devices[0].points[0].unit (line 21)"),
        ("  max_bytes: 50000000", "  max_bytes: lots", "buffer.max_bytes (line 6)"),
    ],
)
def test_a_bad_config_names_the_file_the_key_and_its_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = GOOD.format(buffer=tmp_path / "b.db", port=0)
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_gateway_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message, message


def test_duplicate_meter_ids_are_refused_with_the_id(tmp_path: Path) -> None:
    text = GOOD.format(buffer=tmp_path / "b.db", port=0).replace("E-1.kw\n", "E-1.kwh\n")
    with pytest.raises(ConfigError, match=r"meter ids must be unique, repeated: E-1\.kwh"):
        load_gateway_config(_write(tmp_path, text))


def test_a_missing_or_unparsable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_gateway_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_gateway_config(_write(tmp_path, "gateway_id: [unclosed\n"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_gateway_does_not_start_half_configured(tmp_path: Path) -> None:
    port = _free_port()
    buffer = tmp_path / "buffer.db"
    # The first device is fine; the second has a bad point: nothing may start at all.
    good = GOOD.format(buffer=buffer, port=port)
    second = good[good.index("  - name: dev-1") :].replace("dev-1", "dev-2").replace("E-1", "E-2")
    path = _write(tmp_path, good + second.replace("data_type: float32", "data_type: float16"))
    result = subprocess.run(
        [str(ROOT / ".venv/bin/parkcarbon"), "gateway", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "modbus_devices[1].points[1].data_type" in result.stderr
    assert not buffer.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
