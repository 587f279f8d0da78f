"""OperationLimits for the simulated OPC UA server: advertised, enforced and recorded.

OPC UA Part 5 6.3.11 lets a server publish per-call limits (MaxNodesPerRead,
MaxMonitoredItemsPerCall); a call over a limit fails with BadTooManyOperations. asyncua's server
advertises 10,000 and enforces nothing, so the simulator wraps the two services to enforce its
own values and to record the largest call each client made, which tests use to prove chunking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError


@dataclass(slots=True)
class OperationLimits:
    """Advertised and enforced per-call limits; 0 means "no limit" as in OPC UA Part 5."""

    max_nodes_per_read: int = 0
    max_monitored_items_per_call: int = 0
    largest_read: int = field(default=0, init=False)  # what clients actually sent
    largest_create: int = field(default=0, init=False)


async def apply_limits(server: Server, limits: OperationLimits) -> None:
    """Advertise ``limits`` in the server's OperationLimits nodes and enforce them."""
    for object_id, value in (
        (
            ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
            limits.max_nodes_per_read,
        ),
        (
            ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
            limits.max_monitored_items_per_call,
        ),
    ):
        await server.write_attribute_value(
            ua.NodeId.from_string(f"i={object_id}"),
            ua.DataValue(ua.Variant(value, ua.VariantType.UInt32)),
        )
    iserver = server.iserver
    read = iserver.attribute_service.read
    create = iserver.subscription_service.create_monitored_items

    def limited_read(params: ua.ReadParameters) -> list[ua.DataValue]:
        count = len(params.NodesToRead)
        limits.largest_read = max(limits.largest_read, count)
        if 0 < limits.max_nodes_per_read < count:
            raise UaStatusCodeError(StatusCodes.BadTooManyOperations)  # type: ignore[no-untyped-call]
        return read(params)

    async def limited_create(params: ua.CreateMonitoredItemsParameters) -> Any:
        count = len(params.ItemsToCreate)
        limits.largest_create = max(limits.largest_create, count)
        if 0 < limits.max_monitored_items_per_call < count:
            raise UaStatusCodeError(StatusCodes.BadTooManyOperations)  # type: ignore[no-untyped-call]
        return await create(params)

    # The server exposes no hook that runs before these services, so wrap them.
    setattr(iserver.attribute_service, "read", limited_read)  # noqa: B010
    setattr(iserver.subscription_service, "create_monitored_items", limited_create)  # noqa: B010
