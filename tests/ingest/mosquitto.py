"""A real Mosquitto broker for the MQTT tests: its own config, a free loopback port, persistence in
a temporary folder, started and stopped by the tests (never Debian's system service on 1883).

Also a small publisher (paho, QoS 1, waits for each PUBACK) standing in for Neuron or a device.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion


def mosquitto_binary() -> str | None:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """One broker process; ``stop`` and ``start`` again keep its sessions (persistence)."""

    def __init__(self, folder: Path, *, port: int | None = None) -> None:
        binary = mosquitto_binary()
        assert binary is not None, "mosquitto is not installed (deploy/bootstrap.sh installs it)"
        self.binary = binary
        self.port = port or free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # Started as root, Mosquitto would switch to the user "mosquitto", who may not write
            # the persistence folder; stay the user who runs the tests.
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "persistence_file mosquitto.db\n"
            # Enough for every test's backlog; the default in-flight window of 20 stays.
            "max_queued_messages 100000\n"
            "persistent_client_expiration 1d\n"
            f"log_dest file {folder}/mosquitto.log\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(
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
                    raise RuntimeError(
                        f"mosquitto did not listen on {self.port}: "
                        + (self.folder / "mosquitto.log").read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def publish(port: int, messages: list[tuple[str, bytes]], *, retain: bool = False) -> None:
    """Publish with QoS 1 and return once the broker acknowledged every message."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.time_ns()}")
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    try:
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1, retain=retain)
            info.wait_for_publish(10)
            assert info.is_published(), f"broker did not acknowledge {topic}"
    finally:
        client.disconnect()
        client.loop_stop()
