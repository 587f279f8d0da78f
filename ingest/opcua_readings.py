"""OPC UA DataValues to raw readings: quality, timestamp, sequence number and clock skew.

Rules (issue 4, "timestamps and identity"):
- the reading's time is the DataValue's SourceTimestamp, else its ServerTimestamp, else the
  gateway's receive time;
- a Bad StatusCode (or a value that is not a finite number) becomes a BAD reading with a NaN
  value, flagged rather than dropped; Uncertain becomes UNCERTAIN;
- every reading of one source gets the next number of a per-source monotonic sequence;
- a device clock that differs from the server's clock, or runs ahead of the gateway's, by more
  than the threshold is counted and logged once per change of state; the reading is still kept
  with the device's time. (A device clock running behind on a server that sends no
  ServerTimestamp cannot be told apart from an old, unchanged value, so it goes unflagged.)
- a time outside the hard bound (``accounting.instants``: ± ``timestamp_bound_years`` around
  the gateway's clock; OPC UA's DateTime MinValue 1601-01-01 and MaxValue 9999-12-31 among them,
  OPC 10000-6 5.2.2.5) is counted and logged once per change of state and sent on as stamped:
  the worker quarantines it as TIMESTAMP_OUT_OF_RANGE with its text, so nothing is lost and no
  time is made up for it.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from accounting.instants import DEFAULT_BOUND_YEARS, TimeBounds
from contracts.records import Quality, RawReading, ms_to_iso
from ingest.metrics import GatewayMetrics
from ingest.opcua_config import OpcUaPoint

_log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:  # asyncua decodes UTC DateTime values, sometimes naive
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MS


_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def quality_of(status: ua.StatusCode | None) -> Quality:
    if status is None or status.is_good():
        return Quality.GOOD
    return Quality.BAD if status.is_bad() else Quality.UNCERTAIN


def _number(value: Any) -> float | None:
    # bool is an int in Python; a meter never reads "true" kWh.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class ReadingMaker:
    """Builds readings for one source (one OPC UA server at one gateway)."""

    def __init__(
        self,
        *,
        server_name: str,
        metrics: GatewayMetrics,
        skew_threshold_s: float,
        first_seq: int = 0,
        bound_years: int = DEFAULT_BOUND_YEARS,
    ) -> None:
        self._server = server_name
        self._metrics = metrics
        self._skew_ms = int(skew_threshold_s * 1000)
        self._next_seq = first_seq
        self._skewed = False
        self._bound_years = bound_years
        self._out_of_range = False

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def reading(self, point: OpcUaPoint, data: ua.DataValue, received_ms: int) -> RawReading:
        """One reading of ``point`` from a notification or a read received at ``received_ms``."""
        quality = quality_of(data.StatusCode)
        value = _number(data.Value.Value if data.Value is not None else None)
        if value is None:
            if quality is not Quality.BAD:
                _log.warning(
                    "server %s node %s sent a non-numeric value %r; flagged BAD",
                    self._server,
                    point.node_id,
                    data.Value,
                )
            quality = Quality.BAD
        if value is None or quality is Quality.BAD:
            value = math.nan
            self._metrics.inc("opcua_bad_status_readings_total", server=self._server)
        ts_ms = received_ms
        if data.SourceTimestamp is not None:
            ts_ms = to_ms(data.SourceTimestamp)
        elif data.ServerTimestamp is not None:
            ts_ms = to_ms(data.ServerTimestamp)
        self._check_bound(point, ts_ms, received_ms)
        self._check_skew(point, ts_ms, data, received_ms)
        seq = self._next_seq
        self._next_seq += 1
        return RawReading(point.meter_id, ts_ms, value, point.unit, seq, quality)

    def _check_bound(self, point: OpcUaPoint, ts_ms: int, received_ms: int) -> None:
        out = ts_ms not in TimeBounds.around(received_ms, self._bound_years)
        if out:
            self._metrics.inc("opcua_timestamp_out_of_range_readings_total", server=self._server)
        if out != self._out_of_range:
            self._out_of_range = out
            if out:
                _log.warning(
                    "server %s node %s: device time %s is more than %d years from the "
                    "gateway's clock; sent on as stamped, the worker quarantines it "
                    "(TIMESTAMP_OUT_OF_RANGE)",
                    self._server,
                    point.node_id,
                    ms_to_iso(ts_ms),
                    self._bound_years,
                )
            else:
                _log.info("server %s: device times back within the bound", self._server)

    def _check_skew(
        self, point: OpcUaPoint, ts_ms: int, data: ua.DataValue, received_ms: int
    ) -> None:
        # An unchanged value keeps its old SourceTimestamp (in a read, or in the first
        # notification of a subscription), so "older than now" proves nothing. What does: a
        # device clock apart from the server clock that stamped the same value, or a time in
        # the gateway's future.
        skew_ms = max(0, ts_ms - received_ms)
        if data.SourceTimestamp is not None and data.ServerTimestamp is not None:
            apart = to_ms(data.SourceTimestamp) - to_ms(data.ServerTimestamp)
            skew_ms = apart if abs(apart) > skew_ms else skew_ms
        skewed = abs(skew_ms) > self._skew_ms
        if skewed:
            self._metrics.inc("opcua_clock_skew_readings_total", server=self._server)
            self._metrics.set("opcua_clock_skew_seconds", skew_ms / 1000, server=self._server)
        if skewed != self._skewed:
            self._skewed = skewed
            if skewed:
                _log.warning(
                    "server %s: device clock differs from the gateway's by %.1f s (node %s); "
                    "readings keep the device time and are counted as skewed",
                    self._server,
                    skew_ms / 1000,
                    point.node_id,
                )
            else:
                self._metrics.set("opcua_clock_skew_seconds", 0.0, server=self._server)
                _log.info("server %s: device clock back within threshold", self._server)
