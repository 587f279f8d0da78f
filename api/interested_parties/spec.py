"""The interested-party register (clause 4.2) as the shared register machinery sees it."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from api.errors import ApiError
from api.interested_parties.models import InterestedPartyContent
from api.obligations.spec import OBLIGATIONS
from api.registers import service
from api.registers.spec import RegisterSpec, Reminder, WriteRules
from api.registers.tenancy import Owner
from api.webhooks.enums import EventType


class _Rules(WriteRules):
    """A need taken on as an obligation (4.2 c) links to an obligation (6.6) the caller sees,
    of the same owner or of the park."""

    async def check(
        self,
        conn: AsyncConnection[Any],
        *,
        owner: Owner,
        content: BaseModel,
        tenant: str | None,
        current: dict[str, Any] | None,
    ) -> None:
        assert isinstance(content, InterestedPartyContent)
        ref = content.obligation_id
        if ref is None:
            return
        obligation = await service.get(conn, OBLIGATIONS, record_id=ref, tenant=tenant)
        if obligation is None:
            raise ApiError(404, f"no obligation {ref}")
        if obligation["park_id"] != owner.park_id or obligation["enterprise_id"] not in (
            None,
            owner.enterprise_id,
        ):
            raise ApiError(422, f"obligation {ref} is another owner's than this need's")


SPEC = RegisterSpec(
    name="interested_party",
    table="interested_party",
    sheet="interested_parties",
    content=InterestedPartyContent,
    labels={
        "party": "相关方 / Interested party",
        "party_type": "类型 / Type",
        "need": "需求和期望 / Need or expectation",
        "influence": "影响力 / Influence",
        "interest": "关注度 / Interest",
        "becomes_obligation": "成为合规义务 / Becomes an obligation",
        "obligation_id": "合规义务编号 / Obligation id",
        "contact": "联系方式 / Contact",
        "owner": "负责人 / Owner",
        "review_on": "评审日期 / Review date",
    },
    title_column="party",
    reminders=(
        Reminder(
            column="review_on", date_kind="review", event=EventType.INTERESTED_PARTY_REVIEW_DUE
        ),
    ),
    rules=_Rules(),
)
