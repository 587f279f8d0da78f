"""Confirmed activity records of a period, for the inventory (clause 6.3.1 e; migration 0017).

The interface the stored inventory builds on:

- ``confirmed_activity(conn, park_id=, enterprise_id=, start=, end=)`` returns every record in
  state ``confirmed`` (its current version only) whose period overlaps the local days
  ``start``..``end`` (inclusive), each with ``share``: the fraction of its days inside the
  period (a quarterly invoice in a one-month report counts by days). ``enterprise_id=None``
  returns the park's own records and every enterprise's of the park.
- ``ActivityRow.to_input()`` gives the ``accounting.activity.ActivityInput`` for its share;
  ``accounting.activity.activity_lines`` turns those into emission and removal lines.
- ``replaced_meters(...)`` returns, for the same records, the meters whose windows they
  replace and the UTC interval each is replaced for: the inventory leaves those windows out.

Drafts, withdrawn records and superseded versions never appear here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from accounting.activity import ActivityInput
from accounting.carriers import Carrier
from accounting.categories import IsoCategory, SourceCategory

_CONFIRMED = """
SELECT r.record_id, v.version, r.park_id, r.enterprise_id, v.period_start, v.period_end,
       v.source_category, v.iso_category, v.carrier, v.material, v.quantity, v.unit,
       v.activity, v.activity_unit, v.parameters, v.replaces_meters, v.document_ref,
       v.evidence_sha256,
       (LEAST(v.period_end, %(end)s::date) - GREATEST(v.period_start, %(start)s::date) + 1)::float8
         / (v.period_end - v.period_start + 1) AS share,
       (v.period_start::timestamp AT TIME ZONE p.timezone) AS starts_at,
       ((v.period_end + 1)::timestamp AT TIME ZONE p.timezone) AS ends_at
FROM activity_record r
JOIN activity_record_version v ON v.record_id = r.record_id AND v.version = r.version
JOIN park p ON p.park_id = r.park_id
WHERE r.state = 'confirmed'
  AND r.park_id = %(park)s
  AND (%(enterprise)s::text IS NULL OR r.enterprise_id = %(enterprise)s)
  AND v.period_start <= %(end)s::date AND v.period_end >= %(start)s::date
ORDER BY r.record_id
"""


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """The current version of one confirmed record, and the share of it inside the period."""

    record_id: int
    version: int
    park_id: str
    enterprise_id: str | None  # None: a park-level record
    period_start: date
    period_end: date  # inclusive, local days
    source_category: str
    iso_category: str | None
    carrier: str
    material: str | None
    quantity: float
    unit: str
    activity: float  # in activity_unit (canonical), as validated when entered
    activity_unit: str
    parameters: dict[str, Any]
    replaces_meters: list[str]
    document_ref: str
    evidence_sha256: str | None
    share: float  # days of the record inside the period / days of the record
    starts_at: datetime  # the record's period as UTC instants of the park's time zone
    ends_at: datetime

    @property
    def subject(self) -> str:
        return self.enterprise_id or self.park_id

    def to_input(self) -> ActivityInput:
        """The record as accounting takes it, its quantity scaled to the period's share."""
        params = self.parameters
        return ActivityInput(
            record=f"{self.record_id}v{self.version}",
            subject=self.subject,
            category=SourceCategory(self.source_category),
            carrier=Carrier(self.carrier),
            quantity=self.quantity * self.share,
            unit=self.unit,
            material=self.material,
            period_start=self.period_start,
            period_end=self.period_end,
            iso_category=IsoCategory(self.iso_category) if self.iso_category else None,
            purity=float(params.get("purity", 1.0)),
            calcination=float(params.get("calcination", 1.0)),
            ncv_gj_per_unit=_optional(params.get("ncv_gj_per_unit")),
            density_kg_per_l=_optional(params.get("density_kg_per_l")),
        )


@dataclass(frozen=True, slots=True)
class ReplacedMeter:
    """A meter whose windows a confirmed record replaces from ``starts_at`` to ``ends_at``."""

    meter_id: str
    record_id: int
    version: int
    starts_at: datetime
    ends_at: datetime


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


async def confirmed_activity(
    conn: AsyncConnection[Any],
    *,
    park_id: str,
    enterprise_id: str | None,
    start: date,
    end: date,
) -> list[ActivityRow]:
    """Confirmed records overlapping ``start``..``end`` (local days, inclusive), oldest first."""
    if end < start:
        raise ValueError(f"period end {end} is before its start {start}")
    async with conn.cursor(row_factory=class_row(ActivityRow)) as cur:
        await cur.execute(
            _CONFIRMED, {"park": park_id, "enterprise": enterprise_id, "start": start, "end": end}
        )
        return await cur.fetchall()


async def replaced_meters(
    conn: AsyncConnection[Any],
    *,
    park_id: str,
    enterprise_id: str | None,
    start: date,
    end: date,
) -> list[ReplacedMeter]:
    """The meters the period's confirmed records replace, each over its record's period."""
    rows = await confirmed_activity(
        conn, park_id=park_id, enterprise_id=enterprise_id, start=start, end=end
    )
    return [
        ReplacedMeter(meter, row.record_id, row.version, row.starts_at, row.ends_at)
        for row in rows
        for meter in row.replaces_meters
    ]
