"""The worker gives freed memory back (``stream.memory``): glibc keeps what a pool thread freed
in that thread's arena until told to return it, which is how a flat Python heap grew a growing
resident size under the demo park's load."""

from __future__ import annotations

import json
import subprocess
import sys

# Run in a fresh interpreter: in the test process, other tests' threads and arenas decide how
# much a churn leaves behind.
CHURN = """
import json, threading
from pathlib import Path
from stream.memory import trim

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def churn():
    # ~80 MB in 2 KB blocks (malloc, not Python's small-object pool), a few kept alive so the
    # arena cannot shrink from its top: the pattern of a window flush in a pool thread.
    blocks = [bytes(2000) for _ in range(40_000)]
    kept.append(blocks[::500])

kept = []
for _ in range(3):
    t = threading.Thread(target=churn)
    t.start()
    t.join()
before = rss_mb()
released = trim()
print(json.dumps({"before": before, "after": rss_mb(), "released": released}))
"""


def test_memory_a_pool_thread_freed_goes_back_to_the_kernel_when_trimmed() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHURN], capture_output=True, text=True, check=True, timeout=60
    )
    got = json.loads(out.stdout)
    assert got["released"]  # glibc: some memory was handed back
    assert got["before"] - got["after"] > 30, got
