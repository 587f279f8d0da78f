"""Internal audits and their findings (9.3) as the shared register machinery sees them."""

from __future__ import annotations

from api.internal_audits.models import AuditContent, FindingContent
from api.internal_audits.rules import AUDIT_REGISTER, FINDING_REGISTER, AuditRules, FindingRules
from api.registers.spec import RegisterSpec, Reminder
from api.webhooks.enums import EventType

AUDITS = RegisterSpec(
    name=AUDIT_REGISTER,
    table=AUDIT_REGISTER,
    sheet="internal_audits",
    content=AuditContent,
    labels={
        "programme_year": "审核方案年度 / Programme year",
        "title": "审核名称 / Audit",
        "scope": "审核范围 / Scope",
        "criteria": "审核准则 / Criteria",
        "audited_area": "受审核部门 / Audited area",
        "auditors": "审核员 / Auditors",
        "auditors_independent": "审核员独立于受审核部门 / Auditors independent",
        "independence_note": "独立性说明 / Independence note",
        "planned_start": "计划开始 / Planned start",
        "planned_end": "计划结束 / Planned end",
        "actual_start": "实际开始 / Actual start",
        "actual_end": "实际结束 / Actual end",
        "audit_status": "审核状态 / Audit status",
        "report_file_name": "审核报告文件名 / Report file name",
        "report_sha256": "审核报告SHA-256 / Report sha256",
    },
    title_column="title",
    reminders=(
        Reminder(
            column="planned_end",
            date_kind="planned_end",
            event=EventType.INTERNAL_AUDIT_DUE,
            only_when=("audit_status", ("planned", "in_progress")),
        ),
    ),
    rules=AuditRules(),
)

FINDINGS = RegisterSpec(
    name=FINDING_REGISTER,
    table=FINDING_REGISTER,
    sheet="audit_findings",
    content=FindingContent,
    labels={
        "audit_id": "内部审核编号 / Audit id",
        "finding_type": "发现类型 / Finding type",
        "clause": "标准条款 / Clause",
        "title": "发现 / Finding",
        "description": "描述 / Description",
        "evidence": "审核证据 / Evidence",
    },
    title_column="title",
    derived={"ticket_id": "不符合工单 / Ticket id"},
    rules=FindingRules(AUDITS),
)
