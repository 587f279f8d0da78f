"""The worker's registry cache (``stream.registry.RegistryCache``) against the real database: a
meter registered a moment before its first readings is known when they are validated, even
when the last periodic check came just before the meter was added."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from store.registry import add_enterprise, add_meter, add_park
from stream.registry import RegistryCache
from tests.stream.test_overrides import _meter

pytestmark = pytest.mark.integration


async def test_a_batch_naming_a_new_meter_sees_a_registry_checked_after_it_arrived(
    db: psycopg.Connection[Any], database_url: str, unique: str
) -> None:
    park, ent = f"rc-{unique}", f"rc-e-{unique}"
    add_park(db, park_id=park, name="registry cache park", actor="test")
    add_enterprise(db, enterprise_id=ent, park_id=park, name="E", actor="test")
    cache = RegistryCache(database_url, min_reload_interval_s=60)
    await cache.refresh(force=True)  # the periodic check, just before the meter is added
    first = f"RC1-{unique}"
    add_meter(db, meter=_meter(first, enterprise_id=ent), actor="test")
    arrived = time.monotonic()  # its readings arrive

    await cache.refresh()  # a plain check within the interval: skipped, the meter unknown
    assert first not in cache.profiles
    await cache.refresh(since=arrived)  # what the worker asks for an unknown meter's batch
    assert first in cache.profiles

    # A check begun after the batch arrived answers every later ask for that batch: a flood of
    # readings of a truly unknown meter costs one check per batch, not one per ask.
    second = f"RC2-{unique}"
    add_meter(db, meter=_meter(second, enterprise_id=ent), actor="test")
    await cache.refresh(since=arrived)
    assert second not in cache.profiles
    await cache.refresh(since=time.monotonic())
    assert second in cache.profiles
