"""The document register (7.3) as the shared register machinery sees it: one row per controlled
document with the version in force (blank while none is), read from the ``document_register``
view of migration 0032; the version in force's review date raises ``document.review_due``.

Import: a row without ``record_id`` records a new document with its first version, a draft
(the version columns describe it; ``issued_version`` stays blank). A document changes only
through its versions and their transitions (7.3 change control), so a row of an existing
document must read as stored. The files are not in the sheet: they are uploaded per version.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, field_validator

from api.activity.models import Sha256
from api.documents import service
from api.documents.enums import DocumentKind
from api.documents.models import Code, DocumentIn
from api.errors import ApiError
from api.keys import Principal
from api.registers import service as registers
from api.registers.spec import RegisterSpec, Reminder
from api.registers.tenancy import Owner
from api.registers.xlsx import ShortText, Title
from api.webhooks.enums import EventType


class DocumentRow(BaseModel):
    """A controlled document and its version in force."""

    model_config = ConfigDict(extra="forbid")

    kind: DocumentKind
    code: Code
    title: ShortText
    owner: ShortText
    issued_version: int | None = None
    author: ShortText | None = None
    change_note: Title | None = None
    effective_on: date | None = None
    review_on: date | None = None
    file_name: ShortText | None = None
    sha256: Sha256 | None = None

    @field_validator("change_note", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        # An empty note is an empty cell: the sheet cannot tell "" from nothing.
        return value or None


async def _make(conn: AsyncConnection[Any], who: Principal, owner: Owner, content: Any) -> int:
    row = DocumentRow.model_validate(content.model_dump())
    if row.issued_version is not None:
        raise ApiError(422, "a new document starts as a draft: leave issued_version blank")
    fields = row.model_dump(exclude={"issued_version"}, exclude_none=True)
    made = await service.create(
        conn, who=who, body=DocumentIn.model_validate(fields | registers.owned(owner))
    )
    return int(made["document_id"])


SPEC = RegisterSpec(
    name="document",
    table="document_register",
    sheet="documents",
    content=DocumentRow,
    labels={
        "kind": "类别 / Kind",
        "code": "文件编号 / Code",
        "title": "文件名称 / Title",
        "owner": "归口部门 / Owner",
        "issued_version": "现行版本 / Version in force",
        "author": "编制人 / Author",
        "change_note": "修订说明 / Change note",
        "effective_on": "生效日期 / Effective date",
        "review_on": "评审日期 / Review date",
        "file_name": "文件 / File",
        "sha256": "SHA-256",
    },
    title_column="title",
    reminders=(
        Reminder(column="review_on", date_kind="review", event=EventType.DOCUMENT_REVIEW_DUE),
    ),
)

WRITE: registers.RowWriter = registers.fixed_records(
    _make,
    what="document",
    how="add a version (POST /v1/documents/{id}/versions) and move it through its transitions",
)
