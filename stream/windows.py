"""Which windows to (re)compute, and when: event time per meter, with a wall-clock backstop.

A stored reading closes the interval [interval_start, ts) of its meter, and every window that
interval overlaps is *touched*. Readings of one meter arrive in order (validation quarantines
out-of-order ones), so once a meter's latest reading is at or past a window's end, every
interval in that window is stored: the window is complete and is computed. A window whose meter
falls silent is computed anyway ``max_wait_ms`` after its end, with the completeness it has;
a reading that arrives later touches it again and it is recomputed (the issue of late data
solved by recomputation from stored readings, never by dropping).

Which windows a touch marks is ``accounting.window_plan``: every 15-minute and hour window, the
1- and 5-minute ones only within the fine horizon of now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounting.window_plan import WIDTHS_S, WindowPlan
from config.settings import WorkerSettings

__all__ = ["WIDTHS_S", "WindowTracker", "plan_of"]


def plan_of(settings: WorkerSettings) -> WindowPlan:
    """The windows the worker and ``parkcarbon recompute`` materialise, from the settings."""
    return WindowPlan(
        fine_horizon_ms=settings.fine_windows_horizon_s * 1000,
        fine_max_interval_ms=settings.fine_windows_max_interval_s * 1000,
    )


@dataclass
class WindowTracker:
    max_wait_ms: int = 120_000
    widths_s: tuple[int, ...] = WIDTHS_S
    plan: WindowPlan = field(default_factory=WindowPlan)
    pending: dict[tuple[str, int, int], int] = field(default_factory=dict)  # -> touched at
    watermark: dict[str, int] = field(default_factory=dict)  # meter -> latest reading ts

    def touch(self, meter_id: str, interval_start_ms: int, end_ms: int, now_ms: int) -> None:
        for width_s in self.widths_s:
            for start in self.plan.starts(width_s, interval_start_ms, end_ms, now_ms):
                self.pending.setdefault((meter_id, width_s, start), now_ms)
        if end_ms > self.watermark.get(meter_id, -1):
            self.watermark[meter_id] = end_ms

    def due(self, now_ms: int) -> list[tuple[str, int, int]]:
        """Pending windows that are complete, or whose wait is over; they leave the set."""
        ready = [
            key
            for key in self.pending
            if (end := key[2] + key[1] * 1000) <= self.watermark.get(key[0], -1)
            or end + self.max_wait_ms <= now_ms
        ]
        for key in ready:
            del self.pending[key]
        return ready
