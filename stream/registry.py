"""The meter registry as the validation agent needs it: profiles by meter id, kept fresh.

The registry in the database is the single source of truth (ARCHITECTURE.md); a worker keeps a
copy and reloads it when the registry's fingerprint changes, so a meter added in the API is
known to the stream within one refresh interval. The gateway grants (migration 0014) ride on
the same fingerprint: a grant changed in the API is enforced within one refresh interval too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import psycopg

from accounting.meter import MeterProfile
from store.gateways import all_gateways, enterprise_parks, gateways_version
from store.registry import (
    FactorContext,
    Meter,
    all_meters,
    enterprise_contexts,
    installed_ms,
    inventory_starts_ms,
    registry_version,
    to_profile,
)
from stream.authorization import SourceAuthorization
from stream.columns import DecodedColumns

log = logging.getLogger(__name__)


def to_profiles(
    meters: list[Meter],
    installed: dict[str, int] | None = None,
    inventory_starts: dict[str, int] | None = None,
) -> dict[str, MeterProfile]:
    known, starts = installed or {}, inventory_starts or {}
    return {
        m.meter_id: to_profile(
            m,
            installed_at_ms=known.get(m.meter_id),
            inventory_start_ms=starts.get(m.meter_id),
        )
        for m in meters
    }


class RegistryCache:
    """Meter profiles by id, reloaded when the registry's fingerprint changes."""

    def __init__(self, database_url: str, *, min_reload_interval_s: float = 0.2) -> None:
        self._url = database_url
        self._version: tuple[tuple[int, str], tuple[int, str]] | None = None
        self._checked = 0.0
        self._min_interval = min_reload_interval_s
        self.profiles: dict[str, MeterProfile] = {}
        self.meters: dict[str, Meter] = {}
        # enterprise -> its park's region and time zone, for the factors of its windows
        self.contexts: dict[str, FactorContext] = {}
        self.authorization = SourceAuthorization.empty()  # which gateway may send which meter
        self.installed: dict[str, int] = {}  # meter -> installed_at, epoch ms
        self.inventory_starts: dict[str, int] = {}  # meter -> its park's inventory start, ms
        self._lock = asyncio.Lock()  # a caller arriving during a load waits for it
        self._loaded = asyncio.Event()  # set once the first load succeeded

    async def ready(self) -> None:
        """Wait for the first successful load: validating against an empty registry would
        quarantine every reading as UNKNOWN_METER."""
        while not self._loaded.is_set():
            await self.refresh(force=True)
            if not self._loaded.is_set():
                await asyncio.sleep(1.0)

    async def refresh(self, *, force: bool = False, since: float | None = None) -> None:
        """Check the registry's fingerprint and reload it if it changed. At most one check per
        ``min_reload_interval_s`` unless ``force``; with ``since`` (a ``time.monotonic()``
        instant), unless a check began at or after it: a batch naming a meter this cache does
        not know asks for a check begun after the batch arrived, so a meter registered just
        before its first readings is never taken for an unknown one."""
        async with self._lock:
            if since is not None:
                if self._checked >= since:
                    return
            elif not force and time.monotonic() - self._checked < self._min_interval:
                return
            self._checked = time.monotonic()
            await self._refresh()

    async def _refresh(self) -> None:
        try:
            # Registry reads are rare and small: a thread keeps them off the event loop.
            loaded = await asyncio.to_thread(self._load)
        except psycopg.Error as exc:
            log.warning(
                "meter registry not refreshed (%s); keeping %d meters", exc, len(self.profiles)
            )
            return
        if loaded is not None:
            self.meters, self.contexts, self.authorization, bounds = loaded
            self.installed, self.inventory_starts = bounds
            self.profiles = to_profiles(
                list(self.meters.values()), self.installed, self.inventory_starts
            )
            log.info(
                "meter registry loaded: %d meters; gateway grants enforced in %d park(s);"
                " fingerprint %s",
                len(self.profiles),
                len(self.authorization.enforcing_parks),
                self._version[0][1] if self._version else "",
            )
        self._loaded.set()

    def _load(
        self,
    ) -> (
        tuple[
            dict[str, Meter],
            dict[str, FactorContext],
            SourceAuthorization,
            tuple[dict[str, int], dict[str, int]],
        ]
        | None
    ):
        with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
            version = (registry_version(conn), gateways_version(conn))
            if version == self._version:
                return None
            meters = {m.meter_id: m for m in all_meters(conn)}
            contexts = enterprise_contexts(conn)
            authorization = SourceAuthorization(
                all_gateways(conn),
                {m.meter_id: m.enterprise_id for m in meters.values()},
                enterprise_parks(conn),
            )
            # History bounds: each meter's installation, its park's inventory start.
            bounds = (installed_ms(conn), inventory_starts_ms(conn))
            self._version = version
            return meters, contexts, authorization, bounds

    def missing(self, decoded: Sequence[DecodedColumns]) -> bool:
        """Whether these decoded messages name a meter this cache does not know."""
        named: set[str] = set()
        for d in decoded:
            if d.batch is not None:
                named.update(d.batch.meter_id)
        return not named <= self.profiles.keys()
