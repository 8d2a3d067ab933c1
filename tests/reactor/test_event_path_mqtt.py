"""The shop floor runs for real: machines (here a plain MQTT client that publishes what a
machine would, not the twin) report over the real Mosquitto; the shop runtime stores and
applies their events: operations start and finish, TPM counts, an out-of-spec part raises an
alert and holds its lot, a breakdown triggers a replan. On SQLite and on PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest

from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.orders import OrderStatus, WorkStatus
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.runtime import ShopRuntime
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for

from .conftest import Machine, Shop

pytestmark = pytest.mark.mqtt


class MachineClient:
    """A machine's own MQTT client: QoS 1 publishes on its topics, nothing of ours."""

    def __init__(self, broker: tuple[str, int], root: str) -> None:
        self.root = root
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"machine-{uuid.uuid4().hex[:8]}"
        )
        self.client.connect(*broker)
        self.client.loop_start()

    def send(self, shop: Shop, event: Event) -> None:
        area = shop.factory.machine_map[event.machine].area
        topic = topic_for(shop.factory.site.id, area, event.machine, event.kind, self.root)
        self.client.publish(topic, event.to_json(), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the shop did not get there in time"
        time.sleep(0.05)


@pytest.fixture
def runtime(shop: Shop, mqtt_broker: tuple[str, int]) -> Iterator[tuple[ShopRuntime, str]]:
    root = f"t{uuid.uuid4().hex[:10]}"
    bus = MqttBus(MqttSettings(host=mqtt_broker[0], port=mqtt_broker[1], client_id=f"shop-{root}"))
    ingester = Ingester(
        shop.container.telemetry(),
        clock=shop.clock,
        known_machines=list(shop.factory.machine_map),
        settings=IngestSettings(root=root, max_future=None, max_delay_s=0.02),
    )
    rt = ShopRuntime(
        ingester,
        shop.container.reactor(shop.factory),
        shop.container.planning(clock=shop.clock),
        poll_s=0.2,
    )
    rt.start()
    ingester.attach(bus, f"{root}/v1/#")
    try:
        yield rt, root
    finally:
        bus.close()
        rt.stop(30.0)


def test_machines_over_mqtt_drive_the_plan(
    shop: Shop, runtime: tuple[ShopRuntime, str], mqtt_broker: tuple[str, int]
) -> None:
    rt, root = runtime
    machine = MachineClient(mqtt_broker, root)
    try:
        printing = shop.op("SO-1-1", 1)
        printer = Machine(printing.machine)
        machine.send(shop, printer.state(MachineState.EXECUTING, MachineMode.PROCESSING))
        machine.send(shop, printer.job("started", printing.operation, "SO-1-1"))
        wait_for(lambda: shop.operation(printing.operation).status == WorkStatus.RUNNING)
        with shop.container.uow() as tx:
            assert tx.orders.get("SO-1").status == OrderStatus.IN_PRODUCTION
        for _ in range(5):
            machine.send(shop, printer.counter(1, wo="SO-1-1"))
        machine.send(shop, printer.job("finished", printing.operation, "SO-1-1", good=5))
        machine.send(shop, printer.state(MachineState.NOT_EXECUTING, minutes=60))
        wait_for(lambda: shop.operation(printing.operation).status == WorkStatus.DONE)
        op = shop.operation(printing.operation)
        assert (op.good, op.machine) == (5, printer.id)

        def counted() -> bool:
            with shop.container.uow() as tx:
                usage = tx.usage.usage(printer.id)
            return bool(usage) and all(u.cycles == 5 and u.run_hours > 1.0 for u in usage.values())

        wait_for(counted)  # TPM: five cycles, over an hour of processing

        inspect = Machine("inspect")
        machine.send(shop, inspect.measure("hole_pitch", 40.6, "LOT-SO-2-1", "SO-2-1-001"))

        def held() -> bool:
            with shop.container.uow() as tx:
                return tx.quality.held_lots() == {"LOT-SO-2-1"}

        wait_for(held)
        with shop.container.uow() as tx:
            alerts = tx.quality.alerts(lot_id="LOT-SO-2-1")
        assert [a["kind"] for a in alerts] == ["out_of_spec"] and alerts[0]["ncr"]

        victim = shop.op("SO-2-1", 1).machine
        broken = Machine(victim)
        before = shop.container.planning().current()
        assert before is not None
        machine.send(
            shop,
            broken.state(MachineState.OUT_OF_SERVICE, MachineMode.MAINTENANCE, "breakdown:x"),
        )

        def replanned() -> bool:
            now = shop.container.planning().current()
            return now is not None and now.version > before.version and "breakdown" in now.reason

        wait_for(replanned)
        assert rt.reactor is not None and rt.reactor.counters.rejected == 0
        assert rt.as_dict()["applied"] == rt.reactor.counters.applied == 11  # every event sent
    finally:
        machine.close()
