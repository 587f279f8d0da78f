"""Versioned physical parameters for unit conversion: liquid fuel densities, steam enthalpies.

Converting litres of diesel to tonnes, or tonnes of steam to GJ, needs a number that is not a
unit definition. Each such number is a row of ``data/conversion_parameters.csv`` with its source
and validity period, so the activity data it produces (clause 6.3.1 e) can be traced.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

from accounting.carriers import Carrier
from accounting.datafile import DataFileError, Evidence, package_text, parse_csv

PARAMETERS_FILE = "conversion_parameters.csv"
COLUMNS = (
    "key",
    "carrier",
    "quantity",
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


class Quantity(StrEnum):
    DENSITY = "density"  # kg/L
    STEAM_ENTHALPY = "steam_enthalpy"  # kJ/kg, specific enthalpy of the delivered steam
    REFERENCE_WATER_ENTHALPY = "reference_water_enthalpy"  # kJ/kg, feed water at 20 degC


QUANTITY_UNIT: dict[Quantity, str] = {
    Quantity.DENSITY: "kg/L",
    Quantity.STEAM_ENTHALPY: "kJ/kg",
    Quantity.REFERENCE_WATER_ENTHALPY: "kJ/kg",
}


class ParameterNotFoundError(LookupError):
    """No version of a conversion parameter is valid for the carrier on the date."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """One version of a conversion parameter, valid ``valid_from`` to ``valid_to`` inclusive."""

    key: str
    carrier: Carrier
    quantity: Quantity
    value: float
    unit: str
    valid_from: date
    valid_to: date | None
    source: str
    table: str
    edition: str
    evidence: Evidence
    note: str

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def version(self) -> str:
        """``key@valid_from``, as the factor catalogue names its versions."""
        return f"{self.key}@{self.valid_from.isoformat()}"


class ParameterVersionError(ValueError):
    """A new version that would overlap an existing version of the same key."""


def parse_parameters(text: str, filename: str) -> tuple[Parameter, ...]:
    """Parse and validate parameter rows; raises ``DataFileError`` naming file, line and field."""
    rows: list[Parameter] = []
    for rec in parse_csv(text, filename, COLUMNS):
        quantity = rec.choice("quantity", Quantity)
        value = rec.number("value")
        if value <= 0:
            raise rec.fail("value", f"{value} must be positive")
        unit = rec.text("unit")
        if unit != QUANTITY_UNIT[quantity]:
            raise rec.fail("unit", f"{unit!r} must be {QUANTITY_UNIT[quantity]!r} for {quantity}")
        valid_from, valid_to = rec.day("valid_from"), rec.optional_day("valid_to")
        if valid_to is not None and valid_to < valid_from:
            raise rec.fail("valid_to", f"{valid_to} is before valid_from {valid_from}")
        row = Parameter(
            key=rec.text("key"),
            carrier=rec.choice("carrier", Carrier),
            quantity=quantity,
            value=value,
            unit=unit,
            valid_from=valid_from,
            valid_to=valid_to,
            source=rec.text("source"),
            table=rec.text("table"),
            edition=rec.text("edition"),
            evidence=rec.choice("evidence", Evidence),
            note=rec.optional_text("note"),
        )
        for other in rows:
            if other.key == row.key and _overlap(other, row):
                raise DataFileError(
                    filename, rec.line, "valid_from", f"overlaps another version of {row.key!r}"
                )
        rows.append(row)
    return tuple(rows)


def _overlap(a: Parameter, b: Parameter) -> bool:
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def add_parameter_version(rows: tuple[Parameter, ...], row: Parameter) -> tuple[Parameter, ...]:
    """``rows`` with ``row`` added as a new version (a park's own value, clause 6.7).

    The rule of ``accounting.factors.add_version``: an open-ended version of the same key that
    starts earlier is closed the day before ``row.valid_from``; any other overlap raises
    ``ParameterVersionError``. The input is unchanged.
    """
    kept: list[Parameter] = []
    for old in rows:
        if old.key == row.key and old.valid_to is None and old.valid_from < row.valid_from:
            old = replace(old, valid_to=row.valid_from - timedelta(days=1))
        kept.append(old)
    for other in kept:
        if other.key == row.key and _overlap(other, row):
            raise ParameterVersionError(f"{row.version} overlaps {other.version}")
        if other.key == row.key and (other.carrier, other.quantity) != (row.carrier, row.quantity):
            raise ParameterVersionError(f"{row.key!r} already names another parameter")
    return (*kept, row)


@cache
def load_parameters() -> tuple[Parameter, ...]:
    """The packaged conversion parameters, validated once per process."""
    return parse_parameters(package_text(PARAMETERS_FILE), PARAMETERS_FILE)


def select_parameter(
    quantity: Quantity,
    carrier: Carrier,
    on: date | None,
    rows: tuple[Parameter, ...] | None = None,
) -> Parameter:
    """The version of ``quantity`` for ``carrier`` valid on ``on`` (latest if ``on`` is None)."""
    candidates = [
        p
        for p in (load_parameters() if rows is None else rows)
        if p.quantity == quantity and p.carrier == carrier
    ]
    if on is not None:
        candidates = [p for p in candidates if p.valid_on(on)]
    if not candidates:
        when = f" valid on {on.isoformat()}" if on is not None else ""
        raise ParameterNotFoundError(
            f"no {quantity} parameter for carrier '{carrier}'{when}; pass it explicitly"
        )
    return max(candidates, key=lambda p: p.valid_from)
