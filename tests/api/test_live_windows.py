"""Window events of the live feed: a message's windows summed per enterprise, width and start."""

from __future__ import annotations

import pytest

from api.live_windows import window_events


def _w(meter: str, ent: str, width: int, start: str, tco2e: float) -> dict[str, object]:
    return {
        "meter_id": meter,
        "enterprise_id": ent,
        "width_s": width,
        "window_start": start,
        "window_end": "x",
        "tco2e": tco2e,
    }


def test_windows_of_one_enterprise_and_minute_become_one_event_with_their_sum() -> None:
    events = window_events(
        [
            _w("M1", "E1", 60, "2026-11-26T08:00:00.000Z", 0.25),
            _w("M2", "E1", 60, "2026-11-26T08:00:00.000Z", 0.5),
            _w("M3", "E2", 60, "2026-11-26T08:00:00.000Z", 1.0),
            _w("M1", "E1", 300, "2026-11-26T08:00:00.000Z", 9.0),  # a pane: not in the feed
        ]
    )
    by_ent = {e.enterprise_id: e.data for e in events}
    assert set(by_ent) == {"E1", "E2"}
    assert by_ent["E1"]["tco2e"] == pytest.approx(0.75)
    assert by_ent["E1"]["meters"] == 2
    assert by_ent["E2"]["tco2e"] == pytest.approx(1.0)


def test_a_malformed_window_item_is_skipped_and_the_rest_are_sent() -> None:
    events = window_events(
        [{"width_s": "sixty"}, _w("M1", "E1", 3600, "2026-11-26T08:00:00.000Z", 2.0)]
    )
    assert [(e.enterprise_id, e.data["tco2e"]) for e in events] == [("E1", 2.0)]


def test_the_feed_sums_as_the_boundary_counts_sub_meters_out_and_exports_deducted() -> None:
    """The live figure of an enterprise adds up like /v1/emissions (docs/boundary.md)."""
    start = "2026-11-26T08:00:00.000Z"
    events = window_events(
        [
            _w("MAIN", "E1", 60, start, 1.0),
            _w("SUB", "E1", 60, start, 0.4),  # part of MAIN: detail only
            _w("SOLD", "E1", 60, start, 0.3),  # exported electricity: deducted
            _w("OUT", "E1", 60, start, 5.0),  # outside the boundary
            _w("NEW", "E1", 60, start, 0.1),  # not in the weights yet: counted
        ],
        {"MAIN": 1, "SUB": 0, "SOLD": -1, "OUT": 0},
    )
    assert [e.data["tco2e"] for e in events] == [pytest.approx(1.0 - 0.3 + 0.1)]
    assert events[0].data["meters"] == 3
