"""The outputs of closed management reviews as the shared reminder check sees them: rows with
the register system columns whose ``due_on`` raises ``review_output.due`` once (clause 9.5.2).

They are not a register of their own (``catalogue.REGISTERS``): an output is written only by
closing its review, never created, replaced or imported on its own.
"""

from __future__ import annotations

from api.management_reviews.models import ReviewOutput
from api.registers.spec import RegisterSpec, Reminder
from api.webhooks.enums import EventType

OUTPUT_LABELS = {
    "kind": "类型 / Kind",
    "title": "输出 / Output",
    "description": "说明 / Description",
    "owner": "负责人 / Owner",
    "due_on": "完成期限 / Due date",
    "nonconformity": "不符合 / Nonconformity",
}

REVIEW_OUTPUTS = RegisterSpec(
    name="review_output",
    table="management_review_output",
    sheet="outputs",
    content=ReviewOutput,
    labels=OUTPUT_LABELS,
    title_column="title",
    reminders=(Reminder(column="due_on", date_kind="due", event=EventType.REVIEW_OUTPUT_DUE),),
)
