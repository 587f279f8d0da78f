"""`parkcarbon up`: the whole platform on one machine, as child processes of one command.

The stack (broker, database) runs in the background as `parkcarbon stack` leaves it; the
platform's own processes run as children with their logs under the state folder, and stop with
the command (Ctrl-C or SIGTERM), after which the stack is stopped too (unless `--keep-stack`).
Children start in list order; one that ``needs`` a file (a gateway its config) waits, bounded,
until the child that ``writes`` it has written it, which that child does once it listens.
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
