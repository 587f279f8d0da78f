"""The webhook dispatcher (being built)."""

from __future__ import annotations

from api.state import AppState


async def run(state: AppState) -> None:
    """Deliver webhook messages from the outbox for the app's lifetime."""
    del state
