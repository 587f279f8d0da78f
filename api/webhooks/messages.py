"""Notifications for people: an event rendered as a title, a text and a link to its ticket, in
the subscription's language, from the catalogue in ``api/webhooks/templates/`` (one YAML file
per language, the same keys in each).

Robots and e-mail get these texts; Standard Webhooks subscribers get the JSON event itself. The
texts are rendered when a delivery is attempted, from the stored event, so a message is the
same on every retry. Missing data renders as an empty field rather than failing the delivery
(an old event may lack a field a newer template names); an unknown event type, rule or key in
the catalogue is an error the catalogue tests catch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from jinja2 import ChainableUndefined
from jinja2.sandbox import SandboxedEnvironment

from api.webhooks.enums import Language

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_LANGUAGE = Language.ZH_CN  # the park's default until a park chooses another
SECTIONS = ("events", "labels", "rules", "causes", "states")

# Sandboxed: templates are data; ChainableUndefined: data.alert.x of an event without "alert"
# renders empty. No autoescape: the output is markdown or plain text, not HTML.
_ENV = SandboxedEnvironment(
    undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False
)


@dataclass(frozen=True, slots=True)
class Notification:
    title: str
    text: str  # plain lines, no markup
    link: str | None  # the ticket, when the event concerns one
    link_label: str
    footer: str


@functools.cache
def catalogue(language: Language) -> dict[str, dict[str, Any]]:
    """The texts of one language, as the YAML file has them."""
    loaded = yaml.safe_load((TEMPLATES / f"{language.value}.yaml").read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{language.value}.yaml: not a mapping")
    return loaded


def ticket_link(public_url: str, data: dict[str, Any]) -> str | None:
    ticket_id = data.get("ticket_id")
    if ticket_id is None:
        return None
    return f"{public_url.rstrip('/')}/v1/tickets/{ticket_id}"


def _name(names: dict[str, Any], code: str) -> str:
    """The catalogue's name of a code; the code itself when the catalogue does not know it (a
    rule added since: the message still goes out, and the catalogue test flags the gap)."""
    return str(names.get(code, code))


def render(event_body: str, *, language: Language | None, public_url: str) -> Notification:
    """The notification of one stored event (the Standard Webhooks JSON body)."""
    event = orjson.loads(event_body)
    texts = catalogue(language or DEFAULT_LANGUAGE)
    data: dict[str, Any] = event.get("data") or {}
    alert = data.get("alert") or {}
    rule = str(alert.get("rule") or data.get("rule") or "")
    cause = str(alert.get("cause") or "")
    state = str(data.get("state") or data.get("ticket_state") or "")
    names = {
        "rule": _name(texts["rules"], rule),
        "cause": _name(texts["causes"], cause),
        "state": _name(texts["states"], state),
    }
    template = texts["events"][event["type"]]  # KeyError: the catalogue lacks the event type
    context = {"data": data, **names}
    return Notification(
        title=_ENV.from_string(template["title"]).render(context).strip(),
        text=_ENV.from_string(template["body"]).render(context).strip(),
        link=ticket_link(public_url, data),
        link_label=texts["labels"]["open_ticket"],
        footer=texts["labels"]["footer"],
    )
