"""Running parkcarbon: the local stack (Kafka broker, PostgreSQL), Grafana files, containers."""
