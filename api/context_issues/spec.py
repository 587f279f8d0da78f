"""The context-issue register (clause 4.1) as the shared register machinery sees it."""

from __future__ import annotations

from api.context_issues.models import ContextIssueContent
from api.registers.spec import RegisterSpec, Reminder
from api.webhooks.enums import EventType

SPEC = RegisterSpec(
    name="context_issue",
    table="context_issue",
    sheet="context_issues",
    content=ContextIssueContent,
    labels={
        "title": "议题 / Issue",
        "origin": "内部或外部 / Internal or external",
        "category": "类别 / Category",
        "description": "描述 / Description",
        "effect": "影响 / Effect",
        "effect_description": "影响说明 / Effect on the outcomes",
        "affected_processes": "相关过程 / Affected processes",
        "owner": "负责人 / Owner",
        "review_on": "评审日期 / Review date",
    },
    title_column="title",
    reminders=(
        Reminder(column="review_on", date_kind="review", event=EventType.CONTEXT_ISSUE_REVIEW_DUE),
    ),
)
