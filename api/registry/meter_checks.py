"""Checks a meter's registry row must pass before it is stored (clause 9.1 c, GB 17167).

The row is checked whole (after a PATCH, the merged row), with the same function the stream
worker uses to load it (``store.registry.to_profile``), so the API never stores a meter the
worker cannot validate readings of.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from psycopg import AsyncConnection

from accounting.boundary import MeterRole, export_problem
from accounting.carriers import CANONICAL_UNIT, Carrier
from accounting.factor_rows import Series
from accounting.factors import load_catalogue
from accounting.fugitive import FugitiveError, components
from accounting.overrides import factor_sets
from accounting.parameters import PARAMETERS_FILE, Parameter, ParameterNotFoundError, Quantity
from accounting.process import ProcessError, process_factor_by_key
from accounting.units import UnitError, resolve_conversion
from api.errors import ApiError
from api.registry.enums import MeterSourceCategory
from store.factors import load_overrides_for
from store.registry import Meter, to_profile

_FIELDS = frozenset(Meter.__dataclass_fields__)


@cache
def series_by_carrier() -> dict[Series, frozenset[Carrier]]:
    """Each factor series of the packaged catalogue and the carriers it has factors for."""
    found: dict[Series, set[Carrier]] = {}
    for row in load_catalogue().rows:
        found.setdefault(row.series, set()).add(row.carrier)
    return {series: frozenset(carriers) for series, carriers in found.items()}


def _check_material_key(key: str, carrier: Carrier) -> None:
    """A process material meter's ``factor_key`` names its material (``process.caco3``), a
    fugitive gas meter's its gas or blend (``SF6``, ``R-410A``): accounting/window_co2e.py."""
    try:
        if carrier is Carrier.PROCESS_MATERIAL:
            process_factor_by_key(key)
        else:
            components(key)
    except (ProcessError, FugitiveError) as exc:
        raise ApiError(422, f"factor_key: {exc}", field="factor_key") from exc


def _check_factor_key(key: str, carrier: Carrier) -> None:
    """``factor_key`` names the catalogue series the worker uses instead of the carrier's
    default (accounting/window_co2e.py); a series without factors for the carrier is refused."""
    series = {s.value: s for s in series_by_carrier()}
    if key not in series:
        row = next((r for r in load_catalogue().rows if r.key == key), None)
        hint = f" ({key!r} is an entry of series {row.series.value!r})" if row else ""
        raise ApiError(
            422,
            f"factor_key {key!r} is not a factor series of the catalogue{hint}",
            known=sorted(series),
        )
    if carrier not in series_by_carrier()[series[key]]:
        raise ApiError(422, f"factor series {key!r} has no factor for carrier '{carrier}'")


async def meter_parameters(
    conn: AsyncConnection[Any], enterprise_id: str | None
) -> tuple[Parameter, ...]:
    """The conversion parameters the worker will use for the enterprise's meters: packaged,
    the park's versions and the enterprise's own (``accounting.overrides.factor_sets``)."""
    park, own = factor_sets(await load_overrides_for(conn, enterprise_id))
    return (own.get(enterprise_id, park) if enterprise_id else park).parameters


def check_meter(row: dict[str, Any], parameters: tuple[Parameter, ...] | None = None) -> None:
    """Raise a 422 ``ApiError`` naming the field when the row cannot be used as it stands;
    ``parameters``: those of the meter's enterprise (``meter_parameters``), packaged if None."""
    carrier = Carrier(row["carrier"])
    if carrier is Carrier.GREEN_SPACE:
        raise ApiError(
            422,
            "carrier 'green_space' is an area, entered as an activity record"
            " (/v1/activity-records), not read by a meter",
            field="carrier",
        )
    if row.get("role", MeterRole.CONSUMPTION) == MeterRole.EXPORT:
        problem = export_problem(carrier=carrier, source_category=row["source_category"])
        if problem is not None:
            raise ApiError(422, problem, field="role")
    if row.get("parent_meter_id") is not None and row["parent_meter_id"] == row.get("meter_id"):
        raise ApiError(422, "a meter cannot be its own parent", field="parent_meter_id")
    accounted = row["source_category"] != MeterSourceCategory.ACTIVITY_ONLY
    if accounted:
        # CO2e needs the activity in the carrier's canonical unit; a unit that does not convert
        # (kW, m3 of gas at line conditions) is recorded as activity only.
        try:
            resolve_conversion(row["unit"], CANONICAL_UNIT[carrier], carrier, parameters=parameters)
        except UnitError as exc:
            raise ApiError(
                422,
                f"unit {row['unit']!r}: {exc}; a meter in this unit is source_category"
                " 'activity_only'",
                field="unit",
            ) from exc
        except ParameterNotFoundError as exc:
            # Litres of a liquid fuel need its density (GB/T 32150 activity data in mass).
            raise ApiError(
                422,
                f"unit {row['unit']} for carrier {carrier} needs a {Quantity.DENSITY} row "
                f"(kg/L) for {carrier} in accounting/data/{PARAMETERS_FILE} or added with POST"
                " /v1/factor-overrides (parameter density), or register the meter in a mass unit"
                " (t, kg)",
                field="unit",
            ) from exc
    if carrier in (Carrier.PROCESS_MATERIAL, Carrier.FUGITIVE_GAS):
        if accounted and row.get("factor_key") is None:
            raise ApiError(
                422,
                f"a '{carrier}' meter names its material or gas in factor_key",
                field="factor_key",
            )
        if row.get("factor_key") is not None:
            _check_material_key(row["factor_key"], carrier)
    elif row.get("factor_key") is not None:
        _check_factor_key(row["factor_key"], carrier)
    installed, retired = row.get("installed_at"), row.get("retired_at")
    if installed is not None and retired is not None and installed >= retired:
        raise ApiError(
            422,
            f"installed_at must be before the meter's retirement ({retired})",
            field="installed_at",
        )
    try:
        to_profile(Meter(**{k: v for k, v in row.items() if k in _FIELDS}))
    except (ValueError, KeyError) as exc:
        raise ApiError(422, f"meter {row['meter_id']}: {exc}") from exc
