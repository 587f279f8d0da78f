"""The message catalogue: every key in both languages with the same placeholders, every key the
code, the page and the templates ask for present, the standard's terms as the glossary gives
them, and Accept-Language read as RFC 9110 says."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from accounting import locale_format as fmt
from accounting.alerting import AlertState
from accounting.datafile import DataFileError
from accounting.deviation import CauseCategory, Rule
from accounting.i18n import (
    Lang,
    MissingMessageError,
    catalogue,
    negotiate,
    parse_catalogue,
    parse_lang,
    translate,
)
from accounting.reasons import Reason
from accounting.window_figures import SubjectKind
from api.tickets.enums import HistoryEvent, TicketState

ROOT = Path(__file__).resolve().parents[2]
HEADER = "key,en,zh-CN,term_source\n"
# How code asks for a message: translate("k" / tr("k" in Python and Jinja, t("k" in the page's
# scripts, data-i18n="k" (and its -title/-aria variants) in its HTML. A key built at run time
# (rule.{name}) is checked through the enumeration it comes from, below.
LOOKUPS = {
    ".py": re.compile(r"""\b(?:translate|tr)\(\s*["']([a-z][\w.-]+)["']"""),
    ".js": re.compile(r"""\bt\(\s*["']([a-z][\w.-]+)["']"""),
    ".html": re.compile(r"""data-i18n(?:-[a-z]+)?=["']([a-z][\w.-]+)["']"""),
}
SCANNED = ("accounting", "api", "deploy", "stream", "store", "cli")


def used_keys() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*")):
            pattern = LOOKUPS.get(path.suffix)
            if pattern is None or not path.is_file():
                continue
            for key in pattern.findall(path.read_text(encoding="utf-8")):
                found.setdefault(key, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_key_the_code_the_page_and_the_templates_use_is_in_the_catalogue() -> None:
    used = used_keys()
    assert len(used) > 50, "the scan found too few lookups: are the patterns still right?"
    # A key ending in "." is a prefix completed at run time ("report.col." ~ column): the
    # enumeration tests below check each of its keys.
    fixed = {key: where for key, where in used.items() if not key.endswith(".")}
    missing = {key: where for key, where in fixed.items() if key not in catalogue()}
    assert missing == {}


def test_the_scan_sees_a_key_that_is_not_in_the_catalogue(tmp_path: Path) -> None:
    # The scanner itself: a lookup of an unknown key in each kind of file is found.
    samples = {
        ".py": 'x = translate("page.nowhere", lang)',
        ".js": 'el.textContent = t("page.nowhere");',
        ".html": '<h2 data-i18n="page.nowhere">x</h2>',
    }
    for suffix, text in samples.items():
        assert LOOKUPS[suffix].findall(text) == ["page.nowhere"]
    assert "page.nowhere" not in catalogue()


@pytest.mark.parametrize(
    ("enumeration", "prefix"),
    [
        (Rule, "rule"),
        (CauseCategory, "cause"),
        (AlertState, "alert_state"),
        (SubjectKind, "subject"),
        (TicketState, "ticket_state"),
        (HistoryEvent, "event"),
    ],
)
def test_every_member_of_an_enumeration_shown_to_people_has_its_text(
    enumeration: type[StrEnum], prefix: str
) -> None:
    missing = [m.value for m in enumeration if f"{prefix}.{m.value}" not in catalogue()]
    assert missing == []


def test_every_validation_reason_has_its_text() -> None:
    names = [m.name for m in Reason if m.name is not None]
    assert [n for n in names if f"reason.{n}" not in catalogue()] == []


def test_a_key_missing_in_either_language_stops_the_load_with_its_line() -> None:
    with pytest.raises(DataFileError, match=r"m.csv:3: field 'zh-CN': is empty"):
        parse_catalogue(HEADER + "page.a,A,甲,\npage.b,B,,\n", "m.csv")
    with pytest.raises(DataFileError, match=r"m.csv:2: field 'en': is empty"):
        parse_catalogue(HEADER + "page.a,,甲,\n", "m.csv")


def test_a_placeholder_in_one_language_only_stops_the_load() -> None:
    with pytest.raises(DataFileError, match=r"placeholders \[\] differ from en \['n'\]"):
        parse_catalogue(HEADER + "page.a,{n} meters,台,\n", "m.csv")


def test_a_duplicate_or_malformed_key_stops_the_load() -> None:
    with pytest.raises(DataFileError, match="appears twice"):
        parse_catalogue(HEADER + "page.a,A,甲,\npage.a,A,甲,\n", "m.csv")
    with pytest.raises(DataFileError, match="not a dotted lower-case key"):
        parse_catalogue(HEADER + "Title,A,甲,\n", "m.csv")


def test_the_packaged_catalogue_loads_and_has_both_languages_for_every_key() -> None:
    for key, texts in catalogue().items():
        assert set(texts) == set(Lang), key
        assert all(texts[lang].strip() for lang in Lang), key


@pytest.mark.parametrize(
    ("key", "zh"),
    [
        ("rule.EMISSIONS_ABOVE_TARGET", "碳排放"),
        ("page.col_meters", "能源计量器具"),
        ("cause.methodology_missing_or_misused", "核算方法"),
        ("page.col_intensity", "碳排放强度"),
        ("unit.tCO2e", "吨二氧化碳当量"),
        ("unit.tce", "吨标准煤"),
        ("page.col_completeness", "完整性"),
        ("page.targets_caption", "碳管理目标"),
        ("ticket_state.action_in_progress", "纠正措施"),
    ],
)
def test_chinese_texts_use_the_terms_of_the_standard(key: str, zh: str) -> None:
    assert zh in translate(key, Lang.ZH_CN)


def test_translate_fills_placeholders_and_refuses_an_unknown_key_or_a_missing_value() -> None:
    assert translate("page.q_overdue_of", "zh-CN", overdue=2, meters=9) == "共 9 台，逾期 2 台"
    assert translate("page.q_overdue_of", Lang.EN, overdue=2, meters=9) == "2 of 9 meters"
    with pytest.raises(MissingMessageError):
        translate("page.nowhere", Lang.EN)
    with pytest.raises(KeyError, match="meters"):
        translate("page.q_overdue_of", Lang.EN, overdue=2)
    with pytest.raises(ValueError, match="not one of"):
        translate("page.title", "fr")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", Lang.ZH_CN),
        ("en-US,en;q=0.9", Lang.EN),
        ("fr-FR, en;q=0.5, zh-Hans;q=0.7", Lang.ZH_CN),  # the highest q we have wins
        ("en;q=0.7, zh;q=0.7", Lang.EN),  # a tie: the header's order
        ("zh-CN;q=0, en;q=0.1", Lang.EN),  # q=0 is "not acceptable"
        ("fr, de", Lang.ZH_CN),  # nothing we have: the default
        ("", Lang.ZH_CN),
        (None, Lang.ZH_CN),
        ("en;q=abc", Lang.ZH_CN),  # an unreadable q is no preference
    ],
)
def test_accept_language_chooses_the_language(header: str | None, expected: Lang) -> None:
    assert negotiate(header) is expected


def test_the_default_for_accept_language_can_be_the_parks_own() -> None:
    assert negotiate("fr", default=Lang.EN) is Lang.EN


def test_language_tags_are_read_case_and_separator_blind() -> None:
    assert parse_lang("ZH_cn") is Lang.ZH_CN and parse_lang("en-GB") is Lang.EN
    with pytest.raises(ValueError, match="'ja' is not one of: en, zh-CN"):
        parse_lang("ja")


def test_numbers_dates_and_units_are_written_for_the_locale() -> None:
    assert fmt.quantity(12345.6789, "tCO2e", Lang.ZH_CN) == "12,345.679 吨二氧化碳当量"
    assert fmt.quantity(12345.6789, "tCO2e", Lang.EN) == "12,345.679 tCO2e"
    assert fmt.quantity(Decimal("1500.2500"), "tce", Lang.ZH_CN, None) == "1,500.25 吨标准煤"
    assert fmt.quantity(None, "tce", Lang.EN) == "–"
    assert fmt.quantity(3, "m3", Lang.ZH_CN, 0) == "3 m3"  # a unit the catalogue has not: as is
    assert fmt.day(date(2026, 12, 4), Lang.ZH_CN) == "2026年12月4日"
    assert fmt.day(date(2026, 12, 4), Lang.EN) == "4 Dec 2026"
    assert fmt.month(date(2026, 3, 1), Lang.ZH_CN) == "2026年3月"
    assert fmt.percent(0.9167, Lang.ZH_CN) == "91.7%"
    assert fmt.percent(0.9167, Lang.EN) == "91.7 %"
    at = datetime(2026, 12, 4, 6, 5, tzinfo=UTC)
    assert fmt.instant(at, Lang.ZH_CN, ZoneInfo("Asia/Shanghai")) == "2026年12月4日 14:05"
    assert fmt.yes_no(True, Lang.ZH_CN) == "是"


def _fields(item: type) -> tuple[str, ...]:
    """A report table's columns: its item's fields, or ``value`` for a list of plain values
    (as api.reports.tables lays them out)."""
    import dataclasses

    from pydantic import BaseModel

    if dataclasses.is_dataclass(item):
        return tuple(f.name for f in dataclasses.fields(item))
    if isinstance(item, type) and issubclass(item, BaseModel):
        return tuple(item.model_fields)
    return ("value",)


def _report_tables_and_columns() -> tuple[set[str], set[str]]:
    """Every table and column the reports' HTML can show (the tables of api.reports.tables)."""
    import typing

    from pydantic import BaseModel

    from api.reports.models import InventoryReport, ReviewReport

    names: set[str] = set()
    columns: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for field, info in model.model_fields.items():
            annotation, key = info.annotation, prefix + field
            args = typing.get_args(annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{key}.")
            elif typing.get_origin(annotation) is dict:
                names.add(key.replace(".", "_"))
                columns.update(("key", "value"))
            elif typing.get_origin(annotation) is list and args != (str,):
                names.add(key.replace(".", "_")[:31])
                columns.update(_fields(args[0]))

    walk(InventoryReport, "")
    walk(ReviewReport, "")
    return names, columns


def test_every_table_and_column_of_the_reports_has_its_heading() -> None:
    names, columns = _report_tables_and_columns()
    assert len(names) > 15 and len(columns) > 50
    assert sorted(n for n in names if f"report.table.{n}" not in catalogue()) == []
    assert sorted(c for c in columns if f"report.col.{c}" not in catalogue()) == []
