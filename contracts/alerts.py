"""The ``alerts`` topic record: one step (RAISED, UPDATED, RESOLVED) of a deviation alert (9.1 b).

``alert_id`` is a UUID derived from (rule, subject, window width, first window start), so a
replayed window produces the same id and the database upsert by id stays idempotent. Messages
are keyed by subject (ARCHITECTURE.md), so one subject's alerts stay in order. Decoding is
strict: anything but a complete, well-typed alert raises ``AlertDecodeError`` saying why.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Any

import orjson

from accounting.alerting import AlertEvent, AlertState
from accounting.deviation import CauseCategory, Rule
from accounting.window_figures import SubjectKind
from contracts.records import ms_to_iso, ts_to_ms

WIRE_VERSION = 1
# Fixed forever: changing it changes every alert id and breaks idempotence across versions.
_NAMESPACE = uuid.UUID("2b351950-40ba-49af-8927-ea0be244f170")


class AlertDecodeError(ValueError):
    """An ``alerts`` message that is not a complete, well-typed alert."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    alert_id: str
    rule: Rule
    subject_kind: SubjectKind
    subject_id: str
    enterprise_id: str | None
    width_s: int
    first_window_start_ms: int
    window_start_ms: int  # the window that caused this step
    window_end_ms: int
    measured: float
    expected: float
    unit: str
    tolerance: float
    cause: CauseCategory
    message: str
    state: AlertState
    raised_at_ms: int  # when this step was produced (processing time)


def alert_id(
    rule: Rule, subject_kind: SubjectKind, subject_id: str, width_s: int, first_window_start_ms: int
) -> str:
    """The deterministic id of the alert that started in window ``first_window_start_ms``."""
    name = f"{rule}|{subject_kind}|{subject_id}|{width_s}|{first_window_start_ms}"
    return str(uuid.uuid5(_NAMESPACE, name))


def alert_from_event(event: AlertEvent, *, raised_at_ms: int) -> Alert:
    f = event.finding
    return Alert(
        alert_id=alert_id(
            f.rule, f.subject_kind, f.subject_id, f.width_s, event.first_window_start_ms
        ),
        rule=f.rule,
        subject_kind=f.subject_kind,
        subject_id=f.subject_id,
        enterprise_id=f.enterprise_id,
        width_s=f.width_s,
        first_window_start_ms=event.first_window_start_ms,
        window_start_ms=event.window_start_ms,
        window_end_ms=event.window_end_ms,
        measured=f.measured,
        expected=f.expected,
        unit=f.unit,
        tolerance=f.tolerance,
        cause=f.cause,
        message=f.message,
        state=event.state,
        raised_at_ms=raised_at_ms,
    )


def alert_key(alert: Alert) -> bytes:
    """The Kafka message key: the subject, so a subject's alerts share a partition."""
    return f"{alert.subject_kind}:{alert.subject_id}".encode()


_TIMES = ("first_window_start", "window_start", "window_end", "raised_at")
_TEXTS = ("alert_id", "subject_id", "unit", "message")
_NUMBERS = ("measured", "expected", "tolerance")
_ENUMS: dict[str, type[Any]] = {
    "rule": Rule,
    "subject_kind": SubjectKind,
    "cause": CauseCategory,
    "state": AlertState,
}
_FIELDS = {"v", "enterprise_id", "width_s", *_TIMES, *_TEXTS, *_NUMBERS, *_ENUMS}


def encode_alert(alert: Alert) -> bytes:
    body: dict[str, Any] = {"v": WIRE_VERSION}
    for name in ("alert_id", "rule", "subject_kind", "subject_id", "enterprise_id", "width_s"):
        body[name] = getattr(alert, name)
    for name in _TIMES:
        body[name] = ms_to_iso(getattr(alert, f"{name}_ms"))
    for name in (*_NUMBERS, "unit", "cause", "message", "state"):
        body[name] = getattr(alert, name)
    return orjson.dumps(body)


def decode_alert(raw: bytes) -> Alert:
    """Inverse of :func:`encode_alert`; raises ``AlertDecodeError`` naming the first problem."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AlertDecodeError(f"alert is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise AlertDecodeError(f"alert must be a JSON object, got {type(obj).__name__}")
    if obj.get("v") != WIRE_VERSION:
        raise AlertDecodeError(f"unsupported alert version {obj.get('v')!r}, want {WIRE_VERSION}")
    missing, extra = _FIELDS - obj.keys(), obj.keys() - _FIELDS
    if missing or extra:
        raise AlertDecodeError(f"alert fields: missing {sorted(missing)}, unknown {sorted(extra)}")
    fields: dict[str, Any] = {}
    for name in _TEXTS:
        fields[name] = _field(obj, name, str, bool)
    for name in _NUMBERS:
        fields[name] = float(_field(obj, name, int | float, math.isfinite))
    for name, enum in _ENUMS.items():
        fields[name] = _parse(name, obj[name], enum)
    for name in _TIMES:
        fields[f"{name}_ms"] = _parse(name, _field(obj, name, str, lambda v: True), ts_to_ms)
    enterprise = obj["enterprise_id"]
    if enterprise is not None and not (isinstance(enterprise, str) and enterprise):
        raise AlertDecodeError(f"enterprise_id must be a non-empty string or null: {enterprise!r}")
    width = _field(obj, "width_s", int, lambda v: v > 0)
    _parse("alert_id", fields["alert_id"], uuid.UUID)
    alert = Alert(enterprise_id=enterprise, width_s=width, **fields)
    if not alert.first_window_start_ms <= alert.window_start_ms < alert.window_end_ms:
        raise AlertDecodeError("alert windows must satisfy first_start <= start < end")
    return alert


def _field(
    obj: dict[str, Any], name: str, kind: type[Any] | UnionType, ok: Callable[[Any], bool]
) -> Any:
    value = obj[name]
    # bool is an int in Python; a measured value is never "true".
    if isinstance(value, bool) or not isinstance(value, kind) or not ok(value):
        raise AlertDecodeError(f"alert field {name} is invalid: {value!r}")
    return value


def _parse(name: str, value: Any, parse: Callable[[Any], Any]) -> Any:
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise AlertDecodeError(f"alert field {name} is invalid: {value!r} ({exc})") from exc
