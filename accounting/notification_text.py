"""The one-line summary of a notification (webhook payload ``summary``; the text a chat robot or
an e-mail leads with), in the park's language, from the one catalogue.

An alert's summary names the rule, the subject, measured against expected with its unit, the
window and the suggested cause of clause 9.1 b; a ticket's names its corrective-action state
(clause 10.1). Pure: the caller reads the park's language and time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from accounting import locale_format
from accounting.i18n import Lang, catalogue, translate

# Event types whose summary is one catalogue text filled from the payload's own fields.
_REMINDERS = (
    "context_issue.review_due",
    "interested_party.review_due",
    "objective.due",
    "measure.due",
    "calibration.due",
    "review_output.due",
    "document.review_due",
    "risk.review_due",
    "risk_action.review_due",
    "obligation.evaluation_due",
    "internal_audit.due",
)


def _term(prefix: str, code: object, lang: Lang) -> str:
    if code is None:
        return "–"
    texts = catalogue().get(f"{prefix}.{code}")
    return str(code) if texts is None else texts[lang]


def _when(text: object, lang: Lang, zone: tzinfo | None) -> str:
    if not isinstance(text, str) or not text:
        return "–"
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return locale_format.instant(at, lang, zone if at.tzinfo is not None else None)


def _day(data: Mapping[str, Any], lang: Lang) -> str:
    text = data.get("due_on")
    try:
        return locale_format.day(date.fromisoformat(str(text)), lang)
    except ValueError:
        return "–" if text is None else str(text)


def _subject(data: Mapping[str, Any], lang: Lang) -> str:
    kind = _term("subject", data.get("subject_kind"), lang)
    return f"{kind} {data.get('subject_id', '')}".strip()


def _figure(value: object, unit: object, lang: Lang) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if unit == "fraction":  # completeness and failure rates: a percentage reads at a glance
            return locale_format.percent(value, lang)
        return locale_format.quantity(value, str(unit or ""), lang, places=None).strip()
    return "–"


def summary(event_type: str, data: Mapping[str, Any], lang: Lang, zone: tzinfo | None) -> str:
    """The summary of one event in ``lang``; times in ``zone`` (the park's)."""
    if event_type in ("alert.opened", "alert.resolved"):
        alert = data.get("alert", {})
        params = {
            "rule": _term("rule", alert.get("rule"), lang),
            "subject": _subject(alert, lang),
            "measured": _figure(alert.get("measured"), alert.get("unit"), lang),
            "expected": _figure(alert.get("expected"), alert.get("unit"), lang),
            "window": _when(alert.get("window_start"), lang, zone),
            "cause": _term("cause", alert.get("cause"), lang),
            "ticket": data.get("ticket_id", "–"),
        }
        key = "notify.alert_opened" if event_type == "alert.opened" else "notify.alert_resolved"
        incident = data.get("incident")
        if event_type == "alert.opened" and isinstance(incident, Mapping):
            gateway = _subject(incident, lang)
            return translate("notify.incident_opened", lang, gateway=gateway, **params)
        return translate(key, lang, **params)
    if event_type == "ticket.opened":
        return translate(
            "notify.ticket_opened",
            lang,
            ticket=data.get("ticket_id", "–"),
            title=data.get("title", ""),
            subject=_subject(data, lang),
        )
    if event_type == "ticket.transitioned":
        return translate(
            "notify.ticket_transitioned",
            lang,
            ticket=data.get("ticket_id", "–"),
            subject=_subject(data, lang),
            before=_term("ticket_state", data.get("from_state"), lang),
            after=_term("ticket_state", data.get("to_state"), lang),
            actor=data.get("actor", ""),
        )
    if event_type == "ticket.overdue":
        return translate(
            "notify.ticket_overdue",
            lang,
            ticket=data.get("ticket_id", "–"),
            action=data.get("description", ""),
            owner=data.get("owner", ""),
            due=_when(data.get("due_at"), lang, zone),
        )
    if event_type in _REMINDERS:
        return translate(
            f"notify.{event_type}", lang, title=data.get("title", ""), due=_day(data, lang)
        )
    return translate(f"notify.{event_type}", lang)
