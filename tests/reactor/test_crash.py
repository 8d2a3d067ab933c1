"""Exactly once in effect, across crashes: the shop runtime (`microfactory ingest`, which
stores and applies) is killed with SIGKILL at random points of a stream of machine events and
restarted; at the end every event has been applied exactly once — the counts, states and
quantities in the database equal a reference computed from the stream alone."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict

import paho.mqtt.client as mqtt
import pytest

from microfactory.orders import WorkStatus
from microfactory.shopfloor.events import Event, JobEvent, Measurement, PartCounter, StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import topic_for

from .conftest import Machine, Shop

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
KILLS = 3


def stream(shop: Shop, rng: random.Random) -> list[Event]:
    """Interleaved traffic of five machines: processing spans with part counters, the two
    prints of the plan started and finished, in-spec measurements at inspection."""
    machines = {m: Machine(m) for m in ("fdm-01", "fdm-02", "fdm-03", "laser", "inspect")}
    per_machine: dict[str, list[Event]] = defaultdict(list)
    for m in ("fdm-01", "fdm-02", "fdm-03", "laser"):
        mach = machines[m]
        for _ in range(25):
            per_machine[m].append(mach.state(MachineState.EXECUTING, MachineMode.PROCESSING))
            per_machine[m].extend(
                mach.counter(1, rng.randint(0, 1)) for _ in range(rng.randint(3, 9))
            )
            per_machine[m].append(
                mach.state(MachineState.NOT_EXECUTING, minutes=rng.uniform(1, 20))
            )
    for wo in ("SO-1-1", "SO-2-1"):
        planned = shop.op(wo, 1)
        mach = machines.setdefault(planned.machine, Machine(planned.machine))
        per_machine[planned.machine] += [
            mach.job("started", planned.operation, wo),
            mach.job("finished", planned.operation, wo, good=rng.randint(3, 5), reject=1),
        ]
    per_machine["inspect"] = [
        machines["inspect"].measure(
            "hole_pitch", round(40 + rng.gauss(0, 0.02), 4), "LOT-SO-1-1", f"P-{i}"
        )
        for i in range(60)
    ]
    # each machine's events in its own order, machines interleaved at random
    queues = [list(reversed(events)) for events in per_machine.values()]
    out: list[Event] = []
    while queues:
        q = rng.choice(queues)
        out.append(q.pop())
        if not q:
            queues.remove(q)
    return out


def reference(events: list[Event]) -> dict[str, object]:
    """What applying each event once must leave, computed from the stream alone."""
    cycles: dict[str, int] = defaultdict(int)
    hours: dict[str, float] = defaultdict(float)
    since: dict[str, object] = {}
    ops: dict[str, tuple[str, int, int]] = {}
    measurements = 0
    for e in events:
        if isinstance(e, PartCounter):
            cycles[e.machine] += e.good + e.reject
        elif isinstance(e, StateChanged):
            start = since.pop(e.machine, None)
            if start is not None:
                hours[e.machine] += (e.ts - start).total_seconds() / 3600  # type: ignore[operator]
            if e.state == MachineState.EXECUTING and e.mode == MachineMode.PROCESSING:
                since[e.machine] = e.ts
        elif isinstance(e, JobEvent):
            ops[e.operation] = (e.action, e.good, e.reject)
        elif isinstance(e, Measurement):
            measurements += 1
    return {"cycles": dict(cycles), "hours": dict(hours), "ops": ops, "measurements": measurements}


def runtime_process(db_url: str, broker: tuple[str, int], root: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "microfactory",
            "ingest",
            "--via",
            "mqtt",
            "--db",
            db_url,
            "--broker",
            f"{broker[0]}:{broker[1]}",
            "--client-id",
            f"crash-{root}",
            "--root",
            root,
            "--max-delay-ms",
            "20",
            "--report-s",
            "3600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "storing and applying" in line, line + proc.stderr.read()
    return proc


def test_sigkill_at_random_points_applies_every_event_exactly_once(
    shop: Shop, mqtt_broker: tuple[str, int]
) -> None:
    rng = random.Random(20261206)
    events = stream(shop, rng)
    expected = reference(events)
    root = f"t{uuid.uuid4().hex[:10]}"
    url = str(shop.container.engine.url.render_as_string(hide_password=False))
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{root}")
    publisher.connect(*mqtt_broker)
    publisher.loop_start()
    site = shop.factory.site.id
    areas = {m.id: m.area for m in shop.factory.machines}
    proc = runtime_process(url, mqtt_broker, root)
    sent = threading.Event()

    def publish_all() -> None:
        for e in events:
            topic = topic_for(site, areas[e.machine], e.machine, e.kind, root)
            publisher.publish(topic, e.to_json(), qos=1)
            time.sleep(0.003)
        sent.set()

    thread = threading.Thread(target=publish_all)
    thread.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.5))  # a random point: storing, applying or planning
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            proc = runtime_process(url, mqtt_broker, root)
        assert sent.wait(120)

        def applied() -> int:
            with shop.container.uow() as tx:
                return tx.reactor.progress("shopfloor").applied

        deadline = time.monotonic() + 120
        while applied() < len(events) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        thread.join(30)
        publisher.loop_stop()
        publisher.disconnect()
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["stopped"] is True

    with shop.container.uow() as tx:
        progress = tx.reactor.progress("shopfloor")
        usage = {m: tx.usage.usage(m) for m in expected["cycles"]}  # type: ignore[attr-defined]
        ops = {op: tx.work_orders.get_operation(op) for op in expected["ops"]}  # type: ignore[attr-defined]
        measured = len(tx.quality.measurements(lot_id="LOT-SO-1-1"))
    assert shop.container.telemetry().counts()["events"] == len(events)
    assert (progress.applied, progress.rejected) == (len(events), 0)
    for machine, cycles in expected["cycles"].items():  # type: ignore[attr-defined]
        assert {u.cycles for u in usage[machine].values()} == {cycles}, machine
        run_hours = expected["hours"].get(machine, 0.0)  # type: ignore[attr-defined]
        assert {round(u.run_hours, 6) for u in usage[machine].values()} == {round(run_hours, 6)}
    for op_id, (action, good, reject) in expected["ops"].items():  # type: ignore[attr-defined]
        op = ops[op_id]
        assert action == "finished"
        assert (op.status, op.good, op.rejected) == (WorkStatus.DONE, good, reject)
    assert measured == expected["measurements"]
