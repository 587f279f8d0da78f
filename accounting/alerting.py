"""De-duplication of deviation findings into alerts (clause 9.1 b): raise once, update, resolve.

An alert is one condition of one rule for one subject, observed on windows of one width (the
width is part of the key so the windows of a series stay in order: a 15-minute window must not
pass for a replay of a later 1-minute one). It is RAISED in the first window the rule holds,
UPDATED in each later window it still holds, and RESOLVED after ``resolve_after`` consecutive
windows without it. A key's state is one small record that serialises to JSON, so a stream
worker can keep it in a changelog-backed table. A window at or before the last one a key has
seen is a replay (or a late recomputation) and changes nothing: replays never raise twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from accounting.deviation import CauseCategory, Finding, Rule
from accounting.window_figures import SubjectKind, WindowFigures


class AlertState(StrEnum):
    RAISED = "RAISED"
    UPDATED = "UPDATED"
    RESOLVED = "RESOLVED"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """The state of one key. A key seen only clear has a record too: its last window is the
    replay guard, so a replayed clear window cannot be mistaken for a new one."""

    open: bool
    first_window_start_ms: int | None  # the open or last alert's first window: its identity
    last_window_start_ms: int  # the latest window this key has seen (the replay guard)
    clear_run: int  # consecutive windows without the condition, while open
    finding: Finding | None  # the latest window in which the condition held, if ever

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AlertRecord:
        finding = None
        if obj["finding"] is not None:
            f = dict(obj["finding"])
            f["rule"], f["cause"] = Rule(f["rule"]), CauseCategory(f["cause"])
            f["subject_kind"] = SubjectKind(f["subject_kind"])
            finding = Finding(**f)
        first = obj["first_window_start_ms"]
        return cls(
            bool(obj["open"]),
            None if first is None else int(first),
            int(obj["last_window_start_ms"]),
            int(obj["clear_run"]),
            finding,
        )


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One step of an alert's life, caused by the window [window_start_ms, window_end_ms)."""

    state: AlertState
    finding: Finding  # the latest window in which the condition held
    first_window_start_ms: int
    window_start_ms: int
    window_end_ms: int


def alert_key(rule: Rule, subject_kind: SubjectKind, subject_id: str, width_s: int) -> str:
    """The de-duplication key, as a string usable as a JSON or table key."""
    return f"{rule}|{subject_kind}|{subject_id}|{width_s}"


def step(
    record: AlertRecord | None,
    *,
    window_start_ms: int,
    window_end_ms: int,
    finding: Finding | None,
    resolve_after: int = 1,
) -> tuple[AlertRecord, AlertEvent | None]:
    """Apply one window to one key: ``finding`` is the rule's finding there, or None if clear.

    | before           | condition | after                    | event    |
    |------------------|-----------|--------------------------|----------|
    | none or resolved | holds     | open, starts here        | RAISED   |
    | open             | holds     | open, clear run 0        | UPDATED  |
    | open             | clear     | open, clear run + 1      | -        |
    | open             | clear     | resolved, at run N       | RESOLVED |
    | none or resolved | clear     | not open, last window    | -        |
    """
    if resolve_after < 1:
        raise ValueError(f"resolve_after must be >= 1, got {resolve_after}")
    if record is not None and window_start_ms <= record.last_window_start_ms:
        return record, None
    window = (window_start_ms, window_end_ms)
    if finding is not None:
        if record is None or not record.open or record.first_window_start_ms is None:
            new = AlertRecord(True, window_start_ms, window_start_ms, 0, finding)
            return new, AlertEvent(AlertState.RAISED, finding, window_start_ms, *window)
        first = record.first_window_start_ms
        new = AlertRecord(True, first, window_start_ms, 0, finding)
        return new, AlertEvent(AlertState.UPDATED, finding, first, *window)
    if record is None:
        return AlertRecord(False, None, window_start_ms, 0, None), None
    if not record.open or record.finding is None or record.first_window_start_ms is None:
        return dataclasses.replace(record, last_window_start_ms=window_start_ms), None
    run = record.clear_run + 1
    closed = run >= resolve_after
    new = dataclasses.replace(
        record, open=not closed, last_window_start_ms=window_start_ms, clear_run=run
    )
    if not closed:
        return new, None
    first = record.first_window_start_ms
    return new, AlertEvent(AlertState.RESOLVED, record.finding, first, *window)


class AlertTracker:
    """The records of many keys, for one worker (or a test); ``to_json`` is its whole state."""

    def __init__(
        self, *, resolve_after: int = 1, records: Mapping[str, AlertRecord] | None = None
    ) -> None:
        if resolve_after < 1:
            raise ValueError(f"resolve_after must be >= 1, got {resolve_after}")
        self.resolve_after = resolve_after
        self.records: dict[str, AlertRecord] = dict(records or {})

    def observe(
        self,
        figures: WindowFigures,
        findings: Sequence[Finding],
        *,
        rules: Iterable[Rule] = tuple(Rule),
    ) -> list[AlertEvent]:
        """Apply one evaluated window: ``findings`` are its findings, ``rules`` the rules that
        were evaluated (a rule evaluated without a finding counts as clear)."""
        here = (figures.subject_kind, figures.subject_id, figures.width_s, figures.window_start_ms)
        if any(
            (f.subject_kind, f.subject_id, f.width_s, f.window_start_ms) != here for f in findings
        ):
            raise ValueError(f"findings of another window than {here}")
        by_rule = {f.rule: f for f in findings}
        events: list[AlertEvent] = []
        for rule in dict.fromkeys([*rules, *by_rule]):
            key = alert_key(rule, figures.subject_kind, figures.subject_id, figures.width_s)
            before = self.records.get(key)
            after, event = step(
                before,
                window_start_ms=figures.window_start_ms,
                window_end_ms=figures.window_end_ms,
                finding=by_rule.get(rule),
                resolve_after=self.resolve_after,
            )
            self.records[key] = after
            if event is not None:
                events.append(event)
        return events

    def to_json(self) -> dict[str, Any]:
        return {
            "resolve_after": self.resolve_after,
            "records": {key: r.to_json() for key, r in self.records.items()},
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AlertTracker:
        records = {k: AlertRecord.from_json(v) for k, v in obj["records"].items()}
        return cls(resolve_after=int(obj["resolve_after"]), records=records)
