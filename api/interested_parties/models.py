"""API models of interested parties' needs and expectations (clause 4.2)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from api.interested_parties.enums import PartyType
from api.registers.spec import RecordStatus
from api.registers.views import OwnerFields, StatusField
from api.registers.xlsx import LongText, ShortText

_EARLIEST, _LATEST = date(2000, 1, 1), date(9000, 1, 1)


class InterestedPartyContent(BaseModel):
    """One need or expectation of one interested party (4.2 b), and whether the park takes it
    on as a compliance obligation (4.2 c); ``obligation_id`` links it to that obligation (6.6)
    once the obligations register holds it."""

    model_config = ConfigDict(extra="forbid")

    party: ShortText = Field(description="Who: e.g. the municipal ecology bureau")
    party_type: PartyType
    need: LongText = Field(description="The need or expectation, one per record")
    influence: int = Field(ge=1, le=5, description="1 (low) to 5 (high)")
    interest: int = Field(ge=1, le=5, description="1 (low) to 5 (high)")
    becomes_obligation: StrictBool = Field(description="Taken on as a compliance obligation")
    obligation_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="The compliance obligation it became"
    )
    contact: ShortText | None = None
    owner: ShortText = Field(description="Who keeps in touch with the party")
    review_on: date = Field(description="The next review (a reminder is raised when it passes)")

    @field_validator("review_on")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if not _EARLIEST <= value <= _LATEST:
            raise ValueError("review_on must lie between 2000-01-01 and 9000-01-01")
        return value

    @model_validator(mode="after")
    def _obligation_taken_on(self) -> InterestedPartyContent:
        if self.obligation_id is not None and not self.becomes_obligation:
            raise ValueError("obligation_id needs becomes_obligation: true")
        return self


class InterestedPartyIn(OwnerFields, InterestedPartyContent):
    pass


class InterestedPartyUpdate(StatusField, InterestedPartyContent):
    """The whole record: its content and status (archive: ``archived``)."""


class InterestedPartyOut(InterestedPartyContent):
    model_config = ConfigDict(extra="ignore")

    record_id: int
    park_id: str
    enterprise_id: str | None = Field(description="None: a park-level record")
    status: RecordStatus
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class InterestedPartyPage(BaseModel):
    items: list[InterestedPartyOut]
    next_cursor: str | None
