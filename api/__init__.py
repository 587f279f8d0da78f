"""The HTTP API: EMS push, queries, alerts and tickets, the live page."""
