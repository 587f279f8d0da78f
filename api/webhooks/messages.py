"""Notifications for people: an event rendered as a title, a text and a link to its ticket, in
the subscription's language, from the one catalogue (``accounting/data/messages.csv``): the title
is ``channel.title.<event type>``, the text the event's summary (``notify.*``, the same sentence
a Standard Webhooks payload carries in ``summary``), the link label and footer ``channel.*``.

Robots and e-mail get these texts; Standard Webhooks subscribers get the JSON event itself. The
texts are rendered when a delivery is attempted, from the stored event, so a message is the
same on every retry. Missing data renders as an empty field rather than failing the delivery
(an old event may lack a field); an event type without a title in the catalogue is an error the
catalogue tests catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from accounting.i18n import Lang, catalogue, translate
from accounting.notification_text import summary
from api.webhooks.enums import Language

DEFAULT_LANGUAGE = Language.ZH_CN  # the park's default until a park chooses another


@dataclass(frozen=True, slots=True)
class Notification:
    title: str
    text: str  # plain lines, no markup
    link: str | None  # the ticket, when the event concerns one
    link_label: str
    footer: str


def ticket_link(public_url: str, data: dict[str, Any]) -> str | None:
    ticket_id = data.get("ticket_id")
    if ticket_id is None:
        return None
    return f"{public_url.rstrip('/')}/v1/tickets/{ticket_id}"


def _name(prefix: str, code: str, lang: Lang) -> str:
    """The catalogue's name of a code; the code itself when the catalogue does not know it (a
    rule added since: the message still goes out, and the catalogue test flags the gap)."""
    texts = catalogue().get(f"{prefix}.{code}")
    return code if texts is None else texts[lang]


def render(event_body: str, *, language: Language | None, public_url: str) -> Notification:
    """The notification of one stored event (the Standard Webhooks JSON body)."""
    event = orjson.loads(event_body)
    lang = Lang((language or DEFAULT_LANGUAGE).value)
    data: dict[str, Any] = event.get("data") or {}
    alert = data.get("alert") or {}
    rule = str(alert.get("rule") or data.get("rule") or "")
    state = str(data.get("to_state") or data.get("state") or data.get("ticket_state") or "")
    kind = str(event["type"])
    title = translate(  # MissingMessageError: the catalogue lacks the event type
        f"channel.title.{kind}",
        lang,
        rule=_name("rule", rule, lang),
        state=_name("ticket_state", state, lang),
        ticket=data.get("ticket_id", ""),
        title=data.get("title", ""),
    )
    return Notification(
        title=title,
        text=summary(kind, data, lang, None),
        link=ticket_link(public_url, data),
        link_label=translate("channel.open_ticket", lang),
        footer=translate("channel.footer", lang),
    )
