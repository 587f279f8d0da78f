"""The local stack as one unit: start, stop and report the broker and the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from config.settings import StackSettings
from deploy import kafka_broker, postgres


@dataclass(frozen=True)
class Component:
    name: str
    start: Callable[[StackSettings], str]
    stop: Callable[[StackSettings], str]
    healthy: Callable[[StackSettings], tuple[bool, str]]


COMPONENTS = (
    Component("postgres", postgres.start, postgres.stop, postgres.healthy),
    Component("kafka", kafka_broker.start, kafka_broker.stop, kafka_broker.healthy),
)


def start(settings: StackSettings) -> list[tuple[str, str]]:
    """Start every component that is not running; a second call is a no-op."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return [(c.name, c.start(settings)) for c in COMPONENTS]


def stop(settings: StackSettings) -> list[tuple[str, str]]:
    return [(c.name, c.stop(settings)) for c in reversed(COMPONENTS)]


def status(settings: StackSettings) -> list[tuple[str, bool, str]]:
    return [(c.name, *c.healthy(settings)) for c in COMPONENTS]
