"""The gateway-grant rule (``stream.authorization``) and its place in batch validation: pure
logic, no broker or database."""

from __future__ import annotations

from accounting.carriers import Carrier
from accounting.meter import MeterProfile, MeterState, RegisterKind
from accounting.metering import MeteringLevel
from accounting.reasons import Reason
from contracts.records import RawReading, ReadingBatch, Source, encode_batch
from store.gateways import GatewayGrant
from stream.authorization import SourceAuthorization
from stream.columns import decode_columns
from stream.validate import StreamReason, validate_batch

METERS = {"a1": "ent-a", "a2": "ent-a", "b1": "ent-b", "c1": "ent-c"}
PARKS = {"ent-a": "p1", "ent-b": "p1", "ent-c": "p2"}  # p2 registered no gateway
T0 = 1_700_000_000_000


def grants(*extra: GatewayGrant) -> SourceAuthorization:
    own = GatewayGrant("gw-a", "p1", frozenset({"ent-a"}), frozenset({"b1"}), True)
    return SourceAuthorization([own, *extra], METERS, PARKS)


def test_the_reason_bit_and_the_stream_reason_are_the_same_name() -> None:
    assert Reason.UNAUTHORIZED_SOURCE == 1 << 8
    assert Reason.UNAUTHORIZED_SOURCE.name == StreamReason.UNAUTHORIZED_SOURCE


def test_a_gateway_sends_its_enterprises_and_its_meters_and_nothing_else() -> None:
    auth = grants(GatewayGrant("gw-off", "p1", frozenset({"ent-a"}), frozenset(), False))
    assert auth.refusal("gw-a", "a1") is None and auth.refusal("gw-a", "a2") is None
    assert auth.refusal("gw-a", "b1") is None  # granted the single meter
    assert auth.refusal("gw-off", "a1") == "gateway gw-off is disabled"
    assert "not registered" in (auth.refusal("gw-x", "a1") or "")
    assert auth.enforcing_parks == {"p1"}


def test_a_park_without_registered_gateways_is_not_guarded() -> None:
    auth = grants()
    assert not auth.guards("c1") and auth.guards("a1")
    assert auth.refusal("gw-x", "c1") is None
    assert not SourceAuthorization.empty().guards("a1")


def profile(meter_id: str) -> MeterProfile:
    return MeterProfile(
        meter_id=meter_id,
        carrier=Carrier.ELECTRICITY,
        unit="kWh",
        register=RegisterKind.CUMULATIVE,
        expected_interval_ms=900_000,
        accuracy_class="1.0",
        metering_level=MeteringLevel.UNIT,
    )


def message(gateway: str, source: Source, meters: list[str], value: float) -> bytes:
    readings = tuple(RawReading(m, T0, value, "kWh", 0) for m in meters)
    return encode_batch(ReadingBatch(source, gateway, f"{gateway}/dev", readings))


def test_refused_readings_are_quarantined_per_message_and_never_touch_the_meter_state() -> None:
    sent = [
        message("gw-x", Source.MODBUS, ["a1", "c1"], 99.0),  # a1 refused, c1 (p2) accepted
        message("gw-a", Source.OPCUA, ["a1"], 5.0),
        message("ems:key", Source.EMS, ["b1"], 7.0),  # pushes are not gateway traffic
    ]
    states: dict[str, MeterState] = {}
    outcome = validate_batch(
        [decode_columns(m) for m in sent],
        [T0 + 60_000] * 3,
        profiles={m: profile(m) for m in METERS},
        state_of=lambda m: states.get(m, MeterState()),
        authorization=grants(),
    )
    [refused] = outcome.rejections[0]
    assert (refused.reason, refused.meter_id, refused.gateway_id, refused.value) == (
        "UNAUTHORIZED_SOURCE",
        "a1",
        "gw-x",
        99.0,
    )
    assert outcome.rejections[1] == outcome.rejections[2] == []
    assert sorted(outcome.valid.meter_id) == ["a1", "b1", "c1"]
    # a1's state is the granted gateway's reading, as if the refused one never came.
    accepted = dict(zip(outcome.valid.meter_id, outcome.valid.value.tolist(), strict=True))
    assert accepted["a1"] == 5.0
    assert outcome.states["a1"].last_value == 5.0
