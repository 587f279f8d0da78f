"""A real Mosquitto broker for the MQTT tests (``deploy.mosquitto``: its own config, a free
loopback port, persistence in a temporary folder, started and stopped by the tests).

Also a small publisher (paho, QoS 1, waits for each PUBACK) standing in for Neuron or a device.
"""

from __future__ import annotations

import time

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion

from deploy.mosquitto import Mosquitto, free_port, mosquitto_binary

__all__ = ["Mosquitto", "free_port", "mosquitto_binary", "publish"]


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
