"""Real ``parkcarbon worker`` processes for benchmarks, and what /proc says about them.

Shared by the benchmarks and the integration tests (``tests/conftest.py``), without pytest.
Only processes started here are ever signalled, by their own id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_worker(
    *,
    database_url: str,
    kafka_bootstrap: str,
    app_id: str,
    state: Path,
    extra_env: dict[str, str],
) -> Worker:
    """Start a worker process; returns at once (see :func:`wait_ready`)."""
    log_path = state / f"{app_id}-{uuid.uuid4().hex[:6]}.log"
    env = dict(os.environ)
    env.update(
        PARKCARBON_DATABASE_URL=database_url,
        PARKCARBON_KAFKA_BOOTSTRAP=kafka_bootstrap,
        PARKCARBON_APP_ID=app_id,
        PARKCARBON_STATE_DIR=str(state),
    )
    env.update(extra_env)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "parkcarbon"), "worker", "-l", "info"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
    return Worker(proc, log_path)


def is_ready(worker: Worker) -> bool:
    text = worker.log.read_bytes()
    return b"meter registry loaded" in text and b"Ready" in text


def wait_ready(workers: list[Worker], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(is_ready(w) for w in workers):
        for w in workers:
            if w.proc.poll() is not None or time.monotonic() > deadline:
                stop_workers(workers)
                tail = w.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"worker did not become ready:\n{tail}")
        time.sleep(0.2)


def stop_workers(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc.poll() is None:
            os.killpg(w.proc.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the most resident memory the process has had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pids_named(prefix: str, cmdline_contains: str = "") -> list[int]:
    """Processes whose command name starts with ``prefix`` (e.g. the PostgreSQL backends)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if not comm.startswith(prefix):
                continue
            if cmdline_contains and cmdline_contains not in (entry / "cmdline").read_text():
                continue
        except OSError:
            continue
        out.append(int(entry.name))
    return out


def total_cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)
