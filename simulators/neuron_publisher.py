"""An edge gateway that publishes like EMQX Neuron's MQTT north app, for the demo park.

Each cycle it publishes one upload message per south node group, values-format (Neuron's
"Upload Format"): ``{"node", "group", "timestamp", "values": {tag: value}, "errors": {}}`` on
``/neuron/<app>/<node>/<group>``, with QoS 1, waiting for the broker's PUBACK. The tag values
come from simulated meters (``simulators.meters.MeterState``), so counters only ever grow. It
imports nothing from ``ingest``: the gateway's MQTT collector is what it is a peer of.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tag:
    name: str
    value: Callable[[], float]  # read at publish time


@dataclass(frozen=True)
class Group:
    node: str
    group: str
    tags: tuple[Tag, ...]


def topic(app: str, group: Group) -> str:
    """Neuron's default upload topic, ``/neuron/{app}/{node}/{group}``."""
    return f"/neuron/{app}/{group.node}/{group.group}"


def upload_message(group: Group, now_ms: int) -> bytes:
    values = {tag.name: round(tag.value(), 3) for tag in group.tags}
    doc = {"node": group.node, "group": group.group, "timestamp": now_ms, "values": values,
           "errors": {}}  # fmt: skip
    return json.dumps(doc, separators=(",", ":")).encode()


class NeuronPublisher:
    """A paho client on ``host:port`` publishing ``groups`` once per ``publish`` call."""

    def __init__(self, host: str, port: int, *, app: str, groups: tuple[Group, ...],
                 client_id: str = "demo-neuron",
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.host, self.port, self.app, self.groups, self.clock = host, port, app, groups, clock
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.published = 0

    def connect(self, timeout_s: float = 10.0) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()  # paho reconnects by itself if the broker goes away
        deadline = time.monotonic() + timeout_s
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise ConnectionError(f"no CONNACK from {self.host}:{self.port}")
            time.sleep(0.02)

    def publish(self, timeout_s: float = 10.0) -> None:
        """One message per group, each acknowledged by the broker (or the error is logged)."""
        now_ms = int(self.clock() * 1000)
        for group in self.groups:
            info = self.client.publish(topic(self.app, group), upload_message(group, now_ms), qos=1)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                log.warning("publish to %s failed: %s", topic(self.app, group), exc)
                continue
            if info.is_published():
                self.published += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
