"""What a register declares: its table, its content model, its XLSX labels and its reminders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from api.webhooks.enums import EventType


class RecordStatus(StrEnum):
    """Records are never deleted (7.3: documented information is retained): they are archived."""

    ACTIVE = "active"
    ARCHIVED = "archived"


# The columns every register table has besides its content (see the 0030 migration's tables):
# record_id, park_id, enterprise_id, status, created_at, created_by, updated_at, updated_by.
# The XLSX file carries the first four before the content columns.
SYSTEM_COLUMNS = ("record_id", "park_id", "enterprise_id", "status")
SYSTEM_LABELS: Mapping[str, str] = {
    "record_id": "记录编号 / Record id",
    "park_id": "园区 / Park",
    "enterprise_id": "企业 / Enterprise",
    "status": "状态 / Status",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """A date column whose passing raises ``event`` once (per record and date)."""

    column: str  # a ``date`` column of the content model and the table
    date_kind: str  # how the reminder log and the event name the date, e.g. "review"
    event: EventType


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterSpec:
    """One register. ``content`` holds the fields a user writes (create, replace, import); its
    field names are the table's column names. ``labels`` gives each content field its zh-CN /
    English label for the XLSX label row."""

    name: str  # the audit log's entity and the reminder log's register, e.g. "context_issue"
    table: str
    sheet: str  # the XLSX sheet's name (at most 31 characters)
    content: type[BaseModel]
    labels: Mapping[str, str]
    title_column: str  # the field a reminder names the record by
    reminders: tuple[Reminder, ...] = ()

    def __post_init__(self) -> None:
        fields = set(self.content.model_fields)
        assert set(self.labels) == fields, f"{self.name}: label every content field"
        assert self.title_column in fields and len(self.sheet) <= 31
        assert not fields & set(SYSTEM_COLUMNS), f"{self.name}: content names a system column"
        for reminder in self.reminders:
            assert reminder.column in fields, f"{self.name}: no date column {reminder.column}"

    @property
    def columns(self) -> tuple[str, ...]:
        """The XLSX columns, in order."""
        return (*SYSTEM_COLUMNS, *self.content.model_fields)

    def label(self, column: str) -> str:
        """A column's zh-CN / English label, for the XLSX label row."""
        return SYSTEM_LABELS.get(column) or self.labels[column]
