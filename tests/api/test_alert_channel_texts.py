"""The alert channels' pure parts: the per-channel send windows (delay, never drop), the
catalogue of notification texts (both languages, every event, rule, cause and ticket state:
a missing key fails here), and what each kind of subscription must and must not carry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from accounting.deviation import CauseCategory, Rule
from accounting.i18n import Lang, catalogue
from api.tickets.enums import TicketState
from api.webhooks import messages, ratelimit
from api.webhooks.enums import ChannelKind, EventType, Language
from api.webhooks.models import EndpointCreate

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _sent(*offsets_s: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in offsets_s]


def test_a_dingtalk_robots_21st_message_in_a_minute_waits_for_the_first_to_age_out() -> None:
    twenty = _sent(*range(20))  # one a second from T0
    assert (
        ratelimit.next_send_delay(ChannelKind.DINGTALK, twenty[:19], T0 + timedelta(seconds=19))
        == 0
    )
    delay = ratelimit.next_send_delay(ChannelKind.DINGTALK, twenty, T0 + timedelta(seconds=20))
    assert delay == 40.0  # the first send (T0) leaves the minute at T0 + 60 s
    assert ratelimit.next_send_delay(ChannelKind.DINGTALK, twenty, T0 + timedelta(seconds=60)) == 0


def test_wecom_is_20_a_minute_too() -> None:
    assert ratelimit.next_send_delay(ChannelKind.WECOM, _sent(*[0] * 20), T0) == 60.0


def test_feishu_is_5_a_second_and_100_a_minute() -> None:
    five = _sent(0, 0.1, 0.2, 0.3, 0.4)
    assert ratelimit.next_send_delay(
        ChannelKind.FEISHU, five, T0 + timedelta(seconds=0.5)
    ) == pytest.approx(0.5)
    hundred = _sent(*[i * 0.5 for i in range(100)])  # 2 a second, within the 5/s window
    delay = ratelimit.next_send_delay(ChannelKind.FEISHU, hundred, T0 + timedelta(seconds=50))
    assert delay == pytest.approx(10.0)


@pytest.mark.parametrize("kind", [ChannelKind.STANDARD, ChannelKind.EMAIL])
def test_standard_webhooks_and_email_have_no_limit_of_ours(kind: ChannelKind) -> None:
    assert ratelimit.next_send_delay(kind, _sent(*[0] * 1000), T0) == 0
    assert ratelimit.longest_window_s(kind) == 0


@pytest.mark.parametrize("language", list(Lang))
def test_every_event_rule_cause_and_ticket_state_has_its_text_in_the_one_catalogue(
    language: Lang,
) -> None:
    texts = catalogue()
    for prefix, codes in (
        ("channel.title", [e.value for e in EventType]),
        ("rule", [r.value for r in Rule]),
        ("cause", [c.value for c in CauseCategory]),
        ("ticket_state", [s.value for s in TicketState]),
    ):
        missing = [c for c in codes if not texts.get(f"{prefix}.{c}", {}).get(language)]
        assert missing == [], f"{prefix}: {missing}"


def _event(event_type: EventType) -> str:
    data = {
        "alert": {
            "rule": "UNKNOWN_METER",
            "cause": "accounting_scope_deviation",
            "subject_kind": "meter",
            "subject_id": "m-9",
            "window_start": "2025-03-01T08:00:00Z",
            "window_end": "2025-03-01T09:00:00Z",
            "measured": 1,
            "expected": 0,
            "unit": "1",
        },
        "ticket_id": 12,
        "ticket_opened": True,
        "state": "contained",
        "rule": "UNKNOWN_METER",
        "subject_kind": "meter",
        "subject_id": "m-9",
        "actor": "key:ops",
        "action_id": 3,
        "description": "replace the CT",
        "owner": "Li Wei",
        "due_at": "2025-03-02T00:00:00+08:00",
        "title": "Boundary review",
        "due_on": "2025-03-31",
        "requested_by": "key:ops",
    }
    return orjson.dumps({"type": event_type.value, "timestamp": "x", "data": data}).decode()


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_renders_in_every_language_without_leftover_template_syntax(
    event_type: EventType, language: Language
) -> None:
    note = messages.render(_event(event_type), language=language, public_url="https://ems.park.cn/")
    for text in (note.title, note.text):
        assert text and not re.search(r"[{}]", text)
    if language is Language.ZH_CN:
        assert re.search(r"[\u4e00-\u9fff]", note.title + note.text)
    about_registers = {
        EventType.CONTEXT_ISSUE_REVIEW_DUE,
        EventType.INTERESTED_PARTY_REVIEW_DUE,
        EventType.PING,
    }
    if event_type not in about_registers:
        assert note.link == "https://ems.park.cn/v1/tickets/12"


def test_the_default_language_is_chinese_with_the_standards_terms() -> None:
    note = messages.render(_event(EventType.ALERT_OPENED), language=None, public_url="http://x")
    assert note.title == "【告警】" + catalogue()["rule.UNKNOWN_METER"][Lang.ZH_CN]
    assert "可能原因：核算边界偏差" in note.text and "工单 #12" in note.text
    assert note.link_label == catalogue()["channel.open_ticket"][Lang.ZH_CN]


def _create(**kw: Any) -> EndpointCreate:
    return EndpointCreate.model_validate(
        {"url": "https://x.example/h", "event_types": ["ping"], **kw}
    )


def test_signed_robots_need_their_secret() -> None:
    for kind in ("dingtalk", "feishu"):
        with pytest.raises(ValidationError, match="signing secret"):
            _create(kind=kind)
        assert _create(kind=kind, secret="SECabc").secret == "SECabc"


def test_standard_and_wecom_take_no_secret_and_email_needs_recipients() -> None:
    with pytest.raises(ValidationError, match="generated"):
        _create(secret="whsec_x")
    with pytest.raises(ValidationError, match="key is in the URL"):
        _create(kind="wecom", secret="x")
    with pytest.raises(ValidationError, match="only for, kind email"):
        _create(kind="email", url="smtp://mail.park.cn")
    with pytest.raises(ValidationError, match="not e-mail addresses"):
        _create(
            kind="email", url="smtp://m.cn", email={"sender": "a@b.cn", "recipients": ["nobody"]}
        )
