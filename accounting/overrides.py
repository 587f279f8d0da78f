"""The packaged catalogue plus a park's own versions (``factor_override`` rows; clauses 6.5, 6.7).

A park version keeps its key's identity (series, carrier, parameter, gas, region of an emission
factor; carrier and quantity of a conversion parameter) and states value, unit, validity and
source. Versions are applied in the order the park added them (``override_id``), each with
``accounting.factors.add_version`` (or ``parameters.add_parameter_version``, the same rule): an
open-ended earlier version ends the day before the new one starts, any other overlap is refused.
That is the chaining the API checks when a version is added and shows in ``GET /v1/factors``,
so the stream worker and the API agree on which version is in force on a day. Pure: no I/O.

A version under a key the catalogue does not have (a province without a published factor, a
parameter such as the density of a fuel) states its identity itself (``series``, ``carrier``,
``parameter``, ``gas``, ``region``); it may not repeat the identity of an existing key.

An *enterprise's* version (``enterprise_id`` set: its measured NCV, carbon content, oxidation
rate, its supplier's steam factor; GB/T 32150-2015 6.3.1 e prefers measured values to defaults)
applies to that enterprise's meters only (``factor_sets``). On the days it covers it takes the
place of the park's and the packaged versions of its key: those are cut around it (a version
that continues after it resumes the day after, under the label ``key@<that day>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Protocol, TypeVar

from accounting.carriers import Carrier
from accounting.datafile import Evidence
from accounting.factor_rows import FactorKind, FactorRowError, Series, build_row
from accounting.factors import Catalogue, FactorVersionError, add_version, load_catalogue
from accounting.gwp import Gas
from accounting.parameters import (
    QUANTITY_UNIT,
    Parameter,
    ParameterVersionError,
    Quantity,
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
    enterprise_id: str | None = None  # None: the whole park
    # The identity of a key the catalogue does not have (None for a packaged key's version).
    series: str | None = None
    carrier: str | None = None
    parameter: str | None = None  # a FactorKind or a conversion Quantity
    gas: str | None = None
    region: str | None = None

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


def factor_sets(
    overrides: Iterable[Override],
    *,
    catalogue: Catalogue | None = None,
    parameters: tuple[Parameter, ...] | None = None,
) -> tuple[FactorSet, dict[str, FactorSet]]:
    """The park's set (packaged plus park-wide versions) and, for each enterprise with versions
    of its own, the park's set with the enterprise's versions laid over it (module docstring)."""
    rows = sorted(overrides, key=lambda o: o.override_id)
    park = apply_overrides(
        [o for o in rows if o.enterprise_id is None], catalogue=catalogue, parameters=parameters
    )
    mine: dict[str, list[Override]] = {}
    for o in rows:
        if o.enterprise_id is not None:
            mine.setdefault(o.enterprise_id, []).append(o)
    return park, {ent: _lay_over(park, own) for ent, own in mine.items()}


def _lay_over(park: FactorSet, own: Sequence[Override]) -> FactorSet:
    cat, params = park.catalogue, park.parameters
    applied, refused = list(park.applied), list(park.refused)
    for o in own:
        try:
            if o.catalogue == EMISSION_FACTOR:
                cat = Catalogue(_cut(cat.rows, o))
                cat = _add_factor(cat, o)
            elif o.catalogue == CONVERSION_PARAMETER:
                params = _add_parameter(_cut(params, o), o)
            else:
                raise ValueError(f"unknown catalogue {o.catalogue!r}")
        except (ValueError, LookupError) as exc:
            refused.append((o.override_id, f"{o.version}: {exc}"))
            continue
        applied.append(o.override_id)
    return FactorSet(cat, params, tuple(applied), tuple(refused))


class _Versioned(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def valid_from(self) -> date: ...
    @property
    def valid_to(self) -> date | None: ...


V = TypeVar("V", bound=_Versioned)


def _cut(rows: Sequence[V], o: Override) -> tuple[V, ...]:
    """``rows`` with the versions of ``o``'s key cut out of [o.valid_from, o.valid_to]: the
    enterprise's version takes their place on those days only."""
    end = o.valid_to or date.max
    out: list[V] = []
    for r in rows:
        r_end = r.valid_to or date.max
        if r.key != o.factor_key or r_end < o.valid_from or r.valid_from > end:
            out.append(r)
            continue
        if r.valid_from < o.valid_from:
            out.append(replace(r, valid_to=o.valid_from - timedelta(days=1)))  # type: ignore[type-var]
        if r_end > end:
            out.append(replace(r, valid_from=end + timedelta(days=1)))  # type: ignore[type-var]
    return tuple(out)


def _add_factor(catalogue: Catalogue, o: Override) -> Catalogue:
    like = next((r for r in catalogue.rows if r.key == o.factor_key), None)
    if like is None and o.series is None:
        raise LookupError(f"no emission factor key {o.factor_key!r}")
    if like is None:
        if o.carrier is None or o.parameter is None or o.region is None:
            raise ValueError("a new key states series, carrier, parameter and region")
        identity = (
            Series(str(o.series)),
            Carrier(o.carrier),
            FactorKind(o.parameter),
            Gas(o.gas) if o.gas else None,
            o.region,
        )
    else:
        identity = (like.series, like.carrier, like.kind, like.gas, like.region)
    row = build_row(
        series=identity[0],
        key=o.factor_key,
        carrier=identity[1],
        kind=identity[2],
        gas=identity[3],
        region=identity[4],
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
    if like is None and (o.carrier is None or o.parameter is None):
        raise LookupError(f"no conversion parameter key {o.factor_key!r}")
    if like is None:
        carrier, quantity = Carrier(str(o.carrier)), Quantity(str(o.parameter))
    else:
        carrier, quantity = like.carrier, like.quantity
    if not o.value > 0 or o.unit != QUANTITY_UNIT[quantity]:
        raise ValueError(f"{quantity} is a positive value in {QUANTITY_UNIT[quantity]!r}")
    row = Parameter(
        key=o.factor_key,
        carrier=carrier,
        quantity=quantity,
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
