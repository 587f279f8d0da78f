"""The packaged catalogue plus a park's own versions (``factor_override`` rows; clauses 6.5, 6.7).

A park version keeps its key's identity (series, carrier, parameter, gas, region of an emission
factor; carrier and quantity of a conversion parameter) and states value, unit, validity and
source. Versions are applied in the order the park added them (``override_id``), each with
``accounting.factors.add_version`` (or ``parameters.add_parameter_version``, the same rule): an
open-ended earlier version ends the day before the new one starts, any other overlap is refused.
That is the chaining the API checks when a version is added and shows in ``GET /v1/factors``,
so the stream worker and the API agree on which version is in force on a day. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from accounting.datafile import Evidence
from accounting.factor_rows import FactorRowError, build_row
from accounting.factors import Catalogue, FactorVersionError, add_version, load_catalogue
from accounting.parameters import (
    QUANTITY_UNIT,
    Parameter,
    ParameterVersionError,
    add_parameter_version,
    load_parameters,
)

EMISSION_FACTOR = "emission_factor"
CONVERSION_PARAMETER = "conversion_parameter"


@dataclass(frozen=True, slots=True)
class Override:
    """One ``factor_override`` row: a park's version of a packaged key."""

    override_id: int
    catalogue: str  # EMISSION_FACTOR or CONVERSION_PARAMETER
    factor_key: str
    value: float
    unit: str
    valid_from: date
    valid_to: date | None
    source: str
    table: str
    edition: str
    evidence: Evidence
    note: str = ""

    @property
    def version(self) -> str:
        return f"{self.factor_key}@{self.valid_from.isoformat()}"


@dataclass(frozen=True, slots=True)
class FactorSet:
    """Emission factors and conversion parameters in force, with the park's versions added."""

    catalogue: Catalogue
    parameters: tuple[Parameter, ...]
    applied: tuple[int, ...] = ()  # override ids, in the order applied
    refused: tuple[tuple[int, str], ...] = ()  # (override id, why) of rows that did not fit


def packaged_factors() -> FactorSet:
    return FactorSet(load_catalogue(), load_parameters())


def apply_overrides(
    overrides: Iterable[Override],
    *,
    catalogue: Catalogue | None = None,
    parameters: tuple[Parameter, ...] | None = None,
) -> FactorSet:
    """The catalogue and parameters (packaged ones by default) with ``overrides`` applied in
    ``override_id`` order. A row that does not fit its key (unknown key, bad unit, overlap) is
    left out and listed in ``refused``: the API refuses such rows, so this only happens to
    rows written around it."""
    cat = load_catalogue() if catalogue is None else catalogue
    params = load_parameters() if parameters is None else parameters
    applied: list[int] = []
    refused: list[tuple[int, str]] = []
    for o in sorted(overrides, key=lambda o: o.override_id):
        try:
            if o.catalogue == EMISSION_FACTOR:
                cat = _add_factor(cat, o)
            elif o.catalogue == CONVERSION_PARAMETER:
                params = _add_parameter(params, o)
            else:
                raise ValueError(f"unknown catalogue {o.catalogue!r}")
        except (ValueError, LookupError) as exc:  # FactorRowError and the version errors too
            refused.append((o.override_id, f"{o.version}: {exc}"))
            continue
        applied.append(o.override_id)
    return FactorSet(cat, params, tuple(applied), tuple(refused))


def _add_factor(catalogue: Catalogue, o: Override) -> Catalogue:
    like = next((r for r in catalogue.rows if r.key == o.factor_key), None)
    if like is None:
        raise LookupError(f"no emission factor key {o.factor_key!r}")
    row = build_row(
        series=like.series,
        key=like.key,
        carrier=like.carrier,
        kind=like.kind,
        gas=like.gas,
        region=like.region,
        value=o.value,
        unit=o.unit,
        valid_from=o.valid_from,
        valid_to=o.valid_to,
        source=o.source,
        table=o.table,
        edition=o.edition,
        evidence=o.evidence,
        note=o.note,
        origin=f"override:{o.override_id}",
    )
    try:
        return add_version(catalogue, row)
    except (FactorRowError, FactorVersionError) as exc:
        raise ValueError(str(exc)) from None


def _add_parameter(parameters: tuple[Parameter, ...], o: Override) -> tuple[Parameter, ...]:
    like = next((p for p in parameters if p.key == o.factor_key), None)
    if like is None:
        raise LookupError(f"no conversion parameter key {o.factor_key!r}")
    if not o.value > 0 or o.unit != QUANTITY_UNIT[like.quantity]:
        raise ValueError(f"{like.quantity} is a positive value in {QUANTITY_UNIT[like.quantity]!r}")
    row = Parameter(
        key=like.key,
        carrier=like.carrier,
        quantity=like.quantity,
        value=o.value,
        unit=o.unit,
        valid_from=o.valid_from,
        valid_to=o.valid_to,
        source=o.source,
        table=o.table,
        edition=o.edition,
        evidence=o.evidence,
        note=o.note,
    )
    try:
        return add_parameter_version(parameters, row)
    except ParameterVersionError as exc:
        raise ValueError(str(exc)) from None
