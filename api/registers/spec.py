"""What a register declares: its table, its content model, its XLSX labels and its reminders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field

from api.keys import Principal
from api.live import LiveEvent
from api.registers.tenancy import Owner, owner_of
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

# The states a register's status column holds: ``RecordStatus``, or a workflow's own.
State = TypeVar("State", bound=StrEnum)


class SystemColumns(BaseModel, Generic[State]):
    """The columns of an imported row that are not content: blank record_id creates a record,
    a record_id replaces that record (its owner cannot change). ``status`` is one of the
    register's states; blank (None) means what its writer says (a plain record: active)."""

    model_config = ConfigDict(extra="forbid")

    record_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    park_id: str | None = Field(default=None, min_length=1, max_length=64)
    enterprise_id: str | None = Field(default=None, min_length=1, max_length=64)
    status: State | None = None

    def status_or(self, blank: State) -> State:
        """The row's status, ``blank`` where the row leaves it blank."""
        return blank if self.status is None else self.status


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """A date column whose passing raises ``event`` once (per record and date), for records in
    one of ``statuses`` (a register with a workflow names its open states)."""

    column: str  # a ``date`` column of the content model and the table
    date_kind: str  # how the reminder log and the event name the date, e.g. "review"
    event: EventType
    statuses: tuple[str, ...] = (RecordStatus.ACTIVE.value,)
    # Remind only while this content column holds one of these values (e.g. an audit still
    # planned or in progress); None: while the record is active.
    only_when: tuple[str, tuple[str, ...]] | None = None


class WriteRules:
    """What a register checks and does beyond storing its content, inside the transaction of the
    write (create, replace, each imported row), so a refusal stores nothing and a consequence
    (a ticket opened, a due date moved) is stored with the record or not at all. The default
    checks nothing and does nothing, and an imported row is owned as it names its owner; a
    register overrides any of the methods."""

    async def owner(
        self,
        conn: AsyncConnection[Any],
        *,
        who: Principal,
        head: SystemColumns[Any],
        content: BaseModel,
    ) -> Owner:
        """Whose record an imported row is, checked against the caller: by default the owner
        its ``park_id`` and ``enterprise_id`` name (``tenancy.owner_of``). A register whose
        records belong to what they hang off (a meter's calibration events) overrides it."""
        return await owner_of(conn, who=who, park_id=head.park_id, enterprise_id=head.enterprise_id)

    async def check(
        self,
        conn: AsyncConnection[Any],
        *,
        owner: Owner,
        content: BaseModel,
        tenant: str | None,
        current: dict[str, Any] | None,
    ) -> None:
        """Refuse the write with an ``ApiError`` (e.g. a reference the caller cannot see).
        ``current``: the stored record a replacement replaces (None: a new record)."""

    async def after(
        self,
        conn: AsyncConnection[Any],
        *,
        row: dict[str, Any],
        before: dict[str, Any] | None,
        actor: str,
        events: list[LiveEvent],
    ) -> dict[str, Any]:
        """The record as stored once the consequences of the write are applied (``before``:
        the record before a replacement, None for a new one); live events to publish after the
        commit go to ``events``."""
        return row


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
    # Columns the system sets (e.g. the ticket a finding opened), with their labels: exported
    # after the content, and on import either blank or what the record holds.
    derived: Mapping[str, str] = field(default_factory=dict)
    rules: WriteRules = field(default_factory=WriteRules)
    # The system columns of an imported row: a register whose status column holds the states
    # of its workflow names them, e.g. ``SystemColumns[MeasureState]``.
    head: type[SystemColumns[Any]] = SystemColumns[RecordStatus]
    # How an import's errors name one record ("no objective 12").
    record_name: str = "record"

    def __post_init__(self) -> None:
        fields = set(self.content.model_fields)
        assert set(self.labels) == fields, f"{self.name}: label every content field"
        assert self.title_column in fields and len(self.sheet) <= 31
        assert not fields & set(SYSTEM_COLUMNS), f"{self.name}: content names a system column"
        assert not set(self.derived) & (fields | set(SYSTEM_COLUMNS)), f"{self.name}: derived"
        for reminder in self.reminders:
            assert reminder.column in fields, f"{self.name}: no date column {reminder.column}"
            assert reminder.only_when is None or reminder.only_when[0] in fields

    @property
    def columns(self) -> tuple[str, ...]:
        """The XLSX columns, in order."""
        return (*SYSTEM_COLUMNS, *self.content.model_fields, *self.derived)

    def label(self, column: str) -> str:
        """A column's zh-CN / English label for the XLSX label row."""
        return SYSTEM_LABELS.get(column) or self.labels.get(column) or self.derived[column]
