"""GB 17167 metering levels and accuracy-class requirements (clause 9.1 c).

GB 17167-2006 asks for metering at three levels (the energy-using unit, its secondary units,
its major equipment) and sets in table 3 the accuracy grade each kind of energy meter must meet.
The table lives in ``data/gb17167_accuracy.csv`` with its source in every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from accounting.carriers import Carrier
from accounting.datafile import Evidence, package_text, parse_csv

_TABLE = "gb17167_accuracy.csv"
_COLUMNS = (
    "carrier",
    "metering_level",
    "category",
    "instrument",
    "required_class",
    "source",
    "evidence",
    "note",
)


class MeteringLevel(StrEnum):
    """GB 17167's three metering levels."""

    UNIT = "unit"
    SECONDARY_UNIT = "secondary_unit"
    MAJOR_EQUIPMENT = "major_equipment"


@dataclass(frozen=True, slots=True, order=True)
class AccuracyClass:
    """An accuracy class: maximum permissible error in percent, ``s`` for the "S" meter classes.

    Orders from strictest to coarsest: at equal percent an S class (accurate down to 1 % of rated
    current, GB/T 17215.322) is stricter than the plain class, so 0.2S < 0.2 < 0.5S < 0.5 < 1.0.
    """

    percent: float
    plain: bool  # False for the S classes, so that (percent, plain) sorts S first

    @property
    def label(self) -> str:
        return f"{self.percent:g}" + ("" if self.plain else "S")

    def satisfies(self, required: AccuracyClass) -> bool:
        """True when this class is at least as strict as ``required``."""
        return self <= required


@cache
def parse_accuracy_class(text: str) -> AccuracyClass:
    """Parse "0.5S", "0.5s", "1", "1.0" or "2.5" into an :class:`AccuracyClass`."""
    raw = text.strip()
    is_s = raw[-1:] in ("S", "s")
    number = raw[:-1] if is_s else raw
    try:
        percent = float(number)
    except ValueError:
        raise ValueError(f"not an accuracy class: {text!r}") from None
    if not percent > 0:
        raise ValueError(f"accuracy class must be positive: {text!r}")
    return AccuracyClass(percent=percent, plain=not is_s)


@dataclass(frozen=True, slots=True)
class AccuracyRequirement:
    """One row of the requirement table: the class a meter must meet, and where that comes from."""

    carrier: Carrier
    level: MeteringLevel
    category: str
    instrument: str
    required: AccuracyClass
    source: str
    evidence: Evidence
    note: str


@cache
def requirement_table() -> tuple[AccuracyRequirement, ...]:
    """The packaged GB 17167 table 3 requirements, read once."""
    rows = []
    for record in parse_csv(package_text(_TABLE), _TABLE, _COLUMNS):
        try:
            required = parse_accuracy_class(record.text("required_class"))
        except ValueError as exc:
            raise record.fail("required_class", str(exc)) from None
        rows.append(
            AccuracyRequirement(
                carrier=record.choice("carrier", Carrier),
                level=record.choice("metering_level", MeteringLevel),
                category=record.text("category"),
                instrument=record.text("instrument"),
                required=required,
                source=record.text("source"),
                evidence=record.choice("evidence", Evidence),
                note=record.optional_text("note"),
            )
        )
    return tuple(rows)


@cache
def required_accuracy(
    carrier: Carrier, level: MeteringLevel, category: str | None = None
) -> AccuracyRequirement | None:
    """The requirement for a meter, or None when GB 17167 table 3 sets none for its carrier.

    ``category`` picks the row (electricity user class "user_class_I".."user_class_V", "dc";
    "static_weighing"/"dynamic_weighing"/"flow" for fuels; "dn_le_250"/"dn_gt_250" for water).
    Without it the strictest row for the carrier and level applies: an unknown category must not
    pass a meter that its real category would fail.
    """
    rows = [r for r in requirement_table() if r.carrier is carrier and r.level is level]
    if category is not None:
        rows = [r for r in rows if r.category == category]
        if not rows:
            raise ValueError(f"no GB 17167 category {category!r} for {carrier} at {level}")
    return min(rows, key=lambda r: r.required) if rows else None


def accuracy_sufficient(
    accuracy_class: str, carrier: Carrier, level: MeteringLevel, category: str | None = None
) -> bool:
    """True when the meter's class meets GB 17167 table 3 (or the table sets no requirement)."""
    requirement = required_accuracy(carrier, level, category)
    if requirement is None:
        return True
    return parse_accuracy_class(accuracy_class).satisfies(requirement.required)
