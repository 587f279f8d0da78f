"""The demo park's field lines, as `parkcarbon demo field` runs them (all on 127.0.0.1):

- an RS-485 line of Modbus RTU electricity meters behind a serial device server: one pymodbus
  server speaking RTU frames over TCP with several unit ids (``ModbusFarm`` with the RTU framer);
- a DL/T 645-2007 revenue meter behind a device server's raw TCP port
  (``simulators.dlt645_meter``, written from the standard's frame definition);
- a Mosquitto broker (``deploy.mosquitto``) and an EMQX Neuron-style publisher
  (``simulators.neuron_publisher``) sending the boiler house's flow computers every cycle.

``field_park`` starts them, yields where they listen, and stops them; ``demo.field_gateway_config``
turns that into the gateway config. The meters' registry rows are ``demo.field_meters``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymodbus.framer import FramerType

from deploy import demo
from deploy.mosquitto import Mosquitto, free_port
from simulators import register_state
from simulators.dlt645_meter import Line, SimulatedMeter, register_values, serve_tcp
from simulators.meters import MeterState
from simulators.modbus_farm import ModbusFarm
from simulators.neuron_publisher import Group, NeuronPublisher, Tag
from simulators.profiles import Carrier, SimClock

REFRESH_S = 1.0  # how often the DL/T 645 meter's registers follow its load


@dataclass
class FieldPark:
    """Where the running field lines listen, and the gateway config's RTU line entry."""

    rtu_line: dict[str, Any]
    dlt645_port: int
    mqtt_port: int
    published: NeuronPublisher

    def gateway_config(self, *, buffer_path: str, metrics_port: int,
                       kafka_bootstrap: str) -> dict[str, Any]:  # fmt: skip
        return demo.field_gateway_config(
            self.rtu_line,
            dlt645_port=self.dlt645_port,
            mqtt_port=self.mqtt_port,
            buffer_path=buffer_path,
            metrics_port=metrics_port,
            kafka_bootstrap=kafka_bootstrap,
        )


def _neuron_group(clock: SimClock, saved: dict[str, float]) -> tuple[Group, dict[str, MeterState]]:
    """The boiler house's flow computers: a steam and a gas meter, each a counter and a rate."""
    meters = {
        carrier: MeterState(f"NEU-BH.{carrier}", carrier, clock, seed=100 + i)
        for i, carrier in enumerate((Carrier.STEAM, Carrier.GAS))
    }
    by_tag: dict[str, MeterState] = {}
    tags = []
    for t in demo.NEURON_TAGS:
        meter = meters[t.carrier]
        if t.cumulative:
            meter.total = saved.get(t.meter_id, meter.total)  # counters carry on
            by_tag[t.meter_id] = meter

            def value(m: MeterState = meter) -> float:
                m.advance()
                return m.total

        else:

            def value(m: MeterState = meter) -> float:
                m.advance()
                return m.rate

        tags.append(Tag(t.tag, value))
    return Group(demo.NEURON_NODE, demo.NEURON_GROUP, tuple(tags)), by_tag


@contextlib.asynccontextmanager
async def field_park(
    state: Path,
    *,
    rtu_port: int = demo.RTU_PORT,
    dlt645_port: int = demo.DLT645_PORT,
    mqtt_port: int = demo.MQTT_PORT,
    publish_interval_s: float = demo.INTERVAL_S,
) -> AsyncIterator[FieldPark]:
    """Run the field lines until the block ends; a port of 0 takes any free one. Counter values
    are kept in ``state/registers.json`` so a restart carries on counting."""
    await asyncio.to_thread(state.mkdir, parents=True, exist_ok=True)
    saved_path = state / "registers.json"
    saved = register_state.load(saved_path)
    clock = SimClock()

    farm = ModbusFarm(demo.rtu_park(), base_port=rtu_port, per_server=247, framer=FramerType.RTU)
    for meter_id, total in saved.items():
        if meter_id in farm.meters:
            farm.meters[meter_id].total = total

    revenue = MeterState(f"DLT-{demo.DLT645_ADDRESS}", Carrier.ELECTRICITY, clock, seed=200)
    revenue.total = saved.get(revenue.meter_id, revenue.total)
    dlt_meter = SimulatedMeter(demo.DLT645_ADDRESS)
    line = Line([dlt_meter])

    def refresh() -> None:
        revenue.advance()
        dlt_meter.values.update(register_values(revenue.total, revenue.rate))

    group, neuron_counters = _neuron_group(clock, saved)

    def counters() -> dict[str, float]:
        values = {m: s.total for m, s in farm.meters.items()}
        values[revenue.meter_id] = revenue.total
        values.update({m: s.total for m, s in neuron_counters.items()})
        return values

    broker = Mosquitto(state / "mosquitto", port=mqtt_port or free_port())
    await asyncio.to_thread(broker.start)
    tasks: list[asyncio.Task[None]] = []
    publisher = NeuronPublisher("127.0.0.1", broker.port, app=demo.NEURON_APP, groups=(group,))
    try:
        await farm.start()
        refresh()
        async with serve_tcp(line, "127.0.0.1", dlt645_port) as dlt_port:
            await asyncio.to_thread(publisher.connect)

            async def publish_every_cycle() -> None:
                while True:
                    await asyncio.to_thread(publisher.publish)
                    await asyncio.sleep(publish_interval_s)

            async def refresh_every_second() -> None:
                while True:
                    await asyncio.sleep(REFRESH_S)
                    refresh()

            tasks = [
                asyncio.create_task(publish_every_cycle()),
                asyncio.create_task(refresh_every_second()),
                asyncio.create_task(register_state.keep_saving(saved_path, counters)),
            ]
            yield FieldPark(
                farm.line_config(demo.RTU_LINE, poll_interval_s=demo.INTERVAL_S),
                dlt_port,
                broker.port,
                publisher,
            )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        register_state.save(saved_path, counters())
        publisher.close()
        await farm.stop()
        await asyncio.to_thread(broker.stop)
