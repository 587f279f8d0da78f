"""Instants: the bounds a reading's time must lie in, and its text in UTC, over the whole range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.instants import (
    MAX_MS,
    MIN_MS,
    REPRESENTABLE,
    YEAR_MS,
    TimeBounds,
    TimestampOutOfRangeError,
    calendar_iso,
    iso_utc,
    parse_ms,
)
from accounting.reasons import Reason
from contracts.records import DecodeReason, ms_to_iso, ts_to_ms

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
REPRESENTABLE_MS = st.integers(min_value=MIN_MS, max_value=MAX_MS)
NOW = 1_767_225_600_000  # 2026-01-01T00:00Z


def test_the_representable_range_is_years_0001_to_9999_in_utc() -> None:
    assert iso_utc(MIN_MS) == "0001-01-01T00:00:00.000Z"
    assert iso_utc(MAX_MS) == "9999-12-31T23:59:59.999Z"
    assert iso_utc(MAX_MS + 1) == "+010000-01-01T00:00:00.000Z"
    assert iso_utc(MIN_MS - 1) == "+000000-12-31T23:59:59.999Z"
    assert iso_utc(MIN_MS - 367 * 86_400_000) == "-000001-12-31T00:00:00.000Z"


def test_years_below_1000_are_written_with_four_digits_and_read_back() -> None:
    ms = ts_to_ms("0999-03-04T05:06:07.089Z")
    assert ms_to_iso(ms) == "0999-03-04T05:06:07.089Z"
    assert ms_to_iso(ts_to_ms("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00.000Z"


def test_the_reviewed_timestamp_names_an_instant_past_9999_and_is_refused() -> None:
    text = "9999-12-31T23:59:59-23:59"
    assert parse_ms(text) == (MAX_MS - 999) + (23 * 60 + 59) * 60_000  # local time + 23:59
    assert iso_utc(parse_ms(text)) == "+010000-01-01T23:58:59.000Z"
    with pytest.raises(TimestampOutOfRangeError, match=r"\+010000-01-01T23:58:59.000Z"):
        ts_to_ms(text)
    with pytest.raises(TimestampOutOfRangeError):
        ts_to_ms("0001-01-01T00:00:00+00:01")  # 0000-12-31T23:59Z


def test_an_expanded_year_is_out_of_range_and_anything_else_unreadable_is_malformed() -> None:
    with pytest.raises(TimestampOutOfRangeError):
        parse_ms("+010000-01-01T00:00:00.000Z")
    for text in ("2026-13-01T00:00:00Z", "yesterday", "2026-01-01T00:00:00"):
        with pytest.raises(ValueError) as caught:
            parse_ms(text)
        assert not isinstance(caught.value, TimestampOutOfRangeError)


def test_the_sanity_bound_is_years_around_now_and_never_past_the_representable_range() -> None:
    bounds = TimeBounds.around(NOW, 100)
    assert iso_utc(bounds.lo_ms)[:10] == "1926-01-01" and iso_utc(bounds.hi_ms)[:10] == "2126-01-01"
    assert NOW - 100 * YEAR_MS in bounds and NOW - 100 * YEAR_MS - 1 not in bounds
    assert NOW + 100 * YEAR_MS in bounds and NOW + 100 * YEAR_MS + 1 not in bounds
    assert TimeBounds.around(NOW, 1000).lo_ms == NOW - 1000 * YEAR_MS
    assert TimeBounds.around(MAX_MS, 100).hi_ms == MAX_MS
    assert TimeBounds.around(MIN_MS, 100).lo_ms == MIN_MS
    with pytest.raises(TimestampOutOfRangeError, match=r"0500-01-01T00:00:00\.000Z"):
        ts_to_ms("0500-01-01T00:00:00Z", bounds)


def test_the_decoder_reason_is_the_quarantine_reason_bit_9() -> None:
    assert Reason.TIMESTAMP_OUT_OF_RANGE == 1 << 9
    assert Reason(1 << 9).name == DecodeReason.TIMESTAMP_OUT_OF_RANGE.value


@given(INT64)
def test_formatting_never_raises_and_always_writes_a_full_year(ms: int) -> None:
    text = iso_utc(ms)
    assert text == calendar_iso(ms) + "Z"
    year = text[: text.index("-", 1)]
    if MIN_MS <= ms <= MAX_MS:
        assert len(year) == 4 and year.isdigit()
    else:
        assert year[0] in "+-" and len(year) >= 7
    assert iso_utc(ms, millis=False) == text[:-5] + "Z"


@given(REPRESENTABLE_MS)
def test_every_representable_instant_round_trips_and_agrees_with_datetime(ms: int) -> None:
    text = ms_to_iso(ms)
    assert ts_to_ms(text) == ms
    assert parse_ms(text) == ms
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert text == moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + f".{ms % 1000:03d}Z"
    assert calendar_iso(ms) + "Z" == text


@given(INT64)
def test_an_instant_outside_the_range_is_refused_when_read_back(ms: int) -> None:
    if ms in REPRESENTABLE:
        assert ts_to_ms(ms_to_iso(ms)) == ms
    else:
        with pytest.raises(TimestampOutOfRangeError):
            ts_to_ms(ms_to_iso(ms))
