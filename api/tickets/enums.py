"""The ticket workflow's states and the kinds of history entry (clauses 9.4, 10.1)."""

from __future__ import annotations

from enum import StrEnum


class TicketState(StrEnum):
    """Where a corrective action stands: 10.1 a (react, contain) through 10.1 e (effective)."""

    OPEN = "open"
    CONTAINED = "contained"
    CAUSE_IDENTIFIED = "cause_identified"
    ACTION_IN_PROGRESS = "action_in_progress"
    EFFECTIVENESS_CHECK = "effectiveness_check"
    CLOSED = "closed"
    DISMISSED = "dismissed"  # a false positive: no nonconformity


FINAL_STATES = frozenset({TicketState.CLOSED, TicketState.DISMISSED})


class TicketKind(StrEnum):
    """Corrective: a nonconformity that happened (10.1). Preventive: a potential one (9.4)."""

    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"


class SourceKind(StrEnum):
    """Where a nonconformity was found; every kind but ``alert`` is opened through
    ``nonconformity.open_nonconformity`` (POST /v1/tickets or another register)."""

    ALERT = "alert"  # a deviation alert (9.1 b), opened by the alerts consumer
    INTERNAL_AUDIT = "internal_audit"  # 9.3
    COMPLIANCE_EVALUATION = "compliance_evaluation"  # 9.2
    COMPLAINT = "complaint"  # from an interested party (4.2)
    MANAGEMENT_REVIEW = "management_review"  # 9.5
    OBSERVATION = "observation"  # seen on site or in the records; its reference is optional


class HistoryEvent(StrEnum):
    OPENED = "opened"
    TRANSITION = "transition"
    OCCURRENCE = "occurrence"
    CONDITION_CLEARED = "condition_cleared"
    ACTION_ADDED = "action_added"
    ACTION_DONE = "action_done"
    ACTION_OVERDUE = "action_overdue"
    COMMENT_ADDED = "comment_added"
    LINK_ADDED = "link_added"


class WebhookEvent(StrEnum):
    """The event types this package puts in the webhook outbox."""

    ALERT_OPENED = "alert.opened"
    ALERT_RESOLVED = "alert.resolved"
    TICKET_TRANSITIONED = "ticket.transitioned"
    TICKET_OVERDUE = "ticket.overdue"
    TICKET_OPENED = "ticket.opened"


# The actor the history names for what the API does on its own.
CONSUMER_ACTOR = "system:alerts-consumer"
OVERDUE_ACTOR = "system:overdue-check"
