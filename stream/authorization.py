"""Which gateway may send which meter: the registry's gateway grants as the worker checks them.

The rule (migration 0014, clause 8.4 — activity data only from known, controlled sources):

* A park *enforces* once it has at least one registered gateway (any status). A park without
  gateway registrations accepts every source, as before grants existed.
* In an enforcing park, a reading that a gateway collected (source ``modbus``, ``opcua`` or
  ``mqtt``) is accepted only if its ``gateway_id`` is registered, active, and granted the
  meter — the meter itself or its whole enterprise. Anything else, including a meter no
  gateway claims and a gateway nobody registered, is quarantined as ``UNAUTHORIZED_SOURCE``.
* EMS pushes (source ``ems``: ``POST /v1/readings`` and ``parkcarbon backfill``) are not gateway
  traffic: the API already confined them to its key's enterprise, the backfill is an operator's
  import. They are accepted as before.
* A meter outside the registry stays UNKNOWN_METER: that is checked first.

The hot path asks once per (message, meter) of a batch, and each (gateway, meter) verdict is
remembered until the grants or the registry change, when the worker builds a new map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contracts.records import Source
from store.gateways import GatewayGrant

# Sources a gateway collects; ``ems`` comes through the API (or an operator's backfill).
GATEWAY_SOURCES = frozenset(
    {Source.MODBUS, Source.OPCUA, Source.DLT645, Source.MQTT, Source.IEC104}
)
_MAX_VERDICTS = 100_000  # forged gateway ids must not grow the memo without bound


class SourceAuthorization:
    """The grants of every registered gateway over the meters of enforcing parks."""

    def __init__(
        self,
        grants: Iterable[GatewayGrant],
        meter_enterprise: Mapping[str, str],
        enterprise_park: Mapping[str, str],
    ) -> None:
        self._grants = {g.gateway_id: g for g in grants}
        self.enforcing_parks = frozenset(g.park_id for g in self._grants.values())
        # Only meters of enforcing parks are guarded: (enterprise, park) of each.
        self._guarded: dict[str, tuple[str, str]] = {}
        for meter_id, enterprise_id in meter_enterprise.items():
            park = enterprise_park.get(enterprise_id)
            if park in self.enforcing_parks:
                self._guarded[meter_id] = (enterprise_id, park)
        self._verdicts: dict[tuple[str, str], str | None] = {}

    @classmethod
    def empty(cls) -> SourceAuthorization:
        """No registrations anywhere: nothing is guarded."""
        return cls((), {}, {})

    def guards(self, meter_id: str) -> bool:
        """Whether gateway readings of this meter are checked (its park enforces)."""
        return meter_id in self._guarded

    def refusal(self, gateway_id: str, meter_id: str) -> str | None:
        """Why ``gateway_id`` may not send ``meter_id`` (None: it may). Only for a guarded
        meter; an unguarded one is never refused."""
        key = (gateway_id, meter_id)
        if key in self._verdicts:
            return self._verdicts[key]
        verdict = self._judge(gateway_id, meter_id)
        if len(self._verdicts) >= _MAX_VERDICTS:
            self._verdicts.clear()
        self._verdicts[key] = verdict
        return verdict

    def _judge(self, gateway_id: str, meter_id: str) -> str | None:
        place = self._guarded.get(meter_id)
        if place is None:
            return None
        enterprise_id, park_id = place
        grant = self._grants.get(gateway_id)
        if grant is None:
            return (
                f"gateway {gateway_id} is not registered; park {park_id} accepts meter"
                f" {meter_id} only from a gateway granted it"
            )
        if not grant.active:
            return f"gateway {gateway_id} is disabled"
        if meter_id in grant.meter_ids or enterprise_id in grant.enterprise_ids:
            return None
        return (
            f"gateway {gateway_id} is not granted meter {meter_id}"
            f" (enterprise {enterprise_id}, park {park_id})"
        )
