"""Notification summaries: one line per event in the park's language, from the catalogue; every
event type the outbox can carry has one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from accounting.i18n import Lang
from accounting.notification_text import summary
from api.webhooks.enums import EventType

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALERT = {
    "alert": {
        "rule": "EMISSIONS_ABOVE_TARGET",
        "subject_kind": "enterprise",
        "subject_id": "steel",
        "measured": 1234.5,
        "expected": 1000.0,
        "unit": "tCO2e",
        "window_start": "2026-12-04T16:00:00Z",
        "cause": "other",
    },
    "ticket_id": 42,
}


def test_an_alert_reads_in_chinese_with_the_standards_terms_and_local_time() -> None:
    assert summary("alert.opened", ALERT, Lang.ZH_CN, SHANGHAI) == (
        "告警：碳排放超出目标，企业 steel：测量值 1,234.5 吨二氧化碳当量，"
        "预期 1,000 吨二氧化碳当量（窗口起始 2026年12月5日 00:00）；可能原因：其他。工单 #42"
    )


def test_an_alert_reads_in_english() -> None:
    assert summary("alert.resolved", ALERT, Lang.EN, SHANGHAI) == (
        "Alert cleared: Emissions above target, enterprise steel: now 1,234.5 tCO2e against"
        " 1,000 tCO2e (window from 5 Dec 2026 00:00). Ticket #42"
    )


def test_a_ticket_transition_names_the_corrective_action_states() -> None:
    data = {
        "ticket_id": 9,
        "subject_kind": "meter",
        "subject_id": "m-1",
        "from_state": "cause_identified",
        "to_state": "action_in_progress",
        "actor": "duty:li",
    }
    assert summary("ticket.transitioned", data, Lang.ZH_CN, None) == (
        "工单 #9（能源计量器具 m-1）：已查明原因 → 纠正措施实施中，操作人 duty:li"
    )


@pytest.mark.parametrize("lang", list(Lang))
@pytest.mark.parametrize("kind", list(EventType))
def test_every_event_type_has_a_summary_even_with_fields_missing(
    kind: EventType, lang: Lang
) -> None:
    text = summary(kind.value, {}, lang, None)
    assert text and "{" not in text and "notify." not in text
