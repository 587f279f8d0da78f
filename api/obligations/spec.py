"""Obligations (6.6) and compliance evaluations (9.2) as the shared register machinery sees them."""

from __future__ import annotations

from api.obligations.models import EvaluationContent, ObligationContent
from api.obligations.rules import EVALUATION_REGISTER, EvaluationRules, ObligationRules
from api.registers.spec import RegisterSpec, Reminder
from api.webhooks.enums import EventType

OBLIGATIONS = RegisterSpec(
    name="obligation",
    table="obligation",
    sheet="obligations",
    content=ObligationContent,
    labels={
        "title": "合规义务 / Obligation",
        "kind": "类型 / Kind",
        "source_document": "来源文件 / Source document",
        "clause": "条款 / Clause",
        "summary": "要求摘要 / Summary",
        "applicability": "适用范围 / Applicability",
        "applies_to": "适用企业 / Applies to",
        "owner": "负责人 / Owner",
        "evaluation_frequency_months": "评价频次(月) / Evaluation every (months)",
        "next_evaluation_due": "下次评价日期 / Next evaluation due",
        "obligation_status": "义务状态 / Obligation status",
    },
    title_column="title",
    reminders=(
        Reminder(
            column="next_evaluation_due",
            date_kind="evaluation",
            event=EventType.OBLIGATION_EVALUATION_DUE,
            only_when=("obligation_status", ("in_force",)),
        ),
    ),
    rules=ObligationRules(),
)

EVALUATIONS = RegisterSpec(
    name=EVALUATION_REGISTER,
    table=EVALUATION_REGISTER,
    sheet="compliance_evaluations",
    content=EvaluationContent,
    labels={
        "obligation_id": "合规义务编号 / Obligation id",
        "period_start": "评价期起 / Period start",
        "period_end": "评价期止 / Period end",
        "result": "评价结果 / Result",
        "finding": "评价发现 / Finding",
        "evidence_ref": "证据文件 / Evidence document",
        "evidence_file_name": "证据文件名 / Evidence file name",
        "evidence_sha256": "证据文件SHA-256 / Evidence file sha256",
        "evaluator": "评价人 / Evaluator",
        "evaluated_on": "评价日期 / Evaluated on",
    },
    title_column="evidence_ref",
    derived={"ticket_id": "不符合工单 / Ticket id"},
    rules=EvaluationRules(OBLIGATIONS),
)
