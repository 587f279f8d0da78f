"""`parkcarbon up`: the whole platform on one machine, as child processes of one command.

The stack (broker, database) runs in the background as `parkcarbon stack` leaves it; the
platform's own processes run as children with their logs under the state folder, and stop with
the command (Ctrl-C or SIGTERM), after which the stack is stopped too (unless `--keep-stack`).
Children start in list order; one that ``needs`` a file (a gateway its config) waits, bounded,
until the child that ``writes`` it has written it, which that child does once it listens.

What the command prints is best effort: run as ``parkcarbon up 2>&1 | tee up.log``, Ctrl-C also
stops ``tee``, and a message written to that closed pipe must not cut the cleanup short (the
children run in their own sessions, so nothing but this command ever stops them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from config.settings import StackSettings
from deploy import demo
from deploy.process import tail, terminate

FILE_WAIT_S = 60.0


class PlatformError(Exception):
    """A child could not be started; the message says which and why."""


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    writes: Path | None = None  # written once the child is ready; removed before it starts
    needs: Path | None = None  # must exist before the child starts
    proc: subprocess.Popen[bytes] | None = None


def parkcarbon(*args: str) -> list[str]:
    """The argv of a `parkcarbon` subcommand, from the same environment as this process."""
    return [str(Path(sys.executable).parent / "parkcarbon"), *args]


def say(text: str, *, err: bool = False) -> None:
    """Print a line; a closed or broken stream (the reader of a pipe has gone) is set aside so
    that neither this line nor any later one, nor the interpreter's last flush, raises."""
    name = "stderr" if err else "stdout"
    stream: TextIO = getattr(sys, name)
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):  # EPIPE, EIO, or a stream already closed
        setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - for the rest of the run


def _wait_for_file(path: Path, children: list[Child], timeout_s: float) -> None:
    writer = next((c for c in children if c.writes == path), None)
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if writer is not None and writer.proc is not None and writer.proc.poll() is not None:
            raise PlatformError(
                f"{writer.name} exited with {writer.proc.returncode} before writing {path}:\n"
                + tail(writer.log)
            )
        if time.monotonic() > deadline:
            raise PlatformError(f"{path} did not appear within {timeout_s:.0f} s")
        time.sleep(0.2)


def start_children(children: list[Child], *, file_wait_s: float = FILE_WAIT_S) -> None:
    for child in children:
        if child.writes is not None:
            child.writes.unlink(missing_ok=True)  # a stale file from a last run proves nothing
    for child in children:
        if child.needs is not None:
            _wait_for_file(child.needs, children, file_wait_s)
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


class _Stop:
    """Ctrl-C/SIGTERM as a flag: once caught, a signal never interrupts the cleanup."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)  # the terminal closed

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.requested = True


def wait_for_signal(children: list[Child], stop: _Stop | None = None) -> None:
    """Block until Ctrl-C/SIGTERM; a child that dies is reported, not silently ignored."""
    if stop is None:
        stop = _Stop()
        stop.install()
    reported: set[str] = set()
    while not stop.requested:
        for child in children:
            if (
                child.proc is not None
                and child.proc.poll() is not None
                and child.name not in reported
            ):
                reported.add(child.name)
                say(f"{child.name} exited with {child.proc.returncode}; see {child.log}")
        time.sleep(0.5)


def run(
    children: list[Child],
    *,
    banner: Callable[[], str],
    after_stop: Callable[[], Iterable[str]] = lambda: (),
) -> bool:
    """Start the children, print ``banner()``, wait for Ctrl-C/SIGTERM/SIGHUP, then stop every
    child and run ``after_stop`` (its lines printed), whatever happened to stdout or stderr
    meanwhile. False when a child could not be started (the reason printed on stderr)."""
    stop = _Stop()
    stop.install()  # before the first child: a Ctrl-C while starting only ends the wait early
    ok = True
    try:
        start_children(children)
        say(banner())
        wait_for_signal(children, stop)
    except PlatformError as exc:
        say(str(exc), err=True)
        ok = False
    finally:
        try:
            say("\nstopping ...")
        finally:
            stop_children(children)
            for line in after_stop():
                say(line)
    return ok


def stop_children(children: list[Child]) -> None:
    for child in reversed(children):
        if child.proc is not None and child.proc.poll() is None:
            terminate(child.proc.pid, timeout=30.0)


def default_children(settings: StackSettings) -> list[Child]:
    """The stream worker, the API, and the demo park: its simulators and a gateway for each
    (Modbus TCP farm, OPC UA server, and the field lines: RTU, DL/T 645, MQTT)."""
    state = settings.state_dir.resolve()
    logs = state / "logs"
    modbus_yaml, opcua_yaml = state / "gateway.yaml", state / "gateway-opcua.yaml"
    field_yaml = state / "gateway-field.yaml"
    return [
        Child("worker", parkcarbon("worker", "-l", "info"), logs / "worker.log"),
        Child("api", parkcarbon("api"), logs / "api.log"),
        Child(
            "modbus-sim",
            parkcarbon(*demo.modbus_simulator_args(state, modbus_yaml)),
            logs / "modbus-sim.log",
            writes=modbus_yaml,
        ),
        Child(
            "opcua-sim",
            parkcarbon(*demo.opcua_simulator_args(state, opcua_yaml)),
            logs / "opcua-sim.log",
            writes=opcua_yaml,
        ),
        Child(
            "field-sim",
            parkcarbon(*demo.field_simulator_args(state, field_yaml)),
            logs / "field-sim.log",
            writes=field_yaml,
        ),
        Child(
            "gateway",
            parkcarbon("gateway", "--config", str(modbus_yaml)),
            logs / "gateway.log",
            needs=modbus_yaml,
        ),
        Child(
            "gateway-ua",
            parkcarbon("gateway", "--config", str(opcua_yaml)),
            logs / "gateway-opcua.log",
            needs=opcua_yaml,
        ),
        Child(
            "gateway-field",
            parkcarbon("gateway", "--config", str(field_yaml)),
            logs / "gateway-field.log",
            needs=field_yaml,
        ),
    ]
