"""Reactor benchmark (issue: the shop floor runs for real).

1. In-process: a mix of job, state, counter and measurement events of a planned shop, stored
   by the ingester (store only), then applied by the reactor; events/s of each, same run.
2. Over MQTT (the real Mosquitto): machines publish the same mix at a steady rate into the
   shop runtime (ingester + reactor + planner); latency from publish to *stored* (what a
   store-only ingester gives) and from publish to *applied* (the state change is visible),
   p50/p95/p99, same run.

Prints one JSON object. Example:
    python benchmarks/reactor/run.py --events 20000 --rate 1000 --seconds 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.core.clock import FixedClock, SystemClock
from microfactory.orders import Factory, OrderLine
from microfactory.services.factory import init_factory
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.planning import PlanningSettings
from microfactory.shopfloor.events import Event, JobEvent, Measurement, PartCounter, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def shop(url: str, orders: int) -> tuple[Container, Factory, list[Any]]:
    container = bootstrap(db_url=url)
    factory = init_factory(container.uow, DEMO_FACTORY)
    with container.uow() as tx:
        for n in range(orders):
            req = OrderRequest(
                customer="acme",
                lines=(OrderLine("bracket", 5, {"colour": "black"}),),
                due=T0 + timedelta(days=30),
                order_id=f"SO-{n:05d}",
            )
            place_order(tx, req, T0 - timedelta(hours=1))
            release_order(tx, req.order_id or "", T0 - timedelta(hours=1))
        tx.commit()
    plan = container.planning(PlanningSettings(strategy="dispatch"), FixedClock(T0)).plan(
        "benchmark", release_confirmed=False
    )
    return container, factory, list(plan.operations)


class Machines:
    def __init__(self, ts: datetime) -> None:
        self.seq: dict[str, itertools.count[int]] = {}
        self.ts = ts

    def base(self, machine: str) -> dict[str, Any]:
        self.ts += timedelta(seconds=1)
        counter = self.seq.setdefault(machine, itertools.count())
        return {
            "event_id": uuid.uuid4().hex,
            "machine": machine,
            "seq": next(counter),
            "ts": self.ts,
        }


def mix(planned: list[Any], n: int, rng: random.Random, ts: datetime = T0) -> list[Event]:
    """Jobs of the plan (start, finish) and, around them, the states, part counters and
    inspection measurements the machines send: ~12 % job, 30 % state, 45 % counter,
    13 % measurement."""
    m = Machines(ts)
    events: list[Event] = []
    ops = iter(planned)
    machines = sorted({p.machine for p in planned} | {"laser", "inspect"})
    processing: dict[str, bool] = {}
    while len(events) < n:
        r = rng.random()
        if r < 0.12:
            p = next(ops, None)
            if p is None:
                continue
            events.append(
                JobEvent(
                    **m.base(p.machine),
                    action="started",
                    work_order=p.work_order,
                    operation=p.operation,
                )
            )
            events.append(
                JobEvent(
                    **m.base(p.machine),
                    action="finished",
                    work_order=p.work_order,
                    operation=p.operation,
                    good=5,
                )
            )
        elif r < 0.42:
            mach = rng.choice(machines)
            on = not processing.get(mach, False)
            processing[mach] = on
            state = MachineState.EXECUTING if on else MachineState.NOT_EXECUTING
            mode = MachineMode.PROCESSING if on else MachineMode.IDLE
            events.append(StateChanged(**m.base(mach), state=state, mode=mode))
        elif r < 0.87:
            events.append(
                PartCounter(**m.base(rng.choice(machines)), good=1, reject=rng.random() < 0.02)
            )
        else:
            p = rng.choice(planned)
            value = round(40 + rng.gauss(0, 0.03), 4)
            events.append(
                Measurement(
                    **m.base("inspect"),
                    characteristic="hole_pitch",
                    value=value,
                    unit="mm",
                    lot_id=f"LOT-{p.work_order}",
                    part_id=f"{p.work_order}-x",
                )
            )
    return events[:n]


def wire(
    factory: Factory, events: list[Event], root: str = "microfactory"
) -> list[tuple[str, bytes]]:
    areas = {x.id: x.area for x in factory.machines}
    return [
        (topic_for(factory.site.id, areas[e.machine], e.machine, e.kind, root), e.to_json())
        for e in events
    ]


def in_process(n: int, db: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'reactor.db'}"
        container, factory, planned = shop(url, max(10, n // 50))
        try:
            events = mix(planned, n, random.Random(7))
            messages = wire(factory, events)
            ingester = Ingester(
                container.telemetry(),
                clock=FixedClock(T0 + timedelta(days=2)),
                known_machines=list(factory.machine_map),
                settings=IngestSettings(max_future=None),
            )
            began = time.perf_counter()
            for i in range(0, len(messages), 2000):
                ingester.process(messages[i : i + 2000])
            stored_s = time.perf_counter() - began
            reactor = container.reactor(factory)
            began = time.perf_counter()
            out = reactor.catch_up()
            applied_s = time.perf_counter() - began
        finally:
            container.close()
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return {
        "events": n,
        "mix": kinds,
        "store_only_events_per_s": round(n / stored_s),
        "reactor_events_per_s": round(out.applied / applied_s),
        "applied": out.applied,
        "rejected": out.rejected,
        "store_seconds": round(stored_s, 3),
        "reactor_seconds": round(applied_s, 3),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100)
    return {
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def over_mqtt(
    rate: float, seconds: float, broker: tuple[str, int], db: str | None
) -> dict[str, Any]:
    import paho.mqtt.client as mqtt

    from microfactory.connect.mqtt import MqttBus, MqttSettings
    from microfactory.services.reactor import Applied
    from microfactory.services.runtime import ShopRuntime

    n = int(rate * seconds)
    root = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'reactor-mqtt.db'}"
        container, factory, planned = shop(url, max(10, n // 50))
        now = datetime.now(UTC)
        events = mix(planned, n, random.Random(11), ts=now - timedelta(hours=1))
        messages = wire(factory, events, root)
        published: dict[str, float] = {}
        stored: dict[str, float] = {}
        applied_at: dict[int, float] = {}

        def on_applied(out: Applied) -> None:
            applied_at[out.last] = time.perf_counter()

        bus = MqttBus(MqttSettings(host=broker[0], port=broker[1], client_id=f"shop-{root}"))
        ingester = Ingester(
            container.telemetry(),
            clock=SystemClock(),
            known_machines=list(factory.machine_map),
            settings=IngestSettings(root=root, max_future=None, max_delay_s=0.02),
            on_commit=lambda r: stored.update({e.event_id: time.perf_counter() for e in r.stored}),
        )
        reactor = container.reactor(factory, listeners=[on_applied])
        runtime = ShopRuntime(ingester, reactor, container.planning(), poll_s=0.5)
        runtime.start()
        ingester.attach(bus, f"{root}/v1/#")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{root}")
        client.connect(*broker)
        client.loop_start()
        try:
            began = time.perf_counter()
            for i, ((topic, payload), e) in enumerate(zip(messages, events, strict=True)):
                wait = began + i / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                published[e.event_id] = time.perf_counter()
                client.publish(topic, payload, qos=1)
            deadline = time.perf_counter() + 120
            while (
                reactor.counters.applied + reactor.counters.rejected < n
                and time.perf_counter() < deadline
            ):
                time.sleep(0.05)
        finally:
            client.loop_stop()
            client.disconnect()
            bus.close()
            runtime.stop(60)
        with container.engine.connect() as conn:
            positions = dict(conn.execute(text("SELECT event_id, id FROM tm_events")).all())
        container.close()
    ends = sorted(applied_at)
    import bisect

    def applied_time(pos: int) -> float | None:
        k = bisect.bisect_left(ends, pos)
        return applied_at[ends[k]] if k < len(ends) else None

    to_stored = [stored[e] - published[e] for e in published if e in stored]
    to_applied = []
    for e, t in published.items():
        pos = positions.get(e)
        at = None if pos is None else applied_time(int(pos))
        if at is not None:
            to_applied.append(at - t)
    return {
        "rate_per_s": rate,
        "events": n,
        "stored": len(to_stored),
        "applied": reactor.counters.applied,
        "rejected": reactor.counters.rejected,
        "publish_to_stored": percentiles(to_stored),
        "publish_to_applied": percentiles(to_applied),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--broker", default="127.0.0.1:1883")
    ap.add_argument("--db", default=None, help="a database URL (default: a temporary SQLite file)")
    ap.add_argument("--skip-mqtt", action="store_true")
    args = ap.parse_args(argv)
    out: dict[str, Any] = {"in_process": in_process(args.events, args.db)}
    if not args.skip_mqtt:
        host, _, port = args.broker.rpartition(":")
        out["mqtt"] = over_mqtt(args.rate, args.seconds, (host, int(port)), args.db)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
