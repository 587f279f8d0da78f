"""Gateway metrics: counters and gauges with labels, rendered in Prometheus text format."""

from __future__ import annotations

from collections import defaultdict

_Key = tuple[str, tuple[tuple[str, str], ...]]


class GatewayMetrics:
    """In-process metrics, shared by every collector task of one gateway (no globals)."""

    def __init__(self) -> None:
        self._counters: dict[_Key, float] = defaultdict(float)
        self._gauges: dict[_Key, float] = {}
        self._help: dict[str, tuple[str, str]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._counters[(name, tuple(sorted(labels.items())))] += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[(name, tuple(sorted(labels.items())))] = value

    def value(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return self._counters.get(key, self._gauges.get(key, 0.0))

    def render(self) -> str:
        lines: list[str] = []
        series = [*self._counters.items(), *self._gauges.items()]
        for name in sorted({key[0] for key, _ in series}):
            kind, text = self._help.get(name, ("untyped", ""))
            if text:
                lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for (metric, labels), value in series:
                if metric != name:
                    continue
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {value:g}" if labels else f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
