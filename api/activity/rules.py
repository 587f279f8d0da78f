"""Checks a version must pass before it is stored (clause 6.3.1 e): accounting's validation,
no period in the future, and no consumption counted twice (a record names the meters it
replaces, or no meter of its enterprise, carrier and category has windows in its period)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from psycopg import AsyncConnection

from accounting.activity import ActivityError, validate_activity
from accounting.boundary import CountBasis
from accounting.carriers import CANONICAL_UNIT
from api.activity.models import ActivityContent
from api.errors import ApiError

# Meters a record of this owner could overlap: the enterprise's, or every enterprise's of the
# park for a park-level record.
_OWNED = """(m.enterprise_id = %(enterprise)s OR (%(enterprise)s::text IS NULL
             AND m.enterprise_id IN (SELECT enterprise_id FROM enterprise
                                     WHERE park_id = %(park)s)))"""
_BOUNDS = """(%(start)s::date::timestamp AT TIME ZONE %(tz)s),
             ((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s)"""
_REPLACED = f"""
SELECT m.meter_id, m.carrier, c.basis FROM meter m
JOIN meter_count_basis c ON c.meter_id = m.meter_id
WHERE m.meter_id = ANY(%(meters)s) AND {_OWNED}
"""  # noqa: S608 - constants only
# Only meters the totals count (docs/boundary.md) can overlap a record: a sub-meter's windows are
# in its parent's, an out-of-boundary meter's in no total.
_OVERLAP = f"""
SELECT m.meter_id, min(w.window_start) AS first_window
FROM meter m
JOIN meter_count_basis c ON c.meter_id = m.meter_id AND c.basis = 'counted'
JOIN emission_window w ON w.meter_id = m.meter_id
CROSS JOIN (SELECT {_BOUNDS}) AS b(starts_at, ends_at)
WHERE {_OWNED}
  AND m.carrier = %(carrier)s AND m.source_category = %(category)s
  AND NOT (m.meter_id = ANY(%(meters)s))
  AND w.window_start < b.ends_at AND w.window_end > b.starts_at
GROUP BY m.meter_id ORDER BY m.meter_id
"""  # noqa: S608 - constants only


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose record it is: an enterprise of a park, or the park itself (enterprise None)."""

    park_id: str
    enterprise_id: str | None
    timezone: str

    @property
    def subject(self) -> str:
        return self.enterprise_id or self.park_id


async def check_content(
    conn: AsyncConnection[Any], *, owner: Owner, content: ActivityContent, label: str = "new"
) -> tuple[float, str]:
    """The version's quantity in its canonical unit and that unit, or a 409/422 ``ApiError``."""
    try:
        activity = validate_activity(content.to_input(record=label, subject=owner.subject))
    except ActivityError as exc:
        raise ApiError(422, str(exc), field=exc.field) from exc
    cur = await conn.execute("SELECT (now() AT TIME ZONE %s)::date", (owner.timezone,))
    found = await cur.fetchone()
    assert found is not None
    today: date = found[0]
    if content.period_end > today:
        raise ApiError(
            422,
            f"period_end {content.period_end} is in the future (today is {today} in "
            f"{owner.timezone})",
            field="period_end",
        )
    params = {
        "enterprise": owner.enterprise_id,
        "park": owner.park_id,
        "meters": content.replaces_meters,
        "start": content.period_start,
        "end": content.period_end,
        "tz": owner.timezone,
        "carrier": content.carrier.value,
        "category": content.source_category.value,
    }
    await _check_replaced(conn, content, params)
    overlap = await (await conn.execute(_OVERLAP, params)).fetchall()
    if overlap:
        meters = [row[0] for row in overlap]
        raise ApiError(
            409,
            f"meters {meters} of the same carrier and category have windows in "
            f"{content.period_start}..{content.period_end}: the record would count that "
            "consumption twice; name them in replaces_meters (their windows are then left out "
            "of the inventory for this period) or enter the part no meter measures",
            meters=meters,
        )
    return activity, CANONICAL_UNIT[content.carrier]


async def _check_replaced(
    conn: AsyncConnection[Any], content: ActivityContent, params: dict[str, Any]
) -> None:
    named = content.replaces_meters
    if len(set(named)) != len(named):
        raise ApiError(422, "replaces_meters names a meter twice", field="replaces_meters")
    rows = await (await conn.execute(_REPLACED, params)).fetchall()
    found = {meter: carrier for meter, carrier, _ in rows}
    basis = {meter: b for meter, _, b in rows}
    for meter in named:
        if meter not in found:
            # Another tenant's meter reads as absent, like one that does not exist.
            raise ApiError(
                422,
                f"replaces_meters: no meter {meter!r} of this record's owner",
                field="replaces_meters",
            )
        if found[meter] != content.carrier.value:
            raise ApiError(
                422,
                f"replaces_meters: meter {meter!r} measures '{found[meter]}', not "
                f"'{content.carrier}'",
                field="replaces_meters",
            )
        if basis[meter] != CountBasis.COUNTED:
            # A record replaces what a total counts: leaving out a sub-meter's or an
            # out-of-boundary meter's windows changes nothing, and an export's would drop the
            # deduction; a record replaces the parent (root) meter instead.
            raise ApiError(
                422,
                f"replaces_meters: meter {meter!r} is {basis[meter]}, not counted in totals"
                " (docs/boundary.md); name the root meter whose windows the record replaces",
                field="replaces_meters",
            )
