"""The risk register (6.1), the actions on risks (6.1.3) and the admission screenings of
two-high projects (6.3.5) as the shared register machinery sees them: the XLSX sheets, what an
imported row may change, and the reminders.

The sheets read the ``*_register`` views of migration 0032 (record_id, park_id, enterprise_id,
status, then the content). An open risk is an ``active`` record, a closed one ``archived``; an
action is active until its effectiveness has been reviewed.

Import: a row without ``record_id`` records a new risk or screening through the register's own
create (its checks, its audit record). A risk's row may re-assess it (likelihood, consequence,
owner, review date, status: what ``PATCH /v1/risks/{id}`` changes); what identifies the risk
(kind, category, title, description, sources) is fixed. A screening's figures and criteria
never change; its decision is recorded once (a row of an undecided screening may carry it).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Self

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from api.errors import ApiError
from api.keys import Principal
from api.live import LiveEvent
from api.registers import service as registers
from api.registers.spec import RecordStatus, RegisterSpec, Reminder, SystemColumns
from api.registers.tenancy import Owner
from api.registers.xlsx import LongText, ShortText
from api.risks import rules, service
from api.risks.enums import Decision, RiskCategory, RiskKind, RiskStatus
from api.risks.models import (
    Criterion,
    DecisionIn,
    Rating,
    Ref,
    RiskIn,
    RiskPatch,
    ScreeningIn,
)
from api.training.models import Day
from api.webhooks.enums import EventType

_CRITERIA = TypeAdapter(list[Criterion])


class RiskRow(BaseModel):
    """A risk or opportunity as one row of the sheet; ``score`` is likelihood x consequence
    (a row whose score does not follow its ratings is refused)."""

    model_config = ConfigDict(extra="forbid")

    kind: RiskKind
    category: RiskCategory
    title: ShortText
    description: LongText
    context_issue_id: Ref | None = None
    interested_party_id: Ref | None = None
    obligation_id: Ref | None = None
    likelihood: Rating
    consequence: Rating
    score: int = Field(ge=1, le=25)
    owner: ShortText
    review_on: Day

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not rules.category_fits(self.kind, self.category):
            raise ValueError("an opportunity has category opportunity, a risk one of the others")
        if self.score != rules.score(self.likelihood, self.consequence):
            raise ValueError("score must be likelihood x consequence")
        return self


class ActionRow(BaseModel):
    """An action on a risk (6.1.3 a); reminders only, actions are written on their risk."""

    model_config = ConfigDict(extra="forbid")

    risk_id: Ref
    description: LongText
    owner: ShortText
    due_on: Day
    review_on: Day


class ScreeningRow(BaseModel):
    """A two-high project's screening as one row: its figures, the criteria applied (JSON, one
    object per criterion: criterion, requirement, met, note) and the decision, if taken."""

    model_config = ConfigDict(extra="forbid")

    project: ShortText
    applicant: ShortText
    industry: ShortText
    annual_energy_tce: float = Field(ge=0, le=1e9, allow_inf_nan=False)
    annual_emissions_tco2e: float = Field(ge=0, le=1e10, allow_inf_nan=False)
    criteria: str = Field(description="JSON list of {criterion, requirement, met, note}")
    decision: Decision | None = None
    conditions: LongText | None = None
    decision_reason: LongText | None = None
    decided_by: ShortText | None = None
    decided_at: datetime | None = None

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: str) -> str:
        # One canonical text, so a row compares equal to the stored criteria however the
        # cell's JSON was spaced or its keys ordered.
        criteria = _CRITERIA.validate_json(value)
        if not 1 <= len(criteria) <= 50:
            raise ValueError("1 to 50 criteria")
        return json.dumps([c.model_dump() for c in criteria], ensure_ascii=False)

    @model_validator(mode="after")
    def _decision_whole(self) -> Self:
        parts = (self.decision_reason, self.decided_by, self.decided_at)
        if self.decision is None and any(p is not None for p in (*parts, self.conditions)):
            raise ValueError("decision columns are filled together with decision")
        if self.decision is not None and any(p is None for p in parts):
            raise ValueError("a decision names its reason, who decided and when (decided_at)")
        return self

    def decision_in(self) -> DecisionIn | None:
        if self.decision is None:
            return None
        return DecisionIn(
            decision=self.decision,
            conditions=self.conditions,
            reason=self.decision_reason,
            decided_by=self.decided_by,
            decided_at=self.decided_at,
        )


_RATINGS = ("likelihood", "consequence", "owner", "review_on")


async def _write_risk(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    who: Principal,
    owner: Owner,
    head: SystemColumns[RecordStatus],
    content: BaseModel,
    current: dict[str, Any] | None,
    events: list[LiveEvent],
) -> tuple[str, int]:
    row = RiskRow.model_validate(content.model_dump())
    status = head.status_or(RecordStatus.ACTIVE)
    if current is None:
        if status is not RecordStatus.ACTIVE:
            raise ApiError(422, "a new risk is open: leave status blank or active")
        body = RiskIn.model_validate(row.model_dump(exclude={"score"}) | registers.owned(owner))
        made = await service.create_risk(conn, who=who, body=body)
        return "created", int(made["risk_id"])
    stored = RiskRow.model_validate(registers.content_of(spec, current).model_dump())
    fixed = set(RiskRow.model_fields) - {*_RATINGS, "score"}
    moved = [f for f in sorted(fixed) if getattr(stored, f) != getattr(row, f)]
    if moved:
        raise ApiError(
            422,
            f"risk {current['record_id']}: {', '.join(moved)} identify the risk and never "
            "change; record a new risk",
        )
    changes: dict[str, Any] = {
        f: getattr(row, f) for f in _RATINGS if getattr(row, f) != getattr(stored, f)
    }
    if status.value != current["status"]:
        changes["status"] = RiskStatus.OPEN if status is RecordStatus.ACTIVE else RiskStatus.CLOSED
    if not changes:
        return "unchanged", int(current["record_id"])
    await service.patch_risk(
        conn,
        risk_id=current["record_id"],
        tenant=who.enterprise_id,
        body=RiskPatch.model_validate(changes),
        actor=who.actor,
    )
    return "updated", int(current["record_id"])


async def _make_screening(
    conn: AsyncConnection[Any], who: Principal, owner: Owner, content: Any
) -> int:
    row = ScreeningRow.model_validate(content.model_dump())
    body = ScreeningIn.model_validate(
        row.model_dump(include={"project", "applicant", "industry"})
        | {
            "annual_energy_tce": row.annual_energy_tce,
            "annual_emissions_tco2e": row.annual_emissions_tco2e,
            "criteria": json.loads(row.criteria),
        }
        | registers.owned(owner)
    )
    made = await service.create_screening(conn, who=who, body=body)
    await _decide(conn, who, int(made["screening_id"]), row)
    return int(made["screening_id"])


async def _decide(
    conn: AsyncConnection[Any], who: Principal, screening_id: int, row: ScreeningRow
) -> None:
    decision = row.decision_in()
    if decision is not None:
        await service.decide(
            conn,
            screening_id=screening_id,
            tenant=who.enterprise_id,
            body=decision,
            actor=who.actor,
        )


_fixed_screening = registers.fixed_records(
    _make_screening,
    what="screening",
    how="its figures and criteria never change and its decision is taken once",
)


async def _write_screening(
    conn: AsyncConnection[Any],
    spec: RegisterSpec,
    who: Principal,
    owner: Owner,
    head: SystemColumns[RecordStatus],
    content: BaseModel,
    current: dict[str, Any] | None,
    events: list[LiveEvent],
) -> tuple[str, int]:
    row = ScreeningRow.model_validate(content.model_dump())
    if current is not None and current["decision"] is None and row.decision is not None:
        # The decision of an undecided screening, taken in the sheet.
        undecided = row.model_copy(
            update=dict.fromkeys(
                ("decision", "conditions", "decision_reason", "decided_by", "decided_at")
            )
        )
        if registers.content_of(spec, current) == undecided:
            await _decide(conn, who, int(current["record_id"]), row)
            return "updated", int(current["record_id"])
    return await _fixed_screening(conn, spec, who, owner, head, content, current, events)


RISKS = RegisterSpec(
    name="risk",
    table="risk_register",
    sheet="risks",
    content=RiskRow,
    labels={
        "kind": "风险或机遇 / Risk or opportunity",
        "category": "类别 / Category (6.1.2)",
        "title": "名称 / Title",
        "description": "描述 / Description",
        "context_issue_id": "内外部问题 / Context issue (4.1)",
        "interested_party_id": "相关方 / Interested party (4.2)",
        "obligation_id": "合规义务 / Obligation (6.6)",
        "likelihood": "可能性 / Likelihood (1-5)",
        "consequence": "后果 / Consequence (1-5)",
        "score": "风险值 / Score",
        "owner": "负责人 / Owner",
        "review_on": "评审日期 / Review date",
    },
    title_column="title",
    reminders=(Reminder(column="review_on", date_kind="review", event=EventType.RISK_REVIEW_DUE),),
)

ACTIONS = RegisterSpec(
    name="risk_action",
    table="risk_action_register",
    sheet="risk_actions",
    content=ActionRow,
    labels={
        "risk_id": "风险 / Risk",
        "description": "措施 / Action",
        "owner": "负责人 / Owner",
        "due_on": "完成期限 / Due date",
        "review_on": "有效性评价日期 / Effectiveness review date",
    },
    title_column="description",
    reminders=(
        Reminder(column="review_on", date_kind="review", event=EventType.RISK_ACTION_REVIEW_DUE),
    ),
)

SCREENINGS = RegisterSpec(
    name="project_screening",
    table="project_screening_register",
    sheet="project_screenings",
    content=ScreeningRow,
    labels={
        "project": "项目 / Project",
        "applicant": "申请单位 / Applicant",
        "industry": "行业 / Industry",
        "annual_energy_tce": "年综合能耗 / Annual energy (tce)",
        "annual_emissions_tco2e": "年碳排放 / Annual emissions (tCO2e)",
        "criteria": "准入条件 / Criteria applied (JSON)",
        "decision": "结论 / Decision",
        "conditions": "准入条件要求 / Conditions",
        "decision_reason": "理由 / Reason",
        "decided_by": "决定人 / Decided by",
        "decided_at": "决定时间 / Decided at",
    },
    title_column="project",
)

# The writers of the import routes (see ``registers.service.RowWriter``).
WRITE_RISK: registers.RowWriter = _write_risk
WRITE_SCREENING: registers.RowWriter = _write_screening
