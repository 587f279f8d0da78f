"""Cumulative register values kept in a JSON file, so a restarted simulator carries on counting.

A real meter's counter never goes back when its reader restarts; without this a restarted
simulator would start every register from its seed again and the stream would quarantine its
readings as NEGATIVE_DELTA until the counters caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path

SAVE_EVERY_S = 10.0


def load(path: Path | None) -> dict[str, float]:
    """The saved values by id; empty when there is no (readable) file."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save(path: Path | None, values: dict[str, float]) -> None:
    """Write atomically (a crash mid-write leaves the previous file)."""
    if path is None:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(values), encoding="utf-8")
    os.replace(tmp, path)


async def keep_saving(path: Path | None, values: Callable[[], dict[str, float]]) -> None:
    """Save every ``SAVE_EVERY_S`` until cancelled (the caller saves once more on stop)."""
    if path is None:
        return
    while True:
        await asyncio.sleep(SAVE_EVERY_S)
        with contextlib.suppress(OSError):
            save(path, values())
