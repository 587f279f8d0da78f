"""Simulated park meters: register maps per carrier, cumulative state, and injected faults.

A meter integrates its load profile into cumulative registers each time it is read, so a
register's value is consistent whatever the poll rate or time acceleration. Register layouts
deliberately mix data types and word/byte orders, as a real park's meter zoo does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ingest.registers import DataType, Order, encode
from simulators.profiles import Carrier, SimClock, load_factor


class Fault(StrEnum):
    SPIKE = "spike"  # instantaneous values x20
    STUCK = "stuck"  # registers frozen at their current values
    ROLLOVER = "rollover"  # cumulative registers jump to just below their wrap point
    SWAP = "swap"  # meter replaced: cumulative registers restart near zero
    DROPOUT = "dropout"  # no answer at all
    SLOW = "slow"  # answers after ``slow_s`` seconds
    EXCEPTION = "exception"  # answers Modbus exception 4 (server device failure)


@dataclass(frozen=True, slots=True)
class MapPoint:
    name: str
    address: int
    data_type: DataType
    order: Order
    scale: float  # engineering value = raw * scale
    unit: str
    cumulative: bool
    ct: bool  # reported on the CT secondary side: the gateway applies the ratio
    value: Callable[[MeterState], float]


def _p(name: str, addr: int, dt: str, order: str, scale: float, unit: str, cum: bool, ct: bool,
       fn: Callable[[MeterState], float]) -> MapPoint:  # fmt: skip
    return MapPoint(name, addr, DataType(dt), Order(order), scale, unit, cum, ct, fn)


REGISTER_MAPS: dict[Carrier, tuple[MapPoint, ...]] = {
    Carrier.ELECTRICITY: (
        _p("kwh_imp", 0, "uint32", "CDAB", 0.01, "kWh", True, True, lambda m: m.total),
        _p("kvarh", 2, "uint32", "CDAB", 0.01, "kvarh", True, True, lambda m: m.total * 0.3),
        _p("kw", 4, "float32", "ABCD", 1.0, "kW", False, True, lambda m: m.rate),
        _p("kvar", 6, "float32", "ABCD", 1.0, "kvar", False, True, lambda m: m.rate * 0.3),
        _p("v_l1", 8, "uint16", "ABCD", 0.1, "V", False, False, lambda m: 230 + m.wobble(2)),
        _p("v_l2", 9, "uint16", "ABCD", 0.1, "V", False, False, lambda m: 231 + m.wobble(2)),
        _p("v_l3", 10, "uint16", "ABCD", 0.1, "V", False, False, lambda m: 229 + m.wobble(2)),
        _p("i_avg", 11, "uint16", "ABCD", 0.01, "A", False, True, lambda m: m.rate / 0.69),
        _p("pf", 12, "int16", "ABCD", 0.001, "1", False, False, lambda m: 0.93 + m.wobble(0.02)),
        _p("hz", 13, "uint16", "ABCD", 0.01, "Hz", False, False, lambda m: 50 + m.wobble(0.03)),
    ),
    Carrier.GAS: (
        _p("m3", 0, "uint32", "ABCD", 0.01, "m3", True, False, lambda m: m.total),
        _p("m3h", 2, "float32", "CDAB", 1.0, "m3/h", False, False, lambda m: m.rate),
        _p("kpa", 4, "float32", "CDAB", 1.0, "kPa", False, False, lambda m: 350 + m.wobble(5)),
        _p("degc", 6, "int16", "ABCD", 0.1, "degC", False, False, lambda m: 15 + m.wobble(1)),
    ),
    Carrier.STEAM: (
        _p("t", 0, "float64", "BADC", 1.0, "t", True, False, lambda m: m.total),
        _p("th", 4, "float32", "DCBA", 1.0, "t/h", False, False, lambda m: m.rate),
        _p("bar", 6, "float32", "DCBA", 1.0, "bar", False, False, lambda m: 10 + m.wobble(0.2)),
        _p("degc", 8, "float32", "DCBA", 1.0, "degC", False, False, lambda m: 184 + m.wobble(1)),
    ),
    Carrier.WATER: (
        _p("m3", 0, "uint32", "DCBA", 0.001, "m3", True, False, lambda m: m.total),
        _p("m3h", 2, "float32", "BADC", 1.0, "m3/h", False, False, lambda m: m.rate),
    ),
    Carrier.PRODUCTION: (
        _p("units", 0, "uint64", "ABCD", 1.0, "unit", True, False, lambda m: math.floor(m.total)),
        _p("uph", 4, "float32", "ABCD", 1.0, "unit/h", False, False, lambda m: m.rate),
        _p("shift_units", 6, "int64", "CDAB", 1.0, "unit", False, False, lambda m: m.total % 5000),
    ),
}
MEAN_RATE = {  # per hour, on the meter's own side
    Carrier.ELECTRICITY: 12.0,  # kW on the CT secondary: x CT ratio 40..400 on the primary
    Carrier.GAS: 80.0,
    Carrier.STEAM: 4.0,
    Carrier.WATER: 15.0,
    Carrier.PRODUCTION: 600.0,
}


@dataclass
class MeterState:
    """One meter's cumulative total (engineering units) and current rate, advanced on read."""

    meter_id: str
    carrier: Carrier
    clock: SimClock
    ct_ratio: float = 1.0
    seed: int = 0
    total: float = 0.0
    rate: float = 0.0
    faults: dict[Fault, float] = field(default_factory=dict)  # fault -> simulated-time expiry
    slow_s: float = 2.0
    _last: float | None = None
    _frozen: list[int] | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - simulation noise
        self.scale = MEAN_RATE[self.carrier] * self._rng.uniform(0.5, 1.5)
        self.total = self._rng.uniform(1_000, 100_000)

    def wobble(self, amplitude: float) -> float:
        return self._rng.uniform(-amplitude, amplitude)

    def active(self, fault: Fault) -> bool:
        until = self.faults.get(fault)
        if until is not None and self.clock.now() > until:
            del self.faults[fault]
            if fault is Fault.STUCK:
                self._frozen = None
            return False
        return until is not None

    def advance(self) -> None:
        now = self.clock.now()
        rate = self.scale * load_factor(now, self.carrier) * (1 + self.wobble(0.03))
        if self._last is not None and now > self._last:
            self.total += (self.rate + rate) / 2 * (now - self._last) / 3600.0
        self._last, self.rate = now, rate

    def registers(self) -> list[int]:
        """The meter's register block from address 0, as the wire carries it."""
        if self.active(Fault.STUCK) and self._frozen is not None:
            return self._frozen
        self.advance()
        spike = 20.0 if self.active(Fault.SPIKE) else 1.0
        words: list[int] = []
        for point in REGISTER_MAPS[self.carrier]:
            words.extend([0] * (point.address - len(words)))
            value = point.value(self) * (1.0 if point.cumulative else spike)
            if point.data_type.startswith("float"):
                raw: float = value / point.scale
            else:
                bits = 8 * 2 * point.data_type.words
                raw = round(value / point.scale) % (1 << bits)  # registers wrap, like the meter
                if not point.data_type.startswith("u") and raw >= 1 << (bits - 1):
                    raw -= 1 << bits
            words.extend(encode(raw, point.data_type, point.order))
        if self.active(Fault.STUCK):
            self._frozen = words
        return words

    def inject(self, fault: Fault, duration_s: float = 3600.0) -> None:
        """Start ``fault`` for ``duration_s`` simulated seconds (one-shot faults act now)."""
        if fault is Fault.ROLLOVER:
            self.total = self._wrap_point() - 5 * self.scale / 3600 * self.clock.accelerate
            return
        if fault is Fault.SWAP:
            self.total = self._rng.uniform(0.0, 10.0)
            return
        self.faults[fault] = self.clock.now() + duration_s * self.clock.accelerate

    def _wrap_point(self) -> float:
        first = REGISTER_MAPS[self.carrier][0]
        return float(1 << (16 * first.data_type.words)) * first.scale

    def clear(self) -> None:
        self.faults.clear()
        self._frozen = None
