"""API models of controlled documents and their versions (clauses 5.2, 7.3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.activity.models import EnterpriseId, Sha256
from api.documents.enums import DocumentKind, VersionState
from api.registers.xlsx import LongText, ShortText, Title

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(9000, 1, 1))]


class VersionIn(BaseModel):
    """A version's content: who wrote it, when it takes effect and is reviewed, and the file
    it consists of (its name and sha256; the bytes are uploaded to ``.../file``)."""

    model_config = ConfigDict(extra="forbid")

    author: ShortText
    change_note: Title = ""
    effective_on: Day
    review_on: Day = Field(description="When the version is next reviewed; a reminder")
    file_name: ShortText = Field(description="PDF, PNG, JPEG, CSV or XLSX, by its ending")
    sha256: Sha256

    @model_validator(mode="after")
    def _review_after_effect(self) -> Self:
        if self.review_on < self.effective_on:
            raise ValueError("review_on must not be before effective_on")
        return self


class DocumentIn(VersionIn):
    """A new controlled document with its first version (a draft). The carbon policy is the
    park's (``park_id``); other documents belong to an enterprise or, with ``park_id``, to the
    park."""

    kind: DocumentKind
    code: Code = Field(description="The document's identification, unique in the park")
    title: ShortText
    owner: ShortText
    enterprise_id: EnterpriseId | None = None
    park_id: EnterpriseId | None = Field(default=None, description="Park-level documents only")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: VersionState
    approver: ShortText | None = Field(
        default=None, description="-> approved: who approved it (not the author)"
    )
    reason: LongText | None = Field(default=None, description="-> withdrawn: why")


class VersionOut(BaseModel):
    document_id: int
    version: int
    state: VersionState
    allowed_transitions: list[VersionState]
    author: str
    change_note: str
    effective_on: date
    review_on: date
    file_name: str
    file_sha256: str
    file_stored: bool
    approver: str | None
    approved_at: datetime | None
    approved_by: str | None
    issued_at: datetime | None
    issued_by: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_reason: str | None
    superseded_by: int | None = Field(description="The version whose issue withdrew this one")
    created_at: datetime
    created_by: str


class DocumentOut(BaseModel):
    document_id: int
    park_id: str
    enterprise_id: str | None = Field(description="None: a park-level document")
    kind: DocumentKind
    code: str
    title: str
    owner: str
    issued_version: int | None = Field(description="The version in force; None: none")
    created_at: datetime
    created_by: str
    updated_at: datetime


class DocumentDetail(DocumentOut):
    versions: list[VersionOut] = Field(description="Every version, oldest first")


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None
