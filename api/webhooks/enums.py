"""Webhook event types, delivery states and attempt outcomes."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What a subscription can ask for; ``ping`` is what ``POST /v1/webhooks/{id}/ping`` sends."""

    ALERT_OPENED = "alert.opened"  # clause 9.1 b: a deviation needs attention
    ALERT_RESOLVED = "alert.resolved"
    TICKET_TRANSITIONED = "ticket.transitioned"  # clauses 9.4, 10.1: corrective action moved on
    TICKET_OVERDUE = "ticket.overdue"
    TICKET_OPENED = "ticket.opened"  # a nonconformity from an audit, evaluation, complaint...
    # Register reminders (api/registers/reminders.py): a review date has passed.
    CONTEXT_ISSUE_REVIEW_DUE = "context_issue.review_due"  # clause 4.1
    INTERESTED_PARTY_REVIEW_DUE = "interested_party.review_due"  # clause 4.2
    OBJECTIVE_DUE = "objective.due"  # clause 6.2: an active objective's due date
    MEASURE_DUE = "measure.due"  # clauses 6.2.2, 6.3: an open measure's planned end
    CALIBRATION_DUE = "calibration.due"  # clause 9.1 c: a meter's next calibration from the log
    REVIEW_OUTPUT_DUE = "review_output.due"  # clause 9.5.2: a management review output's due date
    DOCUMENT_REVIEW_DUE = "document.review_due"  # clause 7.3: the version in force's review
    RISK_REVIEW_DUE = "risk.review_due"  # clause 6.1: an open risk's next review
    RISK_ACTION_REVIEW_DUE = "risk_action.review_due"  # 6.1.3 b 2): effectiveness not reviewed
    OBLIGATION_EVALUATION_DUE = "obligation.evaluation_due"  # clauses 6.6, 9.2
    INTERNAL_AUDIT_DUE = "internal_audit.due"  # clause 9.3: planned end passed, not closed
    PING = "ping"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due now or at next_attempt_at
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # attempts exhausted, or the receiver answered 410 Gone


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    HTTP_ERROR = "http_error"  # any answer but 2xx and 410 (3xx too: redirects are not followed)
    NETWORK_ERROR = "network_error"  # refused, reset, timed out, name did not resolve
    GONE = "gone"  # 410: the receiver wants no more; the endpoint is disabled
    TARGET_REFUSED = "target_refused"  # the host now resolves to a forbidden address


class ChannelKind(StrEnum):
    """How a subscription is delivered (api/webhooks/senders.py has one sender per kind)."""

    STANDARD = "standard"  # Standard Webhooks 1.0.0: signed JSON to the subscriber's URL
    WECOM = "wecom"  # WeCom (企业微信) group robot: markdown, the key in the URL
    DINGTALK = "dingtalk"  # DingTalk (钉钉) custom robot, signed ("加签")
    FEISHU = "feishu"  # Feishu / Lark (飞书) custom bot, signed ("签名校验")
    EMAIL = "email"  # SMTP with STARTTLS or implicit TLS


class Language(StrEnum):
    """Languages of rendered notifications (the catalogue's zh-CN and en)."""

    ZH_CN = "zh-CN"
    EN = "en"
