"""Outcomes and reason codes of an EMS push, per reading (clause 8.4: nothing dropped silently)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # acknowledged by Kafka (acks=all) on readings.raw
    DUPLICATE = "duplicate"  # this (meter, time, value) was accepted before: not sent again
    REJECTED = "rejected"  # not sent; ``reason`` says why


class RejectReason(StrEnum):
    # A meter missing from the registry, or another tenant's (never revealed as such): a scope
    # deviation (clause 4.3), the worker's UNKNOWN_METER.
    UNKNOWN_METER = "UNKNOWN_METER"
    UNIT_MISMATCH = "UNIT_MISMATCH"  # not the registry's unit of the meter
    METER_RETIRED = "METER_RETIRED"  # read at or after the meter's retirement
    # Beyond the hard sanity bound (± years around now; always years 0001-9999 UTC): the
    # worker's TIMESTAMP_OUT_OF_RANGE, judged before FUTURE_TIMESTAMP and TOO_OLD.
    TIMESTAMP_OUT_OF_RANGE = "TIMESTAMP_OUT_OF_RANGE"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
    TOO_OLD = "TOO_OLD"  # a live push older than 31 days (history: push with mode=history)
    BEFORE_INSTALLATION = "BEFORE_INSTALLATION"  # history before the meter's installed_at
    # History before the park's inventory start (park.inventory_start, its local midnight).
    BEFORE_INVENTORY_START = "BEFORE_INVENTORY_START"
    # The same (meter, time) with another value: accepted before, or earlier in this batch.
    CONFLICTING_VALUE = "CONFLICTING_VALUE"


class PushMode(StrEnum):
    """``POST /v1/readings?mode=``: live readings, or an import of history (clause 6.3.1)."""

    LIVE = "live"  # within the live age limit (31 days), checked against the newest readings
    HISTORY = "history"  # any time from the meter's installed_at; fills gaps in stored history
