"""The interested-party register (clause 4.2) as the shared register machinery sees it."""

from __future__ import annotations

from api.interested_parties.models import InterestedPartyContent
from api.registers.spec import RegisterSpec, Reminder
from api.webhooks.enums import EventType

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
)
