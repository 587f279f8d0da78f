"""DL/T 645 lines in the gateway's YAML: what loads, and what is refused with file, key, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError
from ingest.config import load_gateway_config

GOOD = """\
gateway_id: gw-1
modbus_devices:
  - name: pm-1
    host: 127.0.0.1
    port: 5020
    points:
      - {meter_id: M-1, address: 0, data_type: uint32, unit: kWh}
dlt645_lines:
  - name: line-a
    transport: serial
    device: /dev/ttyS1
    meters:
      - address: "000012345678"
        points:
          - {di: "00010000", meter_id: E-1}
          - {di: "00010100", meter_id: E-1.t1}
  - name: line-b
    transport: tcp
    host: 127.0.0.1
    port: 4001
    meters:
      - address: "AAAAAAAAAAAA"
        points:
          - {di: "02010100", meter_id: E-2.ua, multiplier: 100.0}
"""


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return load_gateway_config(path)


def test_a_serial_and_a_tcp_line_load_with_the_standards_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, GOOD)
    a, b = config.dlt645_lines  # type: ignore[attr-defined]
    assert (a.baudrate, a.parity, a.stop_bits, a.preamble) == (2400, "E", 1, True)
    assert a.meters[0].points[0].data_format().cumulative
    assert b.endpoint() == "127.0.0.1:4001"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # YAML 1.1 reads an unquoted 000000000001 as the octal number 1: its digits are lost.
        ('address: "000012345678"', "address: 000000000001",
         r"dlt645_lines\[0\]\.meters\[0\]\.address \(line 13\): .*quoted string"),
        ('{di: "00010000"', "{di: 00010000",
         r"dlt645_lines\[0\]\.meters\[0\]\.points\[0\]\.di \(line 15\): .*quoted"),
        ('{di: "00010000"', '{di: "0001FF00"',
         r"points\[0\]\.di \(line 15\): .*not one this gateway decodes"),
        ('address: "000012345678"', 'address: "00001234567X"', r"12 decimal digits"),
        ("device: /dev/ttyS1", "host: 127.0.0.1", r"dlt645_lines\[0\] \(line 9\): .*serial line"),
        ("port: 4001", "port: 5020", r"does not mix the two protocols on one line"),
        ("device: /dev/ttyS1", "device: /dev/ttyS1\n    baudrate: 2401", r"baudrate"),
    ],
)  # fmt: skip
def test_a_bad_line_is_refused_with_its_key_path_and_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=expected):
        load(tmp_path, GOOD.replace(old, new, 1))


def test_the_all_aa_address_needs_its_meter_alone_on_the_line(tmp_path: Path) -> None:
    text = GOOD.replace(
        '          - {di: "02010100", meter_id: E-2.ua, multiplier: 100.0}\n',
        '          - {di: "02010100", meter_id: E-2.ua, multiplier: 100.0}\n'
        '      - address: "000000000009"\n'
        '        points: [{di: "00010000", meter_id: E-9}]\n',
    )
    with pytest.raises(ConfigError, match="needs the meter alone"):
        load(tmp_path, text)


def test_a_wildcard_that_reaches_another_meter_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        '          - {di: "00010100", meter_id: E-1.t1}\n',
        '          - {di: "00010100", meter_id: E-1.t1}\n'
        '      - address: "AAAAAA345678"\n'
        '        points: [{di: "00010000", meter_id: E-3}]\n',
    )
    with pytest.raises(ConfigError, match="can reach the same meter"):
        load(tmp_path, text)


def test_meter_ids_and_names_stay_unique_across_protocols(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="meter ids must be unique, repeated: M-1"):
        load(tmp_path, GOOD.replace("meter_id: E-1}", "meter_id: M-1}"))
    with pytest.raises(ConfigError, match="names must be unique, repeated: pm-1"):
        load(tmp_path, GOOD.replace("name: line-b", "name: pm-1"))
