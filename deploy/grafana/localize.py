"""The dashboards in each language from the same builders: the builders write English, and this
pass gives every dashboard a twin per language (uid ``-en`` / ``-zh``) whose titles,
descriptions, variable labels, column headers and SQL text values come from the one catalogue
(``accounting.i18n``, keys ``grafana.*``, found by their English text).

The SQL is the same in both languages (so one set of query checks covers both): a column's
header is renamed by a ``displayName`` override, a text value such as 'Today' by a value
mapping. A text with no catalogue entry stops the build (``MissingMessageError``), so no
dashboard is ever half translated.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from accounting.i18n import Lang, MissingMessageError, catalogue

SUFFIX: Mapping[Lang, str] = {Lang.EN: "en", Lang.ZH_CN: "zh"}
_ALIAS = re.compile(r'AS "([^"]+)"')
_LITERAL = re.compile(r"'([A-Z][a-z][A-Za-z ]*)'")


@cache
def _by_english() -> Mapping[str, Mapping[Lang, str]]:
    return {
        texts[Lang.EN]: texts for key, texts in catalogue().items() if key.startswith("grafana.")
    }


def text(english: str, lang: Lang) -> str:
    """``english`` (a dashboard text the builders wrote) in ``lang``."""
    found = _by_english().get(english)
    if found is None:
        raise MissingMessageError(f"no grafana.* catalogue entry whose en text is {english!r}")
    return found[lang]


def localized_uid(uid: str, lang: Lang) -> str:
    return f"{uid}-{SUFFIX[lang]}"


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows keep theirs inside


def localize(model: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """A copy of the dashboard ``model`` in ``lang``, with a link to its other languages."""
    out: dict[str, Any] = copy.deepcopy(dict(model))
    uid = str(out["uid"])
    out["uid"] = localized_uid(uid, lang)
    out["title"] = text(out["title"], lang)
    if out.get("description"):
        out["description"] = text(out["description"], lang)
    out["tags"] = [*out.get("tags", []), f"lang:{lang.value}"]
    out["links"] = [
        *out.get("links", []),
        *(
            {
                "title": catalogue()[f"lang.{other.value}"][other],
                "type": "link",
                "url": f"/d/{localized_uid(uid, other)}",
                "icon": "doc",
                "tooltip": catalogue()["common.language"][lang],
            }
            for other in Lang
            if other is not lang
        ),
    ]
    for variable in out.get("templating", {}).get("list", []):
        if variable.get("label"):
            variable["label"] = text(variable["label"], lang)
    for panel in _panels(out.get("panels", [])):
        _panel(panel, lang)
    return out


def _panel(panel: dict[str, Any], lang: Lang) -> None:
    if panel.get("title"):
        panel["title"] = text(panel["title"], lang)
    if panel.get("description"):
        panel["description"] = text(panel["description"], lang)
    sql = "\n".join(str(t.get("rawSql", "")) for t in panel.get("targets", []))
    if not sql:
        return
    field_config = panel.setdefault("fieldConfig", {})
    defaults = field_config.setdefault("defaults", {})
    overrides = field_config.setdefault("overrides", [])
    for alias in dict.fromkeys(_ALIAS.findall(sql)):
        if not any(c.isalpha() for c in alias):
            continue  # a number (an hour "07") reads the same in every language
        shown = text(alias, lang)
        if shown != alias:
            overrides.append(
                {
                    "matcher": {"id": "byName", "options": alias},
                    "properties": [{"id": "displayName", "value": shown}],
                }
            )
    values = {
        literal: {"text": text(literal, lang)}
        for literal in dict.fromkeys(_LITERAL.findall(sql))
        if literal in _by_english() and text(literal, lang) != literal
    }
    if values:
        mappings = defaults.setdefault("mappings", [])
        mappings.append({"type": "value", "options": values})
