"""Energy in tonnes of standard coal equivalent (tce), by GB/T 2589-2020 综合能耗计算通则.

Chinese parks report energy consumption in tce for the dual control of energy consumption and
intensity. A carrier's quantity converts with a coefficient of
``data/gbt2589_energy_coefficients.csv`` (1 kgce = 29307.6 kJ): fuels and heat by their
heating value; electricity either at its
*equal value* (当量值, the heat of 1 kWh, 0.1229 kgce/kWh) or its *equivalent value* (等价值, the
coal burnt to supply 1 kWh, published for each year): a park setting,
``park.tce_electricity_convention``. Pure: no I/O beyond the packaged data file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

from accounting.carriers import CANONICAL_UNIT, Carrier
from accounting.datafile import Evidence, package_text, parse_csv
from accounting.parameters import Parameter
from accounting.units import UnitError, parse_unit, resolve_conversion, scale

COEFFICIENTS_FILE = "gbt2589_energy_coefficients.csv"
COLUMNS = (
    "key",
    "carrier",
    "convention",
    "value",
    "unit",
    "valid_from",
    "valid_to",
    "source",
    "table",
    "edition",
    "evidence",
    "note",
)


class ElectricityConvention(StrEnum):
    EQUAL_VALUE = "equal_value"  # 当量值
    EQUIVALENT = "equivalent"  # 等价值


class Convention(StrEnum):
    """Which electricity convention a row serves; other carriers' rows serve both."""

    BOTH = "both"
    EQUAL_VALUE = "equal_value"
    EQUIVALENT = "equivalent"


class NoCoefficientError(LookupError):
    """No tce coefficient for the carrier (and electricity convention) on the date."""


@dataclass(frozen=True, slots=True)
class Coefficient:
    """One version of a GB/T 2589 coefficient; ``tce_per_unit`` per the carrier's canonical unit."""

    key: str
    carrier: Carrier
    convention: Convention
    value: float
    unit: str
    valid_from: date
    valid_to: date | None
    source: str
    table: str
    edition: str
    evidence: Evidence
    note: str
    tce_per_unit: float

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def version(self) -> str:
        return f"{self.key}@{self.valid_from.isoformat()}"


def _tce_per_canonical(value: float, unit: str, carrier: Carrier) -> float:
    """``value`` in kgce per ``unit`` -> tce per the carrier's canonical unit."""
    numerator, sep, per = unit.partition("/")
    if numerator != "kgce" or not sep:
        raise UnitError(f"{unit!r} is not kgce per a unit")
    # The data file's m3 of natural gas is the normal cubic metre the platform accounts in.
    denominator = "Nm3" if carrier is Carrier.NATURAL_GAS and per == "m3" else per
    return value / 1000.0 / scale(denominator, CANONICAL_UNIT[carrier])


def parse_coefficients(text: str, filename: str) -> tuple[Coefficient, ...]:
    """Parse and validate the coefficient rows; errors name file, line and field."""
    rows: list[Coefficient] = []
    for rec in parse_csv(text, filename, COLUMNS):
        carrier, convention = rec.choice("carrier", Carrier), rec.choice("convention", Convention)
        if (carrier is Carrier.ELECTRICITY) == (convention is Convention.BOTH):
            raise rec.fail("convention", "electricity rows name their convention; others 'both'")
        value, unit = rec.number("value"), rec.text("unit")
        if value <= 0:
            raise rec.fail("value", f"{value} must be positive")
        try:
            per_unit = _tce_per_canonical(value, unit, carrier)
        except UnitError as exc:
            raise rec.fail("unit", str(exc)) from None
        row = Coefficient(
            key=rec.text("key"),
            carrier=carrier,
            convention=convention,
            value=value,
            unit=unit,
            valid_from=rec.day("valid_from"),
            valid_to=rec.optional_day("valid_to"),
            source=rec.text("source"),
            table=rec.text("table"),
            edition=rec.text("edition"),
            evidence=rec.choice("evidence", Evidence),
            note=rec.optional_text("note"),
            tce_per_unit=per_unit,
        )
        if row.valid_from.day != 1 or (
            row.valid_to is not None and (row.valid_to + timedelta(days=1)).day != 1
        ):
            # Stored month sums (emission_month) are converted whole: a version spans months.
            raise rec.fail("valid_from", "a version starts on a month's first day, ends on a last")
        for other in rows:
            if (
                other.key == row.key
                and other.valid_from <= (row.valid_to or date.max)
                and (row.valid_from <= (other.valid_to or date.max))
            ):
                raise rec.fail("valid_from", f"overlaps {other.version}")
        rows.append(row)
    return tuple(rows)


@cache
def load_coefficients() -> tuple[Coefficient, ...]:
    """The packaged GB/T 2589 coefficients, validated once per process."""
    return parse_coefficients(package_text(COEFFICIENTS_FILE), COEFFICIENTS_FILE)


def tce_coefficient(
    carrier: Carrier,
    on: date,
    convention: ElectricityConvention = ElectricityConvention.EQUAL_VALUE,
    rows: tuple[Coefficient, ...] | None = None,
) -> Coefficient:
    """The coefficient for ``carrier`` valid on ``on`` (electricity: of ``convention``)."""
    wanted = {Convention.BOTH, Convention(convention.value)}
    for row in load_coefficients() if rows is None else rows:
        if row.carrier is carrier and row.convention in wanted and row.valid_on(on):
            return row
    suffix = f" ({convention})" if carrier is Carrier.ELECTRICITY else ""
    raise NoCoefficientError(
        f"no GB/T 2589 coefficient for carrier '{carrier}'{suffix} valid on {on.isoformat()};"
        f" add a row to accounting/data/{COEFFICIENTS_FILE}"
    )


def to_tce(
    quantity: float,
    unit: str,
    carrier: Carrier,
    on: date,
    convention: ElectricityConvention = ElectricityConvention.EQUAL_VALUE,
    parameters: tuple[Parameter, ...] | None = None,
) -> float:
    """``quantity`` of ``carrier`` in ``unit`` as tce on ``on`` (GB/T 2589-2020).

    The quantity is first converted to the carrier's canonical unit (a liquid fuel in litres
    needs its density row, steam in tonnes its enthalpy: ``units.resolve_conversion``).
    """
    canonical = parse_unit(CANONICAL_UNIT[carrier])
    factor = resolve_conversion(unit, canonical, carrier, on=on, parameters=parameters).factor
    return quantity * factor * tce_coefficient(carrier, on, convention).tce_per_unit


@cache
def energy_carriers() -> frozenset[Carrier]:
    """Carriers that are energy (a coefficient row exists): water and outputs are not."""
    return frozenset(r.carrier for r in load_coefficients())


@dataclass(frozen=True, slots=True)
class CarrierEnergy:
    """One carrier's activity (canonical unit) and its tce; ``tce`` None where some day of it
    has no coefficient (``missing``): then no total that includes it is stated either."""

    carrier: Carrier
    activity: float
    unit: str
    tce: float | None
    versions: tuple[str, ...]
    missing: tuple[date, ...]


@dataclass(frozen=True, slots=True)
class EnergyTotal:
    tce: float | None  # None when any carrier's is
    carriers: tuple[CarrierEnergy, ...]


class EnergySums:
    """Sums canonical activity per carrier and day into tce (GB/T 2589-2020 clause 4: the
    comprehensive energy consumption is the sum of each carrier's quantity times its
    coefficient). ``day`` is the park-local day (or first day of a local month) the activity
    belongs to: it picks the coefficient version. Non-energy carriers are ignored."""

    def __init__(self, convention: ElectricityConvention) -> None:
        self.convention = convention
        self._activity: dict[Carrier, float] = {}
        self._tce: dict[Carrier, float] = {}
        self._versions: dict[Carrier, set[str]] = {}
        self._missing: dict[Carrier, set[date]] = {}

    def add(
        self,
        carrier: Carrier,
        activity: float,
        day: date,
        convention: ElectricityConvention | None = None,
    ) -> None:
        """Add ``activity`` of ``day``; ``convention`` (default: the sums') is the park's own
        when parts of parks with different conventions are summed."""
        if carrier not in energy_carriers():
            return
        self._activity[carrier] = self._activity.get(carrier, 0.0) + activity
        self._versions.setdefault(carrier, set())
        self._missing.setdefault(carrier, set())
        try:
            row = tce_coefficient(carrier, day, convention or self.convention)
        except NoCoefficientError:
            self._missing[carrier].add(day)
            return
        self._tce[carrier] = self._tce.get(carrier, 0.0) + activity * row.tce_per_unit
        self._versions[carrier].add(row.version)

    def total(self) -> EnergyTotal:
        parts = tuple(
            CarrierEnergy(
                carrier=c,
                activity=self._activity[c],
                unit=CANONICAL_UNIT[c],
                tce=None if self._missing[c] else self._tce.get(c, 0.0),
                versions=tuple(sorted(self._versions[c])),
                missing=tuple(sorted(self._missing[c])),
            )
            for c in sorted(self._activity)
        )
        tces = [p.tce for p in parts]
        return EnergyTotal(
            tce=None if None in tces else sum(t for t in tces if t is not None), carriers=parts
        )


def energy_of(
    parts: Iterable[tuple[Carrier, float, date]], convention: ElectricityConvention
) -> EnergyTotal:
    """tce of (carrier, canonical activity, local day) parts: ``EnergySums`` in one call."""
    sums = EnergySums(convention)
    for carrier, activity, day in parts:
        sums.add(carrier, activity, day)
    return sums.total()
