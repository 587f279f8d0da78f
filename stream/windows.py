"""Which windows to (re)compute, and when: event time per meter, with a wall-clock backstop.

A stored reading closes the interval [interval_start, ts) of its meter, and every window that
interval overlaps is *touched*. Readings of one meter arrive in order (validation quarantines
out-of-order ones), so once a meter's latest reading is at or past a window's end, every
interval in that window is stored: the window is complete and is computed. A window whose meter
falls silent is computed anyway ``max_wait_ms`` after its end, with the completeness it has;
a reading that arrives later touches it again and it is recomputed (the issue of late data
solved by recomputation from stored readings, never by dropping).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTHS_S = (60, 300, 900, 3600)  # live minute, 5-minute panes of the rolling hour, 15 min, hour


@dataclass
class WindowTracker:
    max_wait_ms: int = 120_000
    widths_s: tuple[int, ...] = WIDTHS_S
    pending: dict[tuple[str, int, int], int] = field(default_factory=dict)  # -> touched at
    watermark: dict[str, int] = field(default_factory=dict)  # meter -> latest reading ts

    def touch(self, meter_id: str, interval_start_ms: int, end_ms: int, now_ms: int) -> None:
        for width_s in self.widths_s:
            width = width_s * 1000
            start = interval_start_ms - interval_start_ms % width
            while start < end_ms:
                self.pending.setdefault((meter_id, width_s, start), now_ms)
                start += width
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
