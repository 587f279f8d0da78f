"""Gateway metrics: counters and gauges with labels, rendered in Prometheus text format.

``inc``/``set`` take labels as keywords. Hot paths (every poll of every device) resolve a
series once with ``key(...)`` and then update it with ``add(key)`` / ``add_each(keys)``, which
skip building and sorting the label tuple on every call; both land in the same series.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

MetricKey = tuple[str, tuple[tuple[str, str], ...]]
_Key = MetricKey


class GatewayMetrics:
    """In-process metrics, shared by every collector task of one gateway (no globals)."""

    def __init__(self) -> None:
        self._counters: dict[_Key, float] = defaultdict(float)
        self._gauges: dict[_Key, float] = {}
        self._help: dict[str, tuple[str, str]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    @staticmethod
    def key(name: str, **labels: str) -> MetricKey:
        """The series ``name{labels}``, resolved once for ``add`` / ``add_each``."""
        return (name, tuple(sorted(labels.items())))

    def add(self, key: MetricKey, amount: float = 1.0) -> None:
        """``inc`` for a series resolved with ``key``."""
        self._counters[key] += amount

    def add_each(self, keys: Iterable[MetricKey]) -> None:
        """Add 1 to each of ``keys`` (e.g. the histogram buckets an observation falls in)."""
        counters = self._counters
        for key in keys:
            counters[key] += 1.0

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._counters[(name, tuple(sorted(labels.items())))] += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[(name, tuple(sorted(labels.items())))] = value

    def value(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return self._counters.get(key, self._gauges.get(key, 0.0))

    def render(self) -> str:
        by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = defaultdict(list)
        for (name, labels), value in [*self._counters.items(), *self._gauges.items()]:
            by_name[name].append((labels, value))
        lines: list[str] = []
        for name in sorted(by_name):
            kind, text = self._help.get(name, ("untyped", ""))
            if text:
                lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in by_name[name]:
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {value:g}" if labels else f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
