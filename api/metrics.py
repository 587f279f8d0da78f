"""Prometheus metrics of one API process, on a registry of its own (no process globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "parkcarbon_api_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "parkcarbon_api_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.readings = Counter(
            "parkcarbon_api_readings",
            "EMS readings pushed, by outcome (accepted, duplicate, rejected)",
            ["outcome"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "parkcarbon_api_webhook_deliveries",
            "Webhook delivery attempts, by outcome",
            ["outcome"],
            registry=r,
        )
        self.alerts_consumed = Counter(
            "parkcarbon_api_alerts_consumed", "Alert messages consumed from Kafka", registry=r
        )
        self.live_subscribers = Gauge(
            "parkcarbon_api_live_subscribers", "Open live-feed connections", registry=r
        )
