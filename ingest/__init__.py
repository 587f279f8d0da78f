"""The edge gateway: Modbus TCP and OPC UA collectors, a durable buffer, the Kafka forwarder.

Collectors turn meter values into ``contracts.records.ReadingBatch`` objects (one per device poll
cycle or OPC UA publish) and hand them to a ``ReadingSink``; the store-and-forward buffer is the
sink, and the forwarder drains it to ``readings.raw``. Nothing here knows emission factors.
"""
