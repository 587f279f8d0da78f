"""The demo park that `parkcarbon up` runs: its registry rows and its simulator processes.

Every registry row is derived from the simulators' own park definitions (``make_park`` and
``REGISTER_MAPS`` for the Modbus farm and the RTU line, ``Park.build`` for the OPC UA server, the
DL/T 645 identifiers' Appendix A formats, the Neuron node's tags), built with the same constants
that start the simulators, so the registry and the simulated park cannot drift apart.
Seeding goes through ``store.registry`` (one audit record per row created) and skips rows that
exist, so it can run on every `parkcarbon up`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from accounting.carriers import CANONICAL_UNIT
from accounting.carriers import Carrier as Accounted
from accounting.units import UnitError, conversion_factor
from ingest.dlt645_codec import data_format
from simulators.meters import REGISTER_MAPS, MapPoint
from simulators.modbus_farm import make_park
from simulators.park_meters import Park
from simulators.profiles import Carrier as Simulated
from store.registry import (
    Meter,
    add_base_year_baseline,
    add_enterprise,
    add_meter,
    add_park,
    add_site,
    add_target,
)

ACTOR = "parkcarbon demo seed"
PARK_ID, PARK_NAME, PARK_TIMEZONE = "demo", "Demo industrial park", "Asia/Shanghai"
# The park table's region column defaults to 'CN' (national grid factor), which is the demo's.

MODBUS_METERS, MODBUS_PREFIX = 20, "SIM"
MODBUS_PORT, MODBUS_CONTROL_PORT, MODBUS_GATEWAY = 5020, 5019, "gw-demo"
OPCUA_METERS, OPCUA_PORT, OPCUA_SEED, OPCUA_GATEWAY = 10, 4840, 0, "gw-demo-opcua"
GATEWAY_METRICS_PORT, OPCUA_GATEWAY_METRICS_PORT = 9108, 9109
# The simulators' --accelerate scales simulated time, and with it the consumption per real
# second: at 60 a 2 MW feeder would add 120 MWh per real hour while its kW register still read
# 2 MW. Real time keeps every register increment plausible; the load profile follows the clock.
ACCELERATE = 1.0
# Modbus poll and OPC UA update interval, and so each meter's expected interval (completeness).
INTERVAL_S = 5
# Targets and a baseline for the park, so the live page shows progress from the first hour.
# These are the demo's own figures, not a standard's: the simulated park emits about 1.1 tCO2e
# an hour (the live page's "last hour" a few minutes after `make up`), so a limit of 1.2 t an
# hour of the period is in reach and a base year at 1.3 t an hour shows a reduction. Each
# period's limit is that rate times the period's hours (a day, the month's, the year's).
TARGET_TCO2E_PER_HOUR = 1.2
BASELINE_TCO2E_PER_HOUR = 1.3
TARGET_PERIODS = ("day", "month", "year")

# The field lines (deploy/demo_field.py, `parkcarbon demo field`), read by a third gateway.
FIELD_GATEWAY, FIELD_METRICS_PORT = "gw-demo-field", 9110
# An RS-485 line of electricity meters behind a serial device server (RTU over TCP).
RTU_LINE, RTU_METERS, RTU_PREFIX, RTU_PORT = "rtu-line-1", 4, "RTU", 5031
RTU_OWNER = ("demo-chem", "demo-chem-reactors")
# A revenue meter on a DL/T 645-2007 line behind a device server's raw TCP port.
DLT645_LINE, DLT645_PORT, DLT645_ADDRESS = "dlt645-line-1", 8645, "000000000101"
DLT645_OWNER = ("demo-food", "demo-food-cold")
# (data identifier, meter id suffix): DL/T 645-2007 Appendix A, table A.1 (energy) and A.3.
DLT645_POINTS = (
    ("00010000", "e_fwd"),  # forward active energy, total
    ("00010100", "e_fwd_t1"),  # tariffs 1-4 (sharp, peak, flat, valley)
    ("00010200", "e_fwd_t2"),
    ("00010300", "e_fwd_t3"),
    ("00010400", "e_fwd_t4"),
    ("02010100", "v_a"),  # phase A voltage
    ("02020100", "i_a"),  # phase A current
    ("02030000", "p"),  # total active power
)
# An EMQX Neuron edge gateway publishing the boiler house's flow computers to MQTT.
MQTT_BROKER, MQTT_PORT, NEURON_APP = "neuron", 1884, "parkcarbon"
NEURON_NODE, NEURON_GROUP = "boiler-house", "energy"
MQTT_OWNER = ("demo-chem", "demo-chem-utilities")


@dataclass(frozen=True)
class NeuronTag:
    tag: str
    meter_id: str
    carrier: Simulated
    unit: str
    cumulative: bool


NEURON_TAGS = (
    NeuronTag("steam_t", "NEU-BH.steam_t", Simulated.STEAM, "t", True),
    NeuronTag("steam_th", "NEU-BH.steam_th", Simulated.STEAM, "t/h", False),
    # The flow computer corrects to standard conditions: Nm3, which the accounting takes.
    NeuronTag("gas_nm3", "NEU-BH.gas_nm3", Simulated.GAS, "Nm3", True),
    NeuronTag("gas_nm3h", "NEU-BH.gas_nm3h", Simulated.GAS, "Nm3/h", False),
)


@dataclass(frozen=True)
class Enterprise:
    enterprise_id: str
    name: str
    industry_code: str  # GB/T 4754-2017 class
    sites: tuple[tuple[str, str], ...]  # (site id, name)


ENTERPRISES = (
    Enterprise(
        "demo-steel", "Huaxin Steel Works", "3120",
        (("demo-steel-melt", "Melt shop"), ("demo-steel-mill", "Rolling mill")),
    ),
    Enterprise(
        "demo-chem", "Donghe Chemicals", "2614",
        (("demo-chem-reactors", "Reactor hall"), ("demo-chem-utilities", "Utilities")),
    ),
    Enterprise(
        "demo-food", "Jiahe Foods", "1411",
        (("demo-food-bakery", "Bakery line"), ("demo-food-cold", "Cold store")),
    ),
)  # fmt: skip

_CARRIER = {
    Simulated.ELECTRICITY: Accounted.ELECTRICITY,
    Simulated.GAS: Accounted.NATURAL_GAS,
    Simulated.STEAM: Accounted.STEAM,
    Simulated.WATER: Accounted.WATER,
    Simulated.PRODUCTION: Accounted.PRODUCTION_OUTPUT,
}
# Emission-source category (clause 6.3.1) of a carrier's accounted register.
_CATEGORY = {
    Accounted.ELECTRICITY: "purchased_electricity",
    Accounted.NATURAL_GAS: "stationary_combustion",
    Accounted.STEAM: "purchased_heat",
}
# The simulators know no accuracy class: plausible classes that meet GB 17167 table 3 at the
# unit level, with the table row they are checked against (accounting/data/gb17167_accuracy.csv).
_ACCURACY: dict[Accounted, tuple[str, str | None]] = {
    Accounted.ELECTRICITY: ("0.5S", "user_class_II"),
    Accounted.NATURAL_GAS: ("1.5", "flow"),
    Accounted.STEAM: ("1.5", "flow"),
    Accounted.WATER: ("2.0", "dn_le_250"),
    Accounted.PRODUCTION_OUTPUT: ("1.0", None),
}


def _category(carrier: Accounted, unit: str, cumulative: bool) -> str:
    """A counter whose unit converts to its carrier's canonical unit is accounted; everything
    else (power, voltage, kvarh, flow rates, and gas in m3 at metering conditions, which the
    accounting refuses until corrected to Nm3) is recorded as activity only."""
    if not cumulative or carrier not in _CATEGORY:
        return "activity_only"
    try:
        conversion_factor(unit, CANONICAL_UNIT[carrier], carrier)
    except UnitError:
        return "activity_only"
    return _CATEGORY[carrier]


def _owner(index: int) -> tuple[str, str]:
    """(enterprise, site) of the ``index``-th simulated meter: spread over the enterprises."""
    enterprise = ENTERPRISES[index % len(ENTERPRISES)]
    site_id, _ = enterprise.sites[(index // len(ENTERPRISES)) % len(enterprise.sites)]
    return enterprise.enterprise_id, site_id


def _rollover(point: MapPoint, ratio: float) -> float | None:
    """Where an integer counter wraps, in the value the gateway sends (after its ratio)."""
    if not point.cumulative or point.data_type.startswith("float"):
        return None
    return float(1 << (16 * point.data_type.words)) * point.scale * ratio


def gateway_multiplier(point: MapPoint, ct_ratio: float) -> float:
    """The ratio the farm's gateway config applies (``ModbusFarm.gateway_config``)."""
    return ct_ratio if point.ct else 1.0


def modbus_meters() -> list[Meter]:
    """One row per point of every simulated Modbus meter, as the gateway names it."""
    return _farm_meters(make_park(MODBUS_METERS, prefix=MODBUS_PREFIX))


def rtu_park() -> list[tuple[str, Simulated, float]]:
    """The meters on the demo's RTU line, unit ids 1.. in this order."""
    return make_park(RTU_METERS, prefix=RTU_PREFIX, carriers=(Simulated.ELECTRICITY,))


def rtu_meters() -> list[Meter]:
    """One row per point of every unit id on the RTU line (the same register maps)."""
    return _farm_meters(rtu_park(), owner=RTU_OWNER, via="RS-485 line, RTU over TCP")


def _farm_meters(park: list[tuple[str, Simulated, float]], *,
                 owner: tuple[str, str] | None = None, via: str = "") -> list[Meter]:  # fmt: skip
    rows = []
    for index, (device, sim_carrier, ct) in enumerate(park):
        carrier = _CARRIER[sim_carrier]
        enterprise_id, site_id = owner or _owner(index)
        accuracy, category = _ACCURACY[carrier]
        for point in REGISTER_MAPS[sim_carrier]:
            applied = gateway_multiplier(point, ct)
            rows.append(
                Meter(
                    meter_id=f"{device}.{point.name}",
                    enterprise_id=enterprise_id,
                    site_id=site_id,
                    name=f"{device} {point.name}, {sim_carrier} meter behind CT {ct:g}/1"
                    + (f" ({via})" if via else ""),
                    carrier=carrier,
                    unit=point.unit,
                    register_kind="cumulative" if point.cumulative else "instantaneous",
                    # The CT ratio counts once: the gateway already multiplies CT-side points
                    # by it, so their readings arrive on the primary side.
                    multiplier=(ct if point.ct else 1.0) / applied,
                    rollover=_rollover(point, applied),
                    expected_interval_s=INTERVAL_S,
                    accuracy_class=accuracy,
                    accuracy_category=category,
                    source_category=_category(carrier, point.unit, point.cumulative),
                )
            )
    return rows


def opcua_park() -> Park:
    return Park.build(OPCUA_METERS, seed=OPCUA_SEED)


def opcua_meters() -> list[Meter]:
    """One row per point of the simulated OPC UA park (meter ids as ``gateway_entry`` sends)."""
    rows = []
    devices: dict[str, int] = {}
    for point in opcua_park().points:
        index = devices.setdefault(point.device, len(devices))
        carrier = _CARRIER[point.carrier]
        enterprise_id, site_id = _owner(index)
        accuracy, category = _ACCURACY[carrier]
        rows.append(
            Meter(
                meter_id=point.meter_id,
                enterprise_id=enterprise_id,
                site_id=site_id,
                name=f"{point.name} (OPC UA), CT {point.ct_ratio:g}/1",
                carrier=carrier,
                unit=point.unit,
                register_kind=point.kind,
                # Park.step: energy registers count the CT secondary side, power is primary;
                # the OPC UA gateway applies no ratio, so the registry's multiplier does.
                multiplier=point.ct_ratio if point.cumulative else 1.0,
                expected_interval_s=INTERVAL_S,
                accuracy_class=accuracy,
                accuracy_category=category,
                source_category=_category(carrier, point.unit, point.cumulative),
            )
        )
    return rows


def dlt645_meters() -> list[Meter]:
    """The DL/T 645 meter's identifiers; unit, register kind and rollover from Appendix A. The
    meter is connected directly (no CT), so it reads primary values."""
    enterprise_id, site_id = DLT645_OWNER
    accuracy, category = _ACCURACY[Accounted.ELECTRICITY]
    rows = []
    for di, suffix in DLT645_POINTS:
        fmt = data_format(di)
        rows.append(
            Meter(
                meter_id=f"DLT-{DLT645_ADDRESS}.{suffix}",
                enterprise_id=enterprise_id,
                site_id=site_id,
                name=f"DL/T 645 meter {DLT645_ADDRESS} {fmt.name} (DI {di})",
                carrier=Accounted.ELECTRICITY,
                unit=fmt.unit,
                register_kind="cumulative" if fmt.cumulative else "instantaneous",
                rollover=fmt.rollover if fmt.cumulative else None,
                expected_interval_s=INTERVAL_S,
                accuracy_class=accuracy,
                accuracy_category=category,
                source_category=_category(Accounted.ELECTRICITY, fmt.unit, fmt.cumulative),
            )
        )
    return rows


def mqtt_meters() -> list[Meter]:
    """The tags the Neuron node publishes, one row each."""
    enterprise_id, site_id = MQTT_OWNER
    rows = []
    for tag in NEURON_TAGS:
        carrier = _CARRIER[tag.carrier]
        accuracy, category = _ACCURACY[carrier]
        rows.append(
            Meter(
                meter_id=tag.meter_id,
                enterprise_id=enterprise_id,
                site_id=site_id,
                name=f"{NEURON_NODE}/{NEURON_GROUP}/{tag.tag} (Neuron over MQTT)",
                carrier=carrier,
                unit=tag.unit,
                register_kind="cumulative" if tag.cumulative else "instantaneous",
                expected_interval_s=INTERVAL_S,
                accuracy_class=accuracy,
                accuracy_category=category,
                source_category=_category(carrier, tag.unit, tag.cumulative),
            )
        )
    return rows


def field_meters() -> list[Meter]:
    return rtu_meters() + dlt645_meters() + mqtt_meters()


def demo_meters() -> list[Meter]:
    return modbus_meters() + opcua_meters() + field_meters()


@dataclass(frozen=True)
class SeedResult:
    created: dict[str, int]  # table -> rows created by this run
    existing: dict[str, int]  # table -> rows that were there already


def seed(
    conn: psycopg.Connection[Any], *, actor: str = ACTOR, today: date | None = None
) -> SeedResult:
    """Create the demo park, its enterprises, sites and meters, and the park's targets in force
    on ``today`` (the park's local date; now if None) and its baseline; rows that exist are
    skipped."""
    created = dict.fromkeys(("park", "enterprise", "site", "meter", "target", "baseline"), 0)
    existing = dict(created)

    def have(table: str, key: str, value: str) -> bool:
        query = psycopg.sql.SQL("SELECT 1 FROM {} WHERE {} = %s").format(
            psycopg.sql.Identifier(table), psycopg.sql.Identifier(key)
        )
        found = conn.execute(query, (value,)).fetchone() is not None
        (existing if found else created)[table] += 1
        return found

    if not have("park", "park_id", PARK_ID):
        add_park(conn, park_id=PARK_ID, name=PARK_NAME, timezone=PARK_TIMEZONE, actor=actor)
    for ent in ENTERPRISES:
        if not have("enterprise", "enterprise_id", ent.enterprise_id):
            add_enterprise(
                conn,
                enterprise_id=ent.enterprise_id,
                park_id=PARK_ID,
                name=ent.name,
                industry_code=ent.industry_code,
                actor=actor,
            )
        for site_id, name in ent.sites:
            if not have("site", "site_id", site_id):
                add_site(
                    conn, site_id=site_id, enterprise_id=ent.enterprise_id, name=name, actor=actor
                )
    for meter in demo_meters():
        if not have("meter", "meter_id", meter.meter_id):
            add_meter(conn, meter=meter, actor=actor, reason="demo park: simulated meter")
    today = today or datetime.now(ZoneInfo(PARK_TIMEZONE)).date()
    for kind in TARGET_PERIODS:
        start = period_start(kind, today)
        found = conn.execute(
            "SELECT 1 FROM target WHERE subject_kind = 'park' AND subject_id = %s"
            " AND period_kind = %s AND period_start = %s AND method = 'location_based'",
            (PARK_ID, kind, start),
        ).fetchone()
        (existing if found else created)["target"] += 1
        if not found:
            add_target(
                conn,
                subject_kind="park",
                subject_id=PARK_ID,
                period_kind=kind,
                period_start=start,
                absolute_tco2e=round(TARGET_TCO2E_PER_HOUR * period_hours(kind, start), 1),
                actor=actor,
            )
    found = conn.execute(
        "SELECT 1 FROM baseline WHERE subject_kind = 'park' AND subject_id = %s", (PARK_ID,)
    ).fetchone()
    (existing if found else created)["baseline"] += 1
    if not found:
        base = date(today.year - 1, 1, 1)
        add_base_year_baseline(
            conn,
            subject_kind="park",
            subject_id=PARK_ID,
            base_year=base.year,
            period_kind="year",
            value_tco2e=round(BASELINE_TCO2E_PER_HOUR * period_hours("year", base), 1),
            note="demo park: the demo's own base year (deploy/demo.py)",
            actor=actor,
        )
    return SeedResult(created, existing)


def period_start(kind: str, day: date) -> date:
    """The first day of the target period of ``kind`` that contains ``day``."""
    return {"day": day, "month": day.replace(day=1), "year": date(day.year, 1, 1)}[kind]


def period_hours(kind: str, start: date) -> int:
    """Hours of the period of ``kind`` starting on ``start`` (the park's time zone keeps no
    daylight saving time: every day has 24 hours)."""
    if kind == "day":
        return 24
    if kind == "month":
        return 24 * calendar.monthrange(start.year, start.month)[1]
    return 24 * (366 if calendar.isleap(start.year) else 365)


# --- the demo's processes (argv after `parkcarbon`; deploy/platform.py starts them) ---------


def modbus_simulator_args(state: Path, config: Path) -> list[str]:
    """The Modbus farm, writing the gateway YAML for it to ``config`` once it listens."""
    return [
        "simulate", "modbus",
        "--meters", str(MODBUS_METERS), "--prefix", MODBUS_PREFIX,
        "--port", str(MODBUS_PORT), "--control-port", str(MODBUS_CONTROL_PORT),
        "--accelerate", f"{ACCELERATE:g}", "--poll-interval", str(INTERVAL_S),
        "--gateway-id", MODBUS_GATEWAY, "--metrics-port", str(GATEWAY_METRICS_PORT),
        "--buffer-path", str(state / "gateway-buffer.sqlite3"),
        "--state-file", str(state / "demo-modbus-registers.json"),
        "--write-config", str(config),
    ]  # fmt: skip


def opcua_simulator_args(state: Path, config: Path) -> list[str]:
    """The OPC UA server, writing a gateway YAML for it to ``config`` once it listens."""
    return [
        "demo", "opcua",
        "--port", str(OPCUA_PORT), "--metrics-port", str(OPCUA_GATEWAY_METRICS_PORT),
        "--buffer-path", str(state / "gateway-opcua-buffer.sqlite3"),
        "--state-file", str(state / "demo-opcua-registers.json"),
        "--write-config", str(config),
    ]  # fmt: skip


def opcua_gateway_config(endpoint_entry: dict[str, Any], *, buffer_path: str, metrics_port: int,
                         kafka_bootstrap: str) -> dict[str, Any]:  # fmt: skip
    """A whole gateway config around the OPC UA server's ``gateway_entry``."""
    return {
        "gateway_id": OPCUA_GATEWAY,
        "kafka": {"bootstrap": kafka_bootstrap},
        "buffer": {"path": buffer_path},
        "metrics": {"port": metrics_port},
        "opcua_servers": [endpoint_entry],
    }


def field_simulator_args(state: Path, config: Path) -> list[str]:
    """The field lines (RTU, DL/T 645, Mosquitto and a Neuron publisher), writing the gateway
    YAML for them to ``config`` once they listen."""
    return [
        "demo", "field",
        "--rtu-port", str(RTU_PORT), "--dlt645-port", str(DLT645_PORT),
        "--mqtt-port", str(MQTT_PORT), "--metrics-port", str(FIELD_METRICS_PORT),
        "--buffer-path", str(state / "gateway-field-buffer.sqlite3"),
        "--state-folder", str(state / "demo-field"),
        "--write-config", str(config),
    ]  # fmt: skip


def field_gateway_config(rtu_line: dict[str, Any], *, dlt645_port: int, mqtt_port: int,
                         buffer_path: str, metrics_port: int,
                         kafka_bootstrap: str) -> dict[str, Any]:  # fmt: skip
    """The third gateway's config: the RTU line (``ModbusFarm.line_config``), the DL/T 645 line
    and the Neuron broker, on 127.0.0.1 at the ports the simulators listen on."""
    return {
        "gateway_id": FIELD_GATEWAY,
        "kafka": {"bootstrap": kafka_bootstrap},
        "buffer": {"path": buffer_path},
        "metrics": {"port": metrics_port},
        "modbus_lines": [rtu_line],
        "dlt645_lines": [
            {
                "name": DLT645_LINE,
                "transport": "tcp",
                "host": "127.0.0.1",
                "port": dlt645_port,
                "poll_interval_s": INTERVAL_S,
                "backoff_min_s": INTERVAL_S,
                "meters": [
                    {
                        "address": DLT645_ADDRESS,
                        "points": [
                            {"di": di, "meter_id": f"DLT-{DLT645_ADDRESS}.{suffix}"}
                            for di, suffix in DLT645_POINTS
                        ],
                    }
                ],
            }
        ],
        "mqtt_brokers": [
            {
                "name": MQTT_BROKER,
                "host": "127.0.0.1",
                "port": mqtt_port,
                "subscriptions": [
                    {
                        "topic": f"/neuron/{NEURON_APP}/#",
                        "format": "neuron",
                        "points": [
                            {
                                "node": NEURON_NODE,
                                "group": NEURON_GROUP,
                                "tag": t.tag,
                                "meter_id": t.meter_id,
                                "unit": t.unit,
                                "kind": "cumulative" if t.cumulative else "instantaneous",
                            }
                            for t in NEURON_TAGS
                        ],
                    }
                ],
            }
        ],
    }
