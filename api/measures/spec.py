"""Objectives (6.2), reduction measures (6.2.2, 6.3) and the meter calibration log (9.1 c) as
the shared register machinery sees them: their XLSX sheets (``api.registers.xlsx``) and the
dates that remind (``api.registers.reminders``): an active objective's ``due_on``
(``objective.due``), an open measure's ``planned_end`` (``measure.due``) and the next due date in
force of a meter's calibration (``calibration.due``), each once.

Objectives and measures hold their own states in the status column (``head``). Each is
written through its own service (``api.measures.sheets`` holds the import row writers): an
objective keeps its target, a measure's status moves through its transitions only, a
calibration event is append-only, belongs to its meter's enterprise and moves its meter's
calibration_due. The calibration log is read through the view ``meter_calibration_register``
(migration 0031): ``record_id`` is the event id, park and enterprise are the meter's, and
``status`` is derived - ``active`` for the event whose ``next_due`` is the meter's
calibration_due in force, ``archived`` for the history.
"""

from __future__ import annotations

from api.measures.enums import OPEN_STATES, MeasureState, ObjectiveStatus
from api.measures.models import CalibrationContent, MeasureContent, ObjectiveContent
from api.measures.sheets import CalibrationRows
from api.registers.spec import RegisterSpec, Reminder, SystemColumns
from api.webhooks.enums import EventType

OBJECTIVES = RegisterSpec(
    name="objective",
    table="objective",
    sheet="objectives",
    content=ObjectiveContent,
    labels={
        "title": "目标 / Objective",
        "indicator": "可测量指标 / Measurable indicator",
        "target_id": "指标编号 / Target id",
        "owner": "负责人 / Owner",
        "resources": "所需资源 / Resources",
        "due_on": "完成时间 / Due date",
        "evaluation_method": "结果评价方法 / Evaluation method",
    },
    title_column="title",
    reminders=(Reminder(column="due_on", date_kind="due", event=EventType.OBJECTIVE_DUE),),
    head=SystemColumns[ObjectiveStatus],
    record_name="objective",
)

MEASURES = RegisterSpec(
    name="measure",
    table="measure",
    sheet="measures",
    content=MeasureContent,
    labels={
        "title": "减排措施 / Measure",
        "description": "描述 / Description",
        "source_category": "排放源类别 / Source category",
        "expected_tco2e_per_year": "预期减排量 tCO2e/年 / Expected tCO2e per year",
        "expected_tce_per_year": "预期节能量 tce/年 / Expected tce per year",
        "capex_cny": "投资 元 / Capex CNY",
        "owner": "负责人 / Owner",
        "planned_start": "计划开始 / Planned start",
        "planned_end": "计划完成 / Planned end",
        "meter_ids": "涉及计量器具 / Meters affected",
    },
    title_column="title",
    # Proposed, approved or in progress at the planned end: implemented or cancelled ones are not.
    reminders=(
        Reminder(
            column="planned_end",
            date_kind="planned_end",
            event=EventType.MEASURE_DUE,
            statuses=tuple(sorted(OPEN_STATES)),
        ),
    ),
    head=SystemColumns[MeasureState],
    record_name="measure",
)

CALIBRATIONS = RegisterSpec(
    name="meter_calibration",
    table="meter_calibration_register",
    sheet="calibrations",
    content=CalibrationContent,
    labels={
        "meter_id": "计量器具 / Meter",
        "kind": "类型 / Kind",
        "performed_on": "日期 / Date",
        "result": "结果 / Result",
        "certificate_no": "证书编号 / Certificate no.",
        "laboratory": "检定/校准机构 / Laboratory",
        "next_due": "下次到期 / Next due",
        "note": "备注 / Note",
    },
    title_column="meter_id",
    # The view's active event: the next due date in force (a superseded one never reminds).
    reminders=(
        Reminder(column="next_due", date_kind="calibration", event=EventType.CALIBRATION_DUE),
    ),
    rules=CalibrationRows(),
    record_name="calibration event",
)
