"""IEC 60870-5-104: the codec against the standard's octets, and the client session against an
independent outstation (c104, a test-only tool: GPL, never imported by runtime code)."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from config.settings import ConfigError
from contracts.topics import Topic
from deploy.mosquitto import free_port
from ingest.config import GatewayConfig, load_gateway_config
from ingest.gateway import run_gateway
from ingest.iec104 import Session, Timing
from ingest.iec104_codec import (
    Asdu,
    Cause,
    FrameError,
    IFrame,
    SFrame,
    UFrame,
    UFunction,
    counter_interrogation,
    decode_apdu,
    decode_asdu,
    decode_cp56,
    encode_cp56,
    encode_i,
    encode_s,
    encode_u,
    interrogation,
)
from store.registry import Meter, add_enterprise, add_meter, add_park
from tests.conftest import RunningWorker

CST = timezone(timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[2]
RUNTIME = (
    "accounting",
    "ingest",
    "stream",
    "store",
    "api",
    "cli",
    "config",
    "deploy",
    "simulators",
)


def test_no_runtime_code_imports_the_gpl_test_peer() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in RUNTIME
        for path in (ROOT / package).rglob("*.py")
        if any(
            line.strip().startswith(("import c104", "from c104"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []


def test_u_frames_are_the_standards_octets() -> None:
    # IEC 60870-5-104 5.3: STARTDT act 68 04 07 00 00 00, its con 0B, TESTFR act 43, con 83.
    assert encode_u(UFunction.STARTDT_ACT) == bytes.fromhex("680407000000")
    assert decode_apdu(bytes.fromhex("68040B000000")) == UFrame(UFunction.STARTDT_CON)
    assert decode_apdu(bytes.fromhex("680483000000")) == UFrame(UFunction.TESTFR_CON)


def test_sequence_numbers_sit_shifted_by_one_and_wrap_at_32768() -> None:
    frame = encode_i(32767, 5, b"\x64\x01\x06\x00\x01\x00\x00\x00\x00\x14")
    assert frame[:6] == bytes([0x68, 14, 0xFE, 0xFF, 0x0A, 0x00])
    assert decode_apdu(frame) == IFrame(32767, 5, frame[6:])
    assert decode_apdu(encode_i(32768, 0, b"\x00" * 6)).send_seq == 0  # type: ignore[union-attr]
    assert encode_s(300) == bytes([0x68, 4, 0x01, 0x00, 0x58, 0x02])
    assert decode_apdu(encode_s(300)) == SFrame(300)


@pytest.mark.parametrize(
    "octets",
    ["670407000000", "680307000000", "680400000000", "68040F000000", "68050700000000"],
)
def test_bad_apdus_are_refused_with_a_reason(octets: str) -> None:
    with pytest.raises(FrameError):
        decode_apdu(bytes.fromhex(octets))


def test_interrogation_commands() -> None:
    # C_IC_NA_1, one object, cause 6 act, CA 47, IOA 0, QOI 20 (station interrogation).
    assert interrogation(47) == bytes.fromhex("640106002f0000000014")
    # C_CI_NA_1, QCC 05: general counter request, read without freeze.
    assert counter_interrogation(47) == bytes.fromhex("650106002f0000000005")


def test_cp56time2a_round_trip_and_fields() -> None:
    when = datetime(2025, 11, 26, 14, 7, 59, 123_000, tzinfo=CST)
    raw = encode_cp56(when)
    # 59123 ms = E6F3H, minute 7, hour 14, day 26 with weekday 3 (Wednesday) in bits 5-7.
    assert raw == bytes([0xF3, 0xE6, 7, 14, 26 | 3 << 5, 11, 25])
    decoded = decode_cp56(raw, CST)
    assert (decoded.when, decoded.invalid, decoded.summer) == (when, False, False)
    assert decode_cp56(raw[:2] + bytes([7 | 0x80]) + raw[3:], CST).invalid
    with pytest.raises(FrameError):
        decode_cp56(bytes([0x60, 0xEA, 0, 0, 1, 1, 25]), CST)  # 60000 ms


def test_integrated_totals_with_time_tags_in_a_sequence() -> None:
    stamp = encode_cp56(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    # M_IT_TB_1, SQ=1 with 2 objects from IOA 1001, cause 37 (counter interrogated), CA 1.
    body = (1001).to_bytes(3, "little")
    body += struct.pack("<i", 123456) + bytes([0x03]) + stamp  # sequence 3
    body += struct.pack("<i", -5) + bytes([0x80 | 0x20]) + stamp  # IV and CY
    asdu = decode_asdu(bytes([37, 0x82, 37, 0, 1, 0]) + body, UTC)
    assert (asdu.type_id, asdu.cause, asdu.common_address) == (37, Cause.COUNTER_INTERROGATED, 1)
    first, second = asdu.objects
    assert (first.ioa, first.value, first.sequence, first.invalid) == (1001, 123456.0, 3, False)
    assert first.time is not None and first.time.when == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (second.ioa, second.value, second.invalid, second.carry) == (1002, -5.0, True, True)


def test_measured_short_floats_carry_their_quality_bits() -> None:
    body = (2001).to_bytes(3, "little") + struct.pack("<f", 42.5) + bytes([0x40 | 0x01])
    asdu = decode_asdu(bytes([13, 0x01, 3, 0, 0x2F, 0]) + body, UTC)
    (obj,) = asdu.objects
    assert (obj.ioa, obj.value, obj.flags, obj.invalid, obj.time) == (
        2001,
        42.5,
        "OV,NT",
        False,
        None,
    )


def test_an_asdu_shorter_than_its_objects_is_refused() -> None:
    with pytest.raises(FrameError, match="needs 15 octets"):
        decode_asdu(bytes([36, 0x01, 3, 0, 1, 0]) + b"\x00" * 10, UTC)


@pytest.mark.integration
async def test_a_session_against_c104_gets_totals_and_measured_values_by_interrogation(
    tmp_path: Path,
) -> None:
    c104 = pytest.importorskip("c104")  # the dev extra's test peer
    port = free_port()
    server = c104.Server(ip="127.0.0.1", port=port)
    station = server.add_station(common_address=47)
    recorded = datetime(2025, 11, 26, 6, 0, 0, tzinfo=UTC)
    naive = recorded.replace(tzinfo=None)  # c104 takes the outstation's clock without a zone
    total = station.add_point(io_address=1001, type=c104.Type.M_IT_TB_1)
    # c104 2.2.1's bindings need every argument: their defaults fail to convert.
    total.info = c104.BinaryCounterInfo(987654, c104.UInt5(2), c104.BinaryCounterQuality(), naive)
    plain = station.add_point(io_address=1002, type=c104.Type.M_IT_NA_1)
    plain.info = c104.BinaryCounterInfo(42, c104.UInt5(0), c104.BinaryCounterQuality(), None)
    power = station.add_point(io_address=2001, type=c104.Type.M_ME_TF_1)
    power.info = c104.ShortInfo(1234.5, c104.Quality(), naive)
    volts = station.add_point(io_address=2002, type=c104.Type.M_ME_NC_1)
    volts.info = c104.ShortInfo(10.5, c104.Quality(), None)
    server.start()
    received: list[Asdu] = []
    got_all = asyncio.Event()

    async def on_asdu(asdu: Asdu) -> None:
        received.append(asdu)
        seen = {o.ioa for a in received for o in a.objects}
        if seen >= {1001, 1002, 2001, 2002}:
            got_all.set()

    session = Session("127.0.0.1", port, common_address=47, zone=UTC, on_asdu=on_asdu,
                      timing=Timing(t1=5, t2=1, t3=2))  # fmt: skip
    try:
        task = asyncio.create_task(session.run())
        await asyncio.wait_for(got_all.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        server.stop()
    values = {o.ioa: (a.type_id, a.cause, o.value, o.time) for a in received for o in a.objects}
    assert values[1001][:3] == (37, Cause.COUNTER_INTERROGATED, 987654.0)
    assert values[1001][3] is not None and values[1001][3].when == recorded
    assert values[1002][:3] == (15, Cause.COUNTER_INTERROGATED, 42.0)
    assert values[2001][:3] == (36, Cause.INTERROGATED, 1234.5)
    assert values[2001][3] is not None and values[2001][3].when == recorded
    assert values[2002][:3] == (13, Cause.INTERROGATED, 10.5)


def _register(db: psycopg.Connection[Any], unique: str) -> tuple[str, str]:
    add_park(db, park_id=f"p-{unique}", name="park", actor="test")
    add_enterprise(db, enterprise_id=f"e-{unique}", park_id=f"p-{unique}", name="ent", actor="test")
    ids = (f"RTU-{unique}.kwh", f"RTU-{unique}.kw")
    for meter_id, unit, kind in ((ids[0], "kWh", "cumulative"), (ids[1], "kW", "instantaneous")):
        add_meter(
            db,
            actor="test",
            meter=Meter(
                meter_id=meter_id,
                enterprise_id=f"e-{unique}",
                carrier="electricity",
                unit=unit,
                register_kind=kind,
                source_category="purchased_electricity"
                if kind == "cumulative"
                else "activity_only",
                multiplier=1.0,
                expected_interval_s=900,
                accuracy_class="0.5S",
                accuracy_category="user_class_I",
            ),
        )
    return ids


@pytest.mark.integration
async def test_a_gateway_stores_an_outstations_totals_and_measured_values_as_source_iec104(
    db: psycopg.Connection[Any], worker: RunningWorker, kafka_bootstrap: str, unique: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    c104 = pytest.importorskip("c104")
    kwh, kw = _register(db, unique)
    port = free_port()
    server = c104.Server(ip="127.0.0.1", port=port)
    station = server.add_station(common_address=3)
    # The outstation's clock runs on China Standard Time; the tag says when it counted.
    counted = datetime.now(CST).replace(microsecond=0) - timedelta(minutes=2)
    total = station.add_point(io_address=4001, type=c104.Type.M_IT_TB_1)
    total.info = c104.BinaryCounterInfo(
        1234567, c104.UInt5(1), c104.BinaryCounterQuality(), counted.replace(tzinfo=None)
    )
    power = station.add_point(io_address=5001, type=c104.Type.M_ME_NC_1)
    power.info = c104.ShortInfo(815.25, c104.Quality(), None)
    server.start()
    config = GatewayConfig.model_validate(
        {
            "gateway_id": f"gw-{unique}",
            "kafka": {"bootstrap": kafka_bootstrap, "topic": worker.topic(Topic.READINGS_RAW)},
            "buffer": {"path": str(tmp_path / "buffer.sqlite3")},
            "metrics": {"port": free_port()},
            "iec104_servers": [
                {
                    "name": "substation-rtu",
                    "host": "127.0.0.1",
                    "port": port,
                    "common_address": 3,
                    "time_zone": "Asia/Shanghai",
                    "points": [
                        # 0.01 kWh per count: 12345.67 kWh
                        {"ioa": 4001, "meter_id": kwh, "unit": "kWh", "kind": "cumulative",
                         "scale": 0.01},
                        {"ioa": 5001, "meter_id": kw, "unit": "kW"},
                    ],
                }
            ],
        }
    )  # fmt: skip
    stop = asyncio.Event()
    gateway = asyncio.create_task(run_gateway(config, stop=stop))
    try:
        deadline = asyncio.get_running_loop().time() + 60
        rows: dict[str, tuple[datetime, float, str]] = {}
        while len(rows) < 2 and asyncio.get_running_loop().time() < deadline:
            assert not gateway.done(), gateway
            await asyncio.sleep(0.3)
            found = db.execute(
                "SELECT meter_id, ts, value, source FROM reading WHERE meter_id = ANY(%s)",
                ([kwh, kw],),
            ).fetchall()
            rows = {str(m): (ts, float(v), str(s)) for m, ts, v, s in found}
    finally:
        stop.set()
        await asyncio.wait_for(gateway, 30)
        server.stop()
    assert rows[kwh][1:] == (pytest.approx(12345.67), "iec104")
    assert rows[kwh][0] == counted  # the CP56Time2a tag, read in the outstation's zone
    assert rows[kw][1:] == (815.25, "iec104")


def test_a_bad_outstation_config_names_the_file_the_key_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "gateway_id: gw-1\n"
        "iec104_servers:\n"
        "  - name: rtu-1\n"
        "    host: 127.0.0.1\n"
        "    common_address: 3\n"
        "    time_zone: Mars/Olympus\n"
        "    points:\n"
        "      - {ioa: 1, meter_id: E-1, unit: kWh, kind: cumulative}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_gateway_config(path)
    text = str(err.value)
    assert str(path) in text
    assert "iec104_servers[0].time_zone (line 6)" in text
    assert "not an IANA time zone" in text
