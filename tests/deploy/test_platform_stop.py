"""`parkcarbon up` stops every child whatever happens to its stdout.

``make up 2>&1 | tee up.log`` then Ctrl-C: the terminal's SIGINT stops ``tee`` too, so the
"stopping ..." line goes to a pipe without a reader. That write must not cut the cleanup short:
the children run in their own sessions and nothing else would ever stop them.

Each test runs a real process tree: a supervisor process running ``deploy.platform.run`` (the
code `parkcarbon up` runs) with long-sleeping children, its stdout a pipe this test reads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from deploy.process import pid_alive
from tests.conftest import ROOT

BOUND_S = 40.0

SUPERVISOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from deploy.platform import Child, run

    state = Path(sys.argv[1])
    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
    children = [Child(f"child-{i}", sleeper, state / f"child-{i}.log") for i in range(3)]


    def banner() -> str:
        return "pids " + " ".join(str(c.proc.pid) for c in children if c.proc is not None)


    def after_stop():
        # What `up` does after the children: stop the stack, printing a line per component.
        for name in ("broker", "database"):
            yield f"{name} stopped"
            (state / f"{name}.stopped").write_text("yes")


    sys.exit(0 if run(children, banner=banner, after_stop=after_stop) else 1)
    """
)


def _supervise(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    script = tmp_path / "supervisor.py"
    script.write_text(SUPERVISOR)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()  # the banner: the children are running
    assert line.startswith("pids "), line
    pids = [int(p) for p in line.split()[1:]]
    assert len(pids) == 3 and all(pid_alive(p) for p in pids)
    return proc, pids


def _gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


def _kill_left(pids: list[int]) -> None:
    for pid in pids:
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_with_the_pipe_reader_gone_stops_every_child_and_the_stack(
    tmp_path: Path, sig: signal.Signals
) -> None:
    proc, pids = _supervise(tmp_path)
    try:
        assert proc.stdout is not None
        proc.stdout.close()  # `tee` is gone: every later write to stdout meets EPIPE
        proc.send_signal(sig)
        assert proc.wait(timeout=BOUND_S) == 0
        assert _gone(pids) == []
        assert (tmp_path / "broker.stopped").exists() and (tmp_path / "database.stopped").exists()
    finally:
        proc.kill()
        _kill_left(pids)


def test_a_plain_ctrl_c_stops_every_child_and_says_so(tmp_path: Path) -> None:
    proc, pids = _supervise(tmp_path)
    try:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=BOUND_S)
        assert proc.returncode == 0
        assert _gone(pids) == []
        assert out.decode().split("\n") == [
            "",
            "stopping ...",
            "broker stopped",
            "database stopped",
            "",
        ]
    finally:
        proc.kill()
        _kill_left(pids)
