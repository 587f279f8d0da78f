"""A Mosquitto broker as a child process: its own config, a loopback port, persistence in a
folder of its own. The demo park's MQTT publisher talks to one (``deploy/demo_field.py``), and
so do the MQTT tests; neither ever uses Debian's system service on 1883."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path


class MosquittoError(RuntimeError):
    """The broker is not installed or did not start; the message says why."""


def mosquitto_binary() -> str | None:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """One broker process on 127.0.0.1; ``stop`` and ``start`` again keep its sessions."""

    def __init__(self, folder: Path, *, port: int | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise MosquittoError("mosquitto is not installed (deploy/bootstrap.sh installs it)")
        self.binary = binary
        self.port = port or free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # Started as root, Mosquitto would switch to the user "mosquitto", who may not write
            # the persistence folder; stay the user who started it.
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "persistence_file mosquitto.db\n"
            # Enough for a gateway's backlog; the default in-flight window of 20 stays.
            "max_queued_messages 100000\n"
            "persistent_client_expiration 1d\n"
            f"log_dest file {folder}/mosquitto.log\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - the broker binary and our own config
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.folder / "mosquitto.log"
                    text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                    self.stop()
                    msg = f"mosquitto did not listen on {self.port}: {text}"
                    raise MosquittoError(msg) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
