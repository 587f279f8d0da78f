"""The OPC UA simulator's meters: a catalogue of points and how their values evolve.

Pure model, no server: the OPC UA simulator writes what this computes. Each meter's load is its
mean rate times the park's shared load profile (``simulators.profiles``: shifts, weekends, per
carrier) with a little noise; cumulative registers integrate that load over simulated time.
Electricity meters count the CT secondary side, so the register reads primary energy divided by
the CT ratio, as a real meter behind a current transformer does (the registry's multiplier
restores primary kWh). A flat profile (always 1) keeps every value moving, for benchmarks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.profiles import Carrier, load_factor

Profile = Callable[[float, Carrier], float]


@dataclass(frozen=True, slots=True)
class _Quantity:
    name: str
    unit: str
    cumulative: bool
    mean_rate: float  # per hour for cumulative registers, the mean value for instantaneous ones
    meter_suffix: str = ""  # the registry knows one register per meter id


_QUANTITIES: dict[Carrier, tuple[_Quantity, ...]] = {
    Carrier.ELECTRICITY: (
        _Quantity("ActiveEnergy", "kWh", True, 400.0),
        _Quantity("ActivePower", "kW", False, 400.0, "-PWR"),
    ),
    Carrier.GAS: (_Quantity("Volume", "Nm3", True, 120.0),),
    Carrier.STEAM: (_Quantity("Energy", "GJ", True, 2.5),),
    Carrier.WATER: (_Quantity("Volume", "m3", True, 15.0),),
    Carrier.PRODUCTION: (_Quantity("Count", "pcs", True, 7200.0),),
}
_PREFIX = {
    Carrier.ELECTRICITY: "E",
    Carrier.GAS: "G",
    Carrier.STEAM: "S",
    Carrier.WATER: "W",
    Carrier.PRODUCTION: "P",
}
_CT_RATIOS = (20.0, 40.0, 80.0)  # e.g. 100/5 A, 200/5 A, 400/5 A


def flat_profile(t_s: float, carrier: Carrier) -> float:
    """Every meter at its mean rate, day and night: each value changes at every step."""
    return 1.0


@dataclass(slots=True)
class SimPoint:
    """One simulated variable; ``value`` is what the server shows."""

    device: str
    meter_id: str
    carrier: Carrier
    quantity: str
    unit: str
    cumulative: bool
    mean_rate: float
    ct_ratio: float = 1.0
    value: float = 0.0
    stuck: bool = False
    bad_status: int | None = None  # an OPC UA StatusCode value while a fault is injected

    @property
    def name(self) -> str:
        """The string identifier of the node, e.g. ``E-00001.ActiveEnergy``."""
        return f"{self.device}.{self.quantity}"

    @property
    def kind(self) -> str:
        return "cumulative" if self.cumulative else "instantaneous"


@dataclass(slots=True)
class Park:
    """All points of a simulated park, stepped together over simulated time."""

    points: list[SimPoint]
    seed: int = 0
    profile: Profile = load_factor
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - simulation noise, not security

    @classmethod
    def build(
        cls,
        meters: int,
        *,
        seed: int = 0,
        max_points: int | None = None,
        profile: Profile = load_factor,
    ) -> Park:
        """``meters`` meters cycling through the carriers; at most ``max_points`` points."""
        rng = random.Random(seed)  # noqa: S311 - simulation, not security
        carriers = list(Carrier)
        points: list[SimPoint] = []
        for index in range(meters):
            carrier = carriers[index % len(carriers)]
            device = f"{_PREFIX[carrier]}-{index + 1:05d}"
            ct = _CT_RATIOS[index % len(_CT_RATIOS)] if carrier is Carrier.ELECTRICITY else 1.0
            size = rng.uniform(0.5, 1.5)  # meters differ in size
            for q in _QUANTITIES[carrier]:
                start = float(round(rng.uniform(1_000, 50_000))) if q.cumulative else 0.0
                meter_id = device + q.meter_suffix
                rate = q.mean_rate * size
                point = SimPoint(device, meter_id, carrier, q.name, q.unit, q.cumulative, rate)
                point.ct_ratio, point.value = ct, start
                points.append(point)
                if max_points is not None and len(points) >= max_points:
                    return cls(points, seed, profile)
        return cls(points, seed, profile)

    def step(self, t_s: float, hours: float) -> None:
        """Advance every non-stuck point by ``hours`` of simulated time ending at epoch ``t_s``."""
        shapes = {carrier: self.profile(t_s, carrier) for carrier in Carrier}
        for point in self.points:
            if point.stuck:
                continue
            rate = point.mean_rate * shapes[point.carrier] * self._rng.uniform(0.9, 1.1)
            if not point.cumulative:
                point.value = round(rate, 3)
            elif point.carrier is Carrier.PRODUCTION:
                point.value += float(round(rate * hours))
            else:
                point.value += rate * hours / point.ct_ratio

    def reset_counters(self) -> None:
        """A meter restart or swap: every cumulative register starts again from zero."""
        for point in self.points:
            if point.cumulative:
                point.value = 0.0

    def find(self, name: str) -> SimPoint:
        """The point named ``E-00001.ActiveEnergy`` or metering ``E-00001-PWR``."""
        for point in self.points:
            if name in (point.name, point.meter_id):
                return point
        raise KeyError(name)
