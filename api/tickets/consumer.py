"""The alerts consumer (being built)."""

from __future__ import annotations

from api.state import AppState


async def run(state: AppState) -> None:
    """Consume the alerts topic for the app's lifetime."""
    del state
