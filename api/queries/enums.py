"""Query vocabulary: bucket sizes and grouping dimensions of ``GET /v1/emissions``."""

from __future__ import annotations

from enum import StrEnum


class Bucket(StrEnum):
    MINUTE = "1m"
    QUARTER = "15m"
    HOUR = "1h"
    DAY = "1d"
    MONTH = "1mo"
    YEAR = "1y"


class GroupBy(StrEnum):
    PARK = "park"
    ENTERPRISE = "enterprise"
    SITE = "site"
    METER = "meter"
    SOURCE_CATEGORY = "source_category"
    ISO_CATEGORY = "iso_category"
    GAS = "gas"
    CARRIER = "carrier"
    FACTOR_KEY = "factor_key"  # the meter's factor series (e.g. a contractual instrument)


class CalibrationStatus(StrEnum):
    OK = "ok"
    DUE_SOON = "due_soon"  # within CALIBRATION_DUE_SOON_DAYS of the park's today
    OVERDUE = "overdue"
    UNKNOWN = "unknown"  # no calibration date in the registry


CALIBRATION_DUE_SOON_DAYS = 30


# Stored window width (s) that tiles each bucket, and how a bucket is cut. Sub-day buckets are
# fixed UTC steps; a day and longer follow the park's time zone (date_trunc in local time), so
# they are tiled by hour windows (whole-hour UTC offsets, e.g. Asia/Shanghai).
BUCKETS: dict[Bucket, tuple[int, str, str | None]] = {
    # bucket: (width_s, step interval, local date_trunc unit or None for a fixed UTC step)
    Bucket.MINUTE: (60, "1 minute", None),
    Bucket.QUARTER: (900, "15 minutes", None),
    Bucket.HOUR: (3600, "1 hour", None),
    Bucket.DAY: (3600, "1 day", "day"),
    Bucket.MONTH: (3600, "1 month", "month"),
    Bucket.YEAR: (3600, "1 year", "year"),
}
