"""The emission-factor catalogue: versioned rows with validity periods and sources (6.3.1 e, 6.5).

Rows live in ``data/*.csv`` (one file per publisher); each states its series, value, unit, gas,
region, validity period and source document, table and edition. A row's unit is checked on load
and its value normalised to the carrier's canonical unit, so resolution is plain arithmetic.
Versions of one key never overlap; a park adds its own version with ``add_version`` (6.7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

from accounting.carriers import Carrier
from accounting.datafile import DataFileError, Evidence, package_text, parse_csv
from accounting.factor_rows import (
    Basis,
    FactorKind,
    FactorRow,
    FactorRowError,
    Series,
    build_row,
)
from accounting.gwp import Gas

__all__ = [
    "CATALOGUE_FILES",
    "Basis",
    "Catalogue",
    "FactorKind",
    "FactorRow",
    "FactorRowError",
    "FactorVersionError",
    "NoFactorError",
    "Selection",
    "Series",
    "add_version",
    "build_row",
    "load_catalogue",
    "parse_catalogue",
    "select",
]

CATALOGUE_FILES = (
    "grid_electricity_mee_nbs.csv",
    "cn_ets_grid.csv",
    "fuel_combustion.csv",
    "purchased_heat.csv",
    "contractual_instruments.csv",
)
COLUMNS = (
    "series",
    "key",
    "carrier",
    "parameter",
    "gas",
    "region",
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


class FactorVersionError(ValueError):
    """A new version that would overlap an existing one of the same key."""


class NoFactorError(LookupError):
    """No factor of a series is valid for the carrier, region(s) and date."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    rows: tuple[FactorRow, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """The rows of one series valid on ``on``, from the first region of the chain that had any."""

    series: Series
    carrier: Carrier
    region: str
    on: date
    rows: tuple[FactorRow, ...]


def parse_catalogue(text: str, filename: str) -> tuple[FactorRow, ...]:
    """Parse and validate catalogue rows; errors name file, line and field."""
    rows: list[FactorRow] = []
    for rec in parse_csv(text, filename, COLUMNS):
        gas_text = rec.optional_text("gas")
        try:
            row = build_row(
                series=rec.choice("series", Series),
                key=rec.text("key"),
                carrier=rec.choice("carrier", Carrier),
                kind=rec.choice("parameter", FactorKind),
                gas=rec.choice("gas", Gas) if gas_text else None,
                region=rec.text("region"),
                value=rec.number("value"),
                unit=rec.text("unit"),
                valid_from=rec.day("valid_from"),
                valid_to=rec.optional_day("valid_to"),
                source=rec.text("source"),
                table=rec.text("table"),
                edition=rec.text("edition"),
                evidence=rec.choice("evidence", Evidence),
                note=rec.optional_text("note"),
                origin=f"{filename}:{rec.line}",
            )
            _check_versions(rows, row)
        except FactorRowError as exc:
            raise DataFileError(filename, rec.line, exc.field, exc.problem) from None
        except FactorVersionError as exc:
            raise DataFileError(filename, rec.line, "valid_from", str(exc)) from None
        rows.append(row)
    return tuple(rows)


def _identity(row: FactorRow) -> tuple[object, ...]:
    return (row.series, row.carrier, row.kind, row.gas, row.region)


def _check_versions(existing: Sequence[FactorRow], row: FactorRow) -> None:
    for other in existing:
        if other.key == row.key and _identity(other) != _identity(row):
            raise FactorRowError(
                "key", f"{row.key!r} already names a different factor ({other.origin})"
            )
        if other.key != row.key and _identity(other) == _identity(row):
            raise FactorRowError(
                "key", f"same factor as {other.key!r} ({other.origin}) under another key"
            )
        if (
            other.key == row.key
            and other.valid_from <= (row.valid_to or date.max)
            and row.valid_from <= (other.valid_to or date.max)
        ):
            raise FactorVersionError(f"{row.version} overlaps {other.version} ({other.origin})")


@cache
def load_catalogue() -> Catalogue:
    """The packaged catalogue, validated once per process."""
    rows: list[FactorRow] = []
    for filename in CATALOGUE_FILES:
        from_file = parse_catalogue(package_text(filename), filename)
        for row in from_file:
            # Within one file parse_catalogue has checked; here only against earlier files.
            try:
                _check_versions(rows, row)
            except (FactorRowError, FactorVersionError) as exc:
                line = int(row.origin.rsplit(":", 1)[1])
                raise DataFileError(filename, line, "key", str(exc)) from None
        rows.extend(from_file)
    return Catalogue(tuple(rows))


def add_version(catalogue: Catalogue, row: FactorRow) -> Catalogue:
    """A catalogue with ``row`` added as a new version (e.g. a park override, clause 6.7).

    An open-ended version of the same key that starts earlier is closed the day before
    ``row.valid_from``; any other overlap raises ``FactorVersionError``. The input is unchanged.
    """
    kept: list[FactorRow] = []
    for old in catalogue.rows:
        if old.key == row.key and old.valid_to is None and old.valid_from < row.valid_from:
            old = replace(old, valid_to=row.valid_from - timedelta(days=1))
        kept.append(old)
    _check_versions(kept, row)
    return Catalogue((*kept, row))


def select(
    catalogue: Catalogue, *, carrier: Carrier, region: str | Sequence[str], on: date, series: Series
) -> Selection:
    """Rows of ``series`` for ``carrier`` valid on ``on``, from the first region in ``region``."""
    chain = (region,) if isinstance(region, str) else tuple(region)
    for code in chain:
        rows = tuple(
            r
            for r in catalogue.rows
            if r.series is series and r.carrier is carrier and r.region == code and r.valid_on(on)
        )
        if rows:
            return Selection(series, carrier, code, on, rows)
    periods = sorted(
        {
            (r.valid_from, r.valid_to)
            for r in catalogue.rows
            if r.series is series and r.carrier is carrier and r.region in chain
        }
    )
    known = "; ".join(f"{a}..{b or 'open'}" for a, b in periods) or "none"
    raise NoFactorError(
        f"no factor for carrier '{carrier}' in region {' -> '.join(chain)} valid on "
        f"{on.isoformat()} in series '{series}' (versions for these regions: {known})"
    )
