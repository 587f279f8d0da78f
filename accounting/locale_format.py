"""Numbers, dates, times and units written for a reader's language: the one place the reports,
the dashboards and the notification texts format a figure (the live page's ``fmt.js`` follows
the same rules in the browser).

Both languages group thousands with "," and use "." for the decimal point, as Chinese offices
do (GB/T 15835 writes numbers in Arabic digits); dates are ``2026年12月4日`` in zh-CN and
``4 Dec 2026`` in en; times are 24-hour ``14:05``. Units come from the catalogue (``unit.*``:
tCO2e is 吨二氧化碳当量, tce 吨标准煤, as the glossary gives them); a unit the catalogue does
not name is shown as the API wrote it.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal

from accounting.i18n import Lang, catalogue

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def number(value: float | int | Decimal, lang: Lang, places: int | None = 3) -> str:
    """``value`` with thousands grouped and ``places`` decimals (None: as many as it has,
    trailing zeros trimmed); the same digits in both languages."""
    if places is None:
        text = format(Decimal(str(value)).normalize(), ",f")
        return text if "." not in text else text.rstrip("0").rstrip(".")
    return f"{value:,.{places}f}"


def unit(name: str, lang: Lang) -> str:
    """The unit as the reader's language writes it: ``unit.<name>`` in the catalogue (spaces
    in the name as ``_``: ``d past due`` is ``unit.d_past_due``)."""
    texts = catalogue().get(f"unit.{name.replace(' ', '_')}")
    return name if texts is None else texts[lang]


def quantity(
    value: float | int | Decimal | None, name: str, lang: Lang, places: int | None = 3
) -> str:
    """A figure and its unit; no figure is "–" in both languages."""
    if value is None:
        return "–"
    return f"{number(value, lang, places)} {unit(name, lang)}"


def percent(share: float | Decimal | None, lang: Lang, places: int = 1) -> str:
    """A share 0..1 as a percentage: ``91.7 %`` (en, SI spacing), ``91.7%`` (zh-CN)."""
    if share is None:
        return "–"
    shown = f"{float(share) * 100:.{places}f}"
    return f"{shown}%" if lang is Lang.ZH_CN else f"{shown} %"


def day(value: date, lang: Lang) -> str:
    """``2026年12月4日`` (zh-CN) or ``4 Dec 2026`` (en)."""
    if lang is Lang.ZH_CN:
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def month(value: date, lang: Lang) -> str:
    """``2026年12月`` (zh-CN) or ``Dec 2026`` (en)."""
    if lang is Lang.ZH_CN:
        return f"{value.year}年{value.month}月"
    return f"{_MONTHS_EN[value.month - 1]} {value.year}"


def instant(value: datetime, lang: Lang, zone: tzinfo | None = None) -> str:
    """A day and a 24-hour time, in ``zone`` when given (an aware ``value`` is required then)."""
    local = value.astimezone(zone) if zone is not None else value
    return f"{day(local.date(), lang)} {local:%H:%M}"


def yes_no(flag: bool, lang: Lang) -> str:
    texts = catalogue()["common.yes" if flag else "common.no"]
    return texts[lang]
