"""The one message catalogue of everything a person reads: the live page, the reports, the
Grafana dashboards and the alert and ticket notification texts, in English and in Simplified
Chinese (zh-CN).

The catalogue is data (``accounting/data/messages.csv``: key, en, zh-CN and, for a term, the
document and clause it is taken from); this module only reads it. Chinese terms are those of the
standard (clause 3 and the clause titles), GB/T 32150, GB 17167 and GB/T 2589, as listed in the
project glossary, so the page, the reports and the messages agree with the documents a park's
carbon office already works from (clause 7.4 communication, 7.5 documented information).

A key missing in either language, or a placeholder in one language and not in the other, stops
the load with ``DataFileError``: nothing is ever shown half translated.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Final

from accounting.datafile import DataFileError, package_text, parse_csv

FILENAME: Final = "messages.csv"
_COLUMNS = ("key", "en", "zh-CN", "term_source")
_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-zA-Z0-9_-]+)+$")


class Lang(StrEnum):
    """The languages every text is written in (BCP 47 tags, as Accept-Language sends them)."""

    EN = "en"
    ZH_CN = "zh-CN"


# A park in China reads Chinese unless it says otherwise (the park's ``language`` setting).
DEFAULT_LANG: Final = Lang.ZH_CN


class MissingMessageError(KeyError):
    """A key that is not in the catalogue: a programming error, never shown to a user."""


def _placeholders(text: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


@cache
def catalogue() -> Mapping[str, Mapping[Lang, str]]:
    """Every key of the packaged catalogue with its text in each language, in file order."""
    return parse_catalogue(package_text(FILENAME), FILENAME)


def parse_catalogue(text: str, filename: str) -> Mapping[str, Mapping[Lang, str]]:
    """The catalogue in ``text``; ``DataFileError`` names the line of a key missing a language,
    a duplicate key or placeholders that differ between the languages."""
    found: dict[str, Mapping[Lang, str]] = {}
    for row in parse_csv(text, filename, _COLUMNS):
        key = row.text("key")
        if not _KEY.match(key):
            raise row.fail("key", f"{key!r} is not a dotted lower-case key like page.title")
        if key in found:
            raise row.fail("key", f"{key!r} appears twice")
        texts = {lang: row.text(lang.value) for lang in Lang}
        expected = _placeholders(texts[Lang.EN])
        for lang, text in texts.items():
            try:
                names = _placeholders(text)
            except ValueError as exc:
                raise row.fail(lang.value, f"bad placeholder: {exc}") from None
            if names != expected:
                raise row.fail(
                    lang.value, f"placeholders {sorted(names)} differ from en {sorted(expected)}"
                )
        found[key] = MappingProxyType(texts)
    return MappingProxyType(found)


def parse_lang(text: str) -> Lang:
    """``en``, ``zh-CN`` (any case, ``_`` or ``-``; ``zh``, ``zh-Hans`` read as zh-CN)."""
    tag = text.strip().replace("_", "-").lower()
    if tag == "en" or tag.startswith("en-"):
        return Lang.EN
    if tag in ("zh", "zh-cn", "zh-hans", "zh-hans-cn", "zh-sg"):
        return Lang.ZH_CN
    raise ValueError(f"language {text!r} is not one of: {', '.join(lang.value for lang in Lang)}")


def negotiate(accept_language: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """The best of our languages for an Accept-Language header; nothing acceptable gives
    ``default`` (a request's choice, then the park's language, then zh-CN)."""
    chosen = preferred(accept_language)
    return default if chosen is None else chosen


def preferred(accept_language: str | None) -> Lang | None:
    """The best of our languages for an Accept-Language header (RFC 9110, 12.5.4): the highest
    q wins, the header's order breaks ties; None when it names none of ours."""
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        try:
            lang = parse_lang(tag)
        except ValueError:
            continue
        if quality > 0 and (best is None or (quality, -position) > (best[0], -best[1])):
            best = (quality, position, lang)
    return None if best is None else best[2]


def translate(key: str, lang: Lang | str, /, **params: object) -> str:
    """The text of ``key`` in ``lang`` with ``{name}`` placeholders filled from ``params``.

    Raises ``MissingMessageError`` for a key not in the catalogue and ``KeyError`` for a
    placeholder left without a value: a message is complete or not sent."""
    texts = catalogue().get(key)
    if texts is None:
        raise MissingMessageError(key)
    chosen = lang if isinstance(lang, Lang) else parse_lang(lang)
    text = texts[chosen]
    return text.format_map(params) if params else text


def messages(lang: Lang, *prefixes: str) -> dict[str, str]:
    """The texts of one language whose keys start with any of ``prefixes`` (all without)."""
    return {
        key: texts[lang]
        for key, texts in catalogue().items()
        if not prefixes or key.startswith(prefixes)
    }


__all__ = [
    "DEFAULT_LANG",
    "FILENAME",
    "DataFileError",
    "Lang",
    "MissingMessageError",
    "catalogue",
    "messages",
    "negotiate",
    "parse_catalogue",
    "parse_lang",
    "preferred",
    "translate",
]
