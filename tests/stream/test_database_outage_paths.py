"""What the worker's side tasks do when the database is unreachable: the ten-minute window
reconcile says so and tries again next round (it once crashed the worker when it fell inside an
outage), and the deviation rules raise after dropping their open-alert cache, so the flush's
retry evaluates from what is stored. Real connection attempts to a port nothing listens on."""

from __future__ import annotations

import socket

import psycopg
import pytest

from accounting.gwp import GwpSet
from stream.deviations import DeviationStage
from stream.registry import RegistryCache
from stream.window_sink import WindowSink


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://parkcarbon@127.0.0.1:{port}/parkcarbon"  # closed again: refused


async def test_the_window_reconcile_in_an_outage_queues_nothing_and_raises_nothing() -> None:
    url = _dead_url()
    sink = WindowSink(url, RegistryCache(url), gwp_set=GwpSet.AR5, max_wait_ms=1000)
    assert await sink.reconcile(0) == 0


def test_the_deviation_rules_in_an_outage_raise_and_forget_their_open_alerts() -> None:
    url = _dead_url()
    stage = DeviationStage(url, RegistryCache(url))
    stage.tracker = object()  # type: ignore[assignment]  # a cache loaded before the outage
    with pytest.raises(psycopg.OperationalError):
        stage.evaluate([], [("M-1", 0)], 0)
    assert stage.tracker is None  # reloaded from the database at the next evaluation
