"""The Kafka topics of parkcarbon (ARCHITECTURE.md): their names and how long each keeps its
messages. Creating them is the stream's (``stream.topics``)."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    READINGS_RAW = "readings.raw"
    READINGS_VALID = "readings.valid"
    READINGS_REJECTED = "readings.rejected"
    EMISSIONS_WINDOWS = "emissions.windows"
    ALERTS = "alerts"


# Rejected readings are the evidence of data quality problems (clause 8.4): keep them longer.
RETENTION_MS = {
    Topic.READINGS_REJECTED: str(30 * 24 * 3600 * 1000),
}


def topic_name(topic: Topic, prefix: str = "") -> str:
    return f"{prefix}{topic.value}"
