"""Import rows of the objectives, measures and calibration-log sheets, written through each
register's own service (``api.registers.service.RowWriter``): the shared import validates the
row's system columns (``RegisterSpec.head``: the register's own states) and content, finds its
owner and the stored record, runs the writer in its all-or-nothing transaction and reports each
row.

A row without ``record_id`` creates a record; a row with one is compared with the stored record:
equal, it reads ``unchanged`` and writes nothing (so an exported file imports unchanged).
- objective: any content and its status may change; its target may not (record a new
  objective); a blank status is active for a new objective and leaves a stored one's as is;
- measure: a new one starts ``proposed``; its status moves through the transitions only and its
  source category and meters are fixed when it is created, so a row that changes them is
  refused; the rest changes as ``PATCH`` would (not once verified or cancelled);
- calibration event: append-only - a new row logs an event (moving calibration_due or opening a
  nonconformity as ``POST /v1/meters/{meter_id}/calibrations`` does), an existing row must equal
  the stored event. It belongs to its meter's enterprise (``CalibrationRows.owner``: the row's
  park and enterprise, if named, must be the meter's); its status column is derived (see
  ``spec``) and not compared.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from api.errors import ApiError
from api.keys import Principal
from api.live import LiveEvent
from api.measures import calibrations, measures, objectives
from api.measures.enums import MeasureState, ObjectiveStatus
from api.measures.models import CalibrationContent, CalibrationIn
from api.registers.spec import RecordStatus, RegisterSpec, SystemColumns, WriteRules
from api.registers.tenancy import Owner

Row = dict[str, Any]


def _changes(current: Row, wanted: Row) -> Row:
    return {k: v for k, v in wanted.items() if current[k] != v}


def _owned(content: Row, owner: Owner) -> Row:
    return content | {"park_id": owner.park_id, "enterprise_id": owner.enterprise_id}


async def write_objective(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    who: Principal,
    owner: Owner,
    head: SystemColumns[ObjectiveStatus],
    content: BaseModel,
    current: Row | None,
    events: list[LiveEvent],
) -> tuple[str, int]:
    """An objective's row (clause 6.2): created, or changed as ``PATCH`` changes it."""
    wanted = content.model_dump()
    if current is None:
        row = _owned(wanted, owner) | {"status": head.status_or(ObjectiveStatus.ACTIVE)}
        made = await objectives.create(conn, row=row, actor=who.actor)
        return "created", int(made["record_id"])
    record_id = int(current["record_id"])
    if wanted.pop("target_id") != current["target_id"]:
        raise ApiError(422, "target_id: an objective keeps its target; record a new objective")
    if head.status is not None:
        wanted["status"] = head.status
    changes = _changes(current, wanted)
    if not changes:
        return "unchanged", record_id
    await objectives.patch(
        conn, record_id=record_id, tenant=who.enterprise_id, changes=changes, actor=who.actor
    )
    return "updated", record_id


async def write_measure(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    who: Principal,
    owner: Owner,
    head: SystemColumns[MeasureState],
    content: BaseModel,
    current: Row | None,
    events: list[LiveEvent],
) -> tuple[str, int]:
    """A measure's row (clauses 6.2.2, 6.3): proposed, or changed as ``PATCH`` changes it."""
    wanted = content.model_dump()
    if current is None:
        if head.status not in (None, MeasureState.PROPOSED):
            raise ApiError(422, "status: a new measure starts proposed")
        made = await measures.create(conn, row=_owned(wanted, owner), actor=who.actor)
        return "created", int(made["record_id"])
    record_id = int(current["record_id"])
    if head.status not in (None, current["status"]):
        raise ApiError(
            422,
            f"status: measure {record_id} is {current['status']}; it moves through"
            f" POST /v1/measures/{record_id}/transitions",
        )
    for fixed in ("source_category", "meter_ids"):
        if wanted.pop(fixed) != current[fixed]:
            raise ApiError(422, f"{fixed}: fixed when the measure is created; propose a new one")
    changes = _changes(current, wanted)
    if not changes:
        return "unchanged", record_id
    await measures.patch(
        conn, measure_id=record_id, tenant=who.enterprise_id, changes=changes, actor=who.actor
    )
    return "updated", record_id


class CalibrationRows(WriteRules):
    """The calibration log's import (clause 9.1 c): an event is its meter's."""

    async def owner(
        self,
        conn: AsyncConnection[Any],
        *,
        who: Principal,
        head: SystemColumns[Any],
        content: BaseModel,
    ) -> Owner:
        """The meter's park and enterprise (another tenant's meter is 404); a row that names
        its park or enterprise names the meter's."""
        meter_id = CalibrationContent.model_validate(content.model_dump()).meter_id
        meter = await calibrations.meter_owner(conn, meter_id=meter_id, tenant=who.enterprise_id)
        for column, named in (("park_id", head.park_id), ("enterprise_id", head.enterprise_id)):
            if named not in (None, meter[column]):
                raise ApiError(422, f"{column}: meter {meter_id!r} is {meter[column]!r}'s")
        return Owner(meter["park_id"], meter["enterprise_id"])


async def write_calibration(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    who: Principal,
    owner: Owner,
    head: SystemColumns[RecordStatus],
    content: BaseModel,
    current: Row | None,
    events: list[LiveEvent],
) -> tuple[str, int]:
    """A calibration event's row: logged, or equal to the stored event (append-only); the live
    events of the nonconformities a failure opens go to ``events``."""
    event = CalibrationContent.model_validate(content.model_dump())
    if current is None:
        stored, opened = await calibrations.record(
            conn,
            meter_id=event.meter_id,
            body=CalibrationIn.model_validate(event.model_dump(exclude={"meter_id"})),
            tenant=who.enterprise_id,
            actor=who.actor,
        )
        events.extend(opened)
        return "created", int(stored["event_id"])
    if _changes(current, event.model_dump()):
        raise ApiError(
            422, f"calibration event {current['record_id']} differs: the log is append-only"
        )
    return "unchanged", int(current["record_id"])
