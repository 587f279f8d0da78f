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


# The actor the history names for what the API does on its own.
CONSUMER_ACTOR = "system:alerts-consumer"
OVERDUE_ACTOR = "system:overdue-check"
