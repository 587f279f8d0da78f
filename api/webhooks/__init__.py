"""Webhooks to duty staff: subscriptions, a transactional outbox, signed deliveries (issue 6)."""
