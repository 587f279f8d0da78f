"""Import rows of the objectives, measures and calibration-log sheets, written through each
register's own service (``api.registers.service.RawRowWriter``): the shared import runs them in its
all-or-nothing transaction and reports each row.

A row without ``record_id`` creates a record; a row with one is compared with the stored record:
equal, it reads ``unchanged`` and writes nothing (so an exported file imports unchanged).
- objective: any content and its status may change; its target may not (record a new
  objective);
- measure: a new one starts ``proposed``; its status moves through the transitions only and its
  source category and meters are fixed when it is created, so a row that changes them is
  refused; the rest changes as ``PATCH`` would (not once verified or cancelled);
- calibration event: append-only - a new row logs an event (moving calibration_due or opening a
  nonconformity as ``POST /v1/meters/{meter_id}/calibrations`` does), an existing row must equal
  the stored event. Its status column is derived (see ``spec``) and not compared.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError
from api.keys import Principal
from api.live import LiveEvent
from api.measures import calibrations, measures, objectives
from api.measures.enums import MeasureState, ObjectiveStatus
from api.measures.models import (
    CalibrationContent,
    CalibrationIn,
    Id,
    MeasureContent,
    ObjectiveContent,
)
from api.measures.spec import CALIBRATIONS
from api.registers import service
from api.registers.spec import SYSTEM_COLUMNS, RecordStatus
from api.registers.tenancy import Owner, owner_of

Row = dict[str, Any]


class _Head(BaseModel):
    """The system columns of an imported row."""

    model_config = ConfigDict(extra="forbid")

    record_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    park_id: Id | None = None
    enterprise_id: Id | None = None


class _ObjectiveHead(_Head):
    status: ObjectiveStatus | None = None  # blank: active for a new objective, as is otherwise


class _MeasureHead(_Head):
    status: MeasureState | None = None


class _CalibrationHead(_Head):
    status: RecordStatus | None = None  # derived from the log; not compared


def _split(values: Row) -> tuple[Row, Row]:
    head = {k: values[k] for k in SYSTEM_COLUMNS if k in values}
    return head, {k: v for k, v in values.items() if k not in head}


def _changes(current: Row, wanted: Row) -> Row:
    return {k: v for k, v in wanted.items() if current[k] != v}


def _same_owner(current: Row, owner: Owner, record_id: int) -> None:
    if (current["park_id"], current["enterprise_id"]) != (owner.park_id, owner.enterprise_id):
        raise ApiError(422, f"record {record_id} belongs to another owner")


async def write_objective(
    conn: AsyncConnection[Any], who: Principal, values: Row
) -> tuple[str, int]:
    head_values, content_values = _split(values)
    head = _ObjectiveHead.model_validate(head_values)
    content = ObjectiveContent.model_validate(content_values).model_dump()
    owner = await owner_of(conn, who=who, park_id=head.park_id, enterprise_id=head.enterprise_id)
    if head.record_id is None:
        status = head.status or ObjectiveStatus.ACTIVE
        row = content | {"park_id": owner.park_id, "enterprise_id": owner.enterprise_id}
        made = await objectives.create(conn, row=row | {"status": status}, actor=who.actor)
        return "created", int(made["record_id"])
    current = await objectives.get(conn, record_id=head.record_id, tenant=who.enterprise_id)
    _same_owner(current, owner, head.record_id)
    if content.pop("target_id") != current["target_id"]:
        raise ApiError(422, "target_id: an objective keeps its target; record a new objective")
    if head.status is not None:
        content["status"] = head.status
    changes = _changes(current, content)
    if not changes:
        return "unchanged", head.record_id
    await objectives.patch(
        conn, record_id=head.record_id, tenant=who.enterprise_id, changes=changes, actor=who.actor
    )
    return "updated", head.record_id


async def write_measure(conn: AsyncConnection[Any], who: Principal, values: Row) -> tuple[str, int]:
    head_values, content_values = _split(values)
    head = _MeasureHead.model_validate(head_values)
    content = MeasureContent.model_validate(content_values).model_dump()
    owner = await owner_of(conn, who=who, park_id=head.park_id, enterprise_id=head.enterprise_id)
    if head.record_id is None:
        if head.status not in (None, MeasureState.PROPOSED):
            raise ApiError(422, "status: a new measure starts proposed")
        row = content | {"park_id": owner.park_id, "enterprise_id": owner.enterprise_id}
        made = await measures.create(conn, row=row, actor=who.actor)
        return "created", int(made["record_id"])
    current = await measures.get(conn, measure_id=head.record_id, tenant=who.enterprise_id)
    _same_owner(current, owner, head.record_id)
    if head.status not in (None, current["status"]):
        raise ApiError(
            422,
            f"status: measure {head.record_id} is {current['status']}; it moves through"
            f" POST /v1/measures/{head.record_id}/transitions",
        )
    for fixed in ("source_category", "meter_ids"):
        if content.pop(fixed) != current[fixed]:
            raise ApiError(422, f"{fixed}: fixed when the measure is created; propose a new one")
    changes = _changes(current, content)
    if not changes:
        return "unchanged", head.record_id
    await measures.patch(
        conn, measure_id=head.record_id, tenant=who.enterprise_id, changes=changes, actor=who.actor
    )
    return "updated", head.record_id


def calibration_writer(published: list[LiveEvent]) -> service.RawRowWriter:
    """The calibration log's row writer; the live events of the nonconformities it opens are
    added to ``published``, to publish once the import has committed."""

    async def write(conn: AsyncConnection[Any], who: Principal, values: Row) -> tuple[str, int]:
        head_values, content_values = _split(values)
        head = _CalibrationHead.model_validate(head_values)
        content = CalibrationContent.model_validate(content_values)
        meter = await calibrations.meter_owner(
            conn, meter_id=content.meter_id, tenant=who.enterprise_id
        )
        for column, named in (("park_id", head.park_id), ("enterprise_id", head.enterprise_id)):
            if named not in (None, meter[column]):
                raise ApiError(422, f"{column}: meter {content.meter_id!r} is {meter[column]!r}'s")
        if head.record_id is None:
            event = CalibrationIn.model_validate(content.model_dump(exclude={"meter_id"}))
            stored, events = await calibrations.record(
                conn,
                meter_id=content.meter_id,
                body=event,
                tenant=who.enterprise_id,
                actor=who.actor,
            )
            published.extend(events)
            return "created", int(stored["event_id"])
        current = await service.get(
            conn, CALIBRATIONS, record_id=head.record_id, tenant=who.enterprise_id
        )
        if current is None:
            raise ApiError(404, f"no calibration event {head.record_id}")
        if _changes(current, content.model_dump()):
            raise ApiError(
                422, f"calibration event {head.record_id} differs: the log is append-only"
            )
        return "unchanged", head.record_id

    return write
