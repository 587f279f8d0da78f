"""Per-channel send limits that delay a notification, never drop it.

Group robots refuse messages sent faster than they allow, and a refused message would only be
retried later anyway; so the dispatcher asks, before it sends, when the next send may go
(``next_send_delay``) and, if that is in the future, puts the delivery back until then without
counting an attempt. The limits are the services' own:

- DingTalk custom robot: 20 messages a minute per robot ("每个机器人每分钟最多发送20条消息",
  DingTalk Open Platform, 自定义机器人发送群消息 / 消息发送频率限制, 2024); beyond it the robot
  answers errcode 130101 and is throttled for 10 minutes.
- WeCom group robot: 20 messages a minute per robot ("每个机器人发送的消息不能超过20条/分钟",
  WeCom developer documentation, 群机器人配置说明, 2024); beyond it errcode 45009.
- Feishu custom bot: 100 a minute and 5 a second per bot ("100 次/分钟，5 次/秒", Feishu Open
  Platform, 自定义机器人使用指南 / 使用限制, 2024); beyond it code 9499 (too many requests).

Standard Webhooks and e-mail have no limit of ours (the subscriber's server decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from api.webhooks.enums import ChannelKind


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` sends within any ``seconds``."""

    count: int
    seconds: float


LIMITS: dict[ChannelKind, tuple[Window, ...]] = {
    ChannelKind.DINGTALK: (Window(20, 60.0),),
    ChannelKind.WECOM: (Window(20, 60.0),),
    ChannelKind.FEISHU: (Window(100, 60.0), Window(5, 1.0)),
}


def longest_window_s(kind: ChannelKind) -> float:
    """How far back the sends that matter for ``kind`` go (0: no limit)."""
    return max((w.seconds for w in LIMITS.get(kind, ())), default=0.0)


def next_send_delay(kind: ChannelKind, sent_at: Iterable[datetime], now: datetime) -> float:
    """Seconds until one more send to a channel of ``kind`` keeps within every window, given
    the times of the sends so far (any order); 0 when it may go now."""
    windows = LIMITS.get(kind, ())
    if not windows:
        return 0.0
    recent: Sequence[datetime] = sorted(sent_at, reverse=True)  # newest first
    delay = 0.0
    for window in windows:
        # With count sends inside the window, the next may go once the oldest of the newest
        # `count` sends has left it.
        if len(recent) < window.count:
            continue
        oldest_counted = recent[window.count - 1]
        free_at = oldest_counted + timedelta(seconds=window.seconds)
        delay = max(delay, (free_at - now).total_seconds())
    return max(delay, 0.0)
