"""`parkcarbon up`: the whole platform on one machine, as child processes of one command.

The stack (broker, database) runs in the background as `parkcarbon stack` leaves it; the
platform's own processes run as children with their logs under the state folder, and stop with
the command (Ctrl-C or SIGTERM), after which the stack is stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from config.settings import StackSettings
from deploy.process import terminate


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None


def parkcarbon(*args: str) -> list[str]:
    """The argv of a `parkcarbon` subcommand, from the same environment as this process."""
    return [str(Path(sys.executable).parent / "parkcarbon"), *args]


def start_children(children: list[Child]) -> None:
    for child in children:
        child.log.parent.mkdir(parents=True, exist_ok=True)
        with open(child.log, "ab") as log:
            child.proc = subprocess.Popen(  # noqa: S603 - argv built by the project
                child.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(os.environ),
                start_new_session=True,
            )


def wait_for_signal(children: list[Child]) -> None:
    """Block until Ctrl-C/SIGTERM; a child that dies is reported, not silently ignored."""
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    reported: set[str] = set()
    while not stopping:
        for child in children:
            if (
                child.proc is not None
                and child.proc.poll() is not None
                and child.name not in reported
            ):
                reported.add(child.name)
                print(f"{child.name} exited with {child.proc.returncode}; see {child.log}")
        time.sleep(0.5)


def stop_children(children: list[Child]) -> None:
    for child in reversed(children):
        if child.proc is not None and child.proc.poll() is None:
            terminate(child.proc.pid, timeout=30.0)


def default_children(settings: StackSettings) -> list[Child]:
    logs = settings.state_dir.resolve() / "logs"
    return [Child("worker", parkcarbon("worker", "-l", "info"), logs / "worker.log")]
