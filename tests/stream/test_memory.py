"""The worker gives freed memory back (``stream.memory``): glibc keeps what a pool thread freed
in that thread's arena until told to return it, which is how a flat Python heap grew a growing
resident size under the demo park's load."""

from __future__ import annotations

import threading
from pathlib import Path

from stream.memory import trim


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _churn() -> None:
    # ~80 MB in 2 KB blocks (malloc, not Python's small-object pool), a few kept alive so the
    # arena cannot shrink from its top: the pattern of a window flush in a pool thread.
    blocks = [bytes(2000) for _ in range(40_000)]
    kept = blocks[::500]
    del blocks
    assert len(kept) == 80


def test_memory_a_pool_thread_freed_goes_back_to_the_kernel_when_trimmed() -> None:
    for _ in range(3):
        t = threading.Thread(target=_churn)
        t.start()
        t.join()
    before = _rss_mb()
    assert trim()  # glibc: some memory was released
    after = _rss_mb()
    assert before - after > 30, (before, after)
