"""Soak: the demo factory's shop-floor traffic, sped up, through MQTT into PostgreSQL for a
long time. Reports events lost (must be 0), the ingester's memory over time (RSS growth) and
publish → stored latency (p50 / p99 / max) per minute.

1. Capture: the demo (digital twin of the demo factory, closed loop) runs `--capture-days`
   simulated days over a private Mosquitto; a recorder keeps every message it publishes.
2. Replay at `--speed` times the factory's real rate (10: ten simulated hours per hour) for
   `--minutes`: each event gets a fresh id, continues its machine's sequence (the capture is
   looped) and is stamped with the wall-clock time it is sent (its samples keep their offsets),
   and goes out through one edge buffer per area (end-to-end acknowledgement: deleted on the
   store's receipt) to a private Mosquitto with the shipped configuration.
3. Consumer: `microfactory ingest --via mqtt` (the real CLI, its own process) into a scratch
   PostgreSQL database. Its RSS and CPU time are sampled every `--sample-s` seconds.
4. At the end: wait until every edge buffer is empty (all confirmed by the store), stop the
   ingester with SIGTERM, and compare what was sent with what is stored.

    .venv/bin/python benchmarks/soak/soak.py --minutes 60 --speed 10 --out soak.json

The lead's reactor (`microfactory.services.reactor`) is used when importable and `--reactor`
is given (the demo factory is loaded so that `ingest` applies the events); otherwise the run
is store-only, and the output says so.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from microfactory.connect.edge import EdgeBuffer, EdgePublisher
from microfactory.connect.mosquitto import REPO_CONF, PrivateMosquitto
from microfactory.connect.mqtt import MqttBus, MqttSettings
from microfactory.shopfloor.events import Event, SampleBatch, parse_event
from microfactory.shopfloor.topics import parse_topic

PG_ADMIN = os.environ.get(
    "MICROFACTORY_SOAK_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CAPTURE_ROOT = "soakcap"
ROOT = "soak"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# 1. capture -----------------------------------------------------------------------------------
def capture(days: float, seed: int) -> list[tuple[str, bytes]]:
    from microfactory.bootstrap import DEMO_FACTORY, bootstrap
    from microfactory.cli.demo import run_demo

    got: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    with PrivateMosquitto(REPO_CONF) as broker, tempfile.TemporaryDirectory() as tmp:
        host, port = broker.address
        recorder = MqttBus(MqttSettings(host=host, port=port, client_id="soak-recorder"))

        def keep(m: Any) -> None:
            with lock:
                got.append((m.topic, m.payload))
            recorder.ack(m)

        recorder.subscribe(f"{CAPTURE_ROOT}/#", keep)
        container = bootstrap(db_url=f"sqlite:///{tmp}/capture.db")
        try:
            run_demo(
                container,
                days=days,
                seed=seed,
                bus="mqtt",
                factory_file=DEMO_FACTORY,
                mqtt_host=host,
                mqtt_port=port,
                root=CAPTURE_ROOT,
            )
        finally:
            container.close()
        size, quiet = -1, time.monotonic()
        while time.monotonic() - quiet < 2.0:
            time.sleep(0.2)
            if len(got) != size:
                size, quiet = len(got), time.monotonic()
        recorder.close()
    return got


# 2. replay --------------------------------------------------------------------------------------
class Replay:
    """The captured traffic as an endless, paced stream with fresh ids and continuing seqs."""

    def __init__(self, captured: list[tuple[str, bytes]]) -> None:
        items = []
        for topic, payload in captured:
            where = parse_topic(topic, CAPTURE_ROOT)
            items.append((where.site, where.area, parse_event(payload)))
        items.sort(key=lambda x: x[2].ts)
        self.items = items
        self.t0 = items[0][2].ts
        span = (items[-1][2].ts - self.t0).total_seconds()
        self.span_s = span + span / max(len(items), 1)  # one mean step between two loops
        self.per_machine: dict[str, int] = defaultdict(int)
        for _, _, e in items:
            self.per_machine[e.machine] = max(self.per_machine[e.machine], e.seq + 1)
        self.areas = sorted({(s, a) for s, a, _ in items})

    def at(self, i: int) -> tuple[float, str, str, Event]:
        """The i-th event of the endless stream: (simulated seconds from the start, site, area,
        the event as captured)."""
        loop, k = divmod(i, len(self.items))
        site, area, e = self.items[k]
        return loop * self.span_s + (e.ts - self.t0).total_seconds(), site, area, e

    def fresh(self, i: int, e: Event, now: datetime) -> Event:
        loop = i // len(self.items)
        update: dict[str, Any] = {
            "event_id": f"{e.event_id}-L{loop}-{uuid.uuid4().hex[:6]}"[:64],
            "seq": e.seq + loop * self.per_machine[e.machine],
            "ts": now,
        }
        if isinstance(e, SampleBatch):
            update["samples"] = [
                s if s.ts is None else s.model_copy(update={"ts": now - (e.ts - s.ts)})
                for s in e.samples
            ]
        return e.model_copy(update=update)


# 3. monitor -------------------------------------------------------------------------------------
def proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"rss_mb": rss / 1024, "cpu_s": (int(fields[11]) + int(fields[12])) / ticks}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return (
        0.0
        if den == 0
        else 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=10.0, help="x the factory's real rate")
    parser.add_argument("--capture-days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=60.0, help="RSS baseline after this")
    parser.add_argument("--reactor", action="store_true", help="apply events (if available)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    reactor = args.reactor and importlib.util.find_spec("microfactory.services.reactor") is not None

    log(f"capturing {args.capture_days} simulated days of the demo factory")
    captured = capture(args.capture_days, args.seed)
    replay = Replay(captured)
    factory_rate = len(replay.items) / replay.span_s
    hours = replay.span_s / 3600
    log(f"captured {len(captured)} events over {hours:.1f} simulated hours")
    log(f"factory: {factory_rate * 3600:.1f} events/h; replaying at {args.speed}x")

    db = f"soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
    tmp = Path(tempfile.mkdtemp(prefix="mf-soak-"))
    broker = PrivateMosquitto(REPO_CONF)
    broker.start()
    host, port = broker.address
    env = {**os.environ, "COLUMNS": "200"}
    if reactor:
        subprocess.run([sys.executable, "-m", "microfactory", "init", "--db", url], check=True,
                       env=env, capture_output=True)  # fmt: skip
    else:
        from microfactory.store.base import make_engine
        from microfactory.store.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    ingest = subprocess.Popen(
        [sys.executable, "-m", "microfactory", "ingest", "--via", "mqtt", "--db", url,
         "--broker", f"{host}:{port}", "--client-id", "soak-ingest", "--root", ROOT,
         "--report-s", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert ingest.stderr is not None
    log(ingest.stderr.readline().strip())
    threading.Thread(target=ingest.stderr.read, daemon=True).start()

    edges: dict[tuple[str, str], EdgePublisher] = {}
    buses = []
    for site, area in replay.areas:
        bus = MqttBus(MqttSettings(host=host, port=port, client_id=f"soak-edge-{area}"))
        buses.append(bus)
        edges[(site, area)] = EdgePublisher(
            bus, EdgeBuffer(tmp / f"edge-{area}.db"), site=site, area=area, root=ROOT
        )

    samples: list[dict[str, float]] = []
    stop = threading.Event()
    started = time.monotonic()
    sent = 0

    def monitor() -> None:
        while not stop.wait(args.sample_s):
            try:
                row = {"t_s": round(time.monotonic() - started, 1), **proc_stats(ingest.pid)}
                row["broker_rss_mb"] = proc_stats(broker.proc.pid)["rss_mb"] if broker.proc else 0
                row["sent"] = sent
                row["unconfirmed"] = sum(len(e.buffer) for e in edges.values())
                samples.append(row)
            except (OSError, StopIteration, ValueError) as exc:
                log(f"monitor: {exc}")

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    wall0 = datetime.now(UTC)
    deadline = started + 60 * args.minutes
    i = 0
    while True:
        offset, site, area, event = replay.at(i)
        due = started + offset / args.speed
        if due >= deadline:  # the run lasts its full duration, however sparse the traffic
            time.sleep(max(0.0, deadline - time.monotonic()))
            break
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        now = wall0 + timedelta(seconds=time.monotonic() - started)
        edges[(site, area)].publish(replay.fresh(i, event, now))
        sent += 1
        i += 1
        if i % 5000 == 0:
            log(f"sent {sent}, unconfirmed {sum(len(e.buffer) for e in edges.values())}")
    log(f"sent {sent}; waiting for every edge buffer to be confirmed by the store")
    drain0 = time.monotonic()
    emptied = all(e.wait_empty(300) for e in edges.values())
    drain_s = time.monotonic() - drain0
    stop.set()
    watcher.join(5)
    ingest.send_signal(signal.SIGTERM)
    out, _ = ingest.communicate(timeout=120)
    counters = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    for edge in edges.values():
        edge.close()
    for bus in buses:
        bus.close()
    broker.remove()
    shutil.rmtree(tmp, ignore_errors=True)

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM tm_events")).scalar_one()
        rows = conn.execute(text("SELECT ts_us, received_us FROM tm_events")).all()
        gaps = conn.execute(text("SELECT count(*) FROM tm_seq_gaps")).scalar_one()
        letters = conn.execute(text("SELECT count(*) FROM tm_dead_letters")).scalar_one()
        stored_samples = conn.execute(text("SELECT count(*) FROM tm_samples")).scalar_one()
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()

    t0_us = int(wall0.timestamp() * 1e6)
    per_minute: dict[int, list[float]] = defaultdict(list)
    for ts_us, received_us in rows:
        per_minute[(ts_us - t0_us) // 60_000_000].append((received_us - ts_us) / 1000)
    latency = [
        {
            "minute": m,
            "events": len(v),
            "p50_ms": round(percentile(v, 0.5), 1),
            "p99_ms": round(percentile(v, 0.99), 1),
            "max_ms": round(max(v), 1),
        }
        for m, v in sorted(per_minute.items())
    ]
    steady = [s for s in samples if s["t_s"] >= args.warmup_s] or samples
    rss = [(s["t_s"], s["rss_mb"]) for s in steady]
    all_latencies = [x for v in per_minute.values() for x in v]
    result = {
        "when": wall0.isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "speed": args.speed,
        "reactor": reactor,
        "mode": "store and apply (reactor)" if reactor else "store only",
        "factory_events_per_hour": round(factory_rate * 3600, 1),
        "events_per_s": round(sent / (60 * args.minutes), 2),
        "sent": sent,
        "stored": stored,
        "samples_stored": stored_samples,
        "lost": sent - stored,
        "edges_emptied": emptied,
        "drain_s": round(drain_s, 1),
        "gaps": gaps,
        "dead_letters": letters,
        "latency_ms": {
            "p50": round(percentile(all_latencies, 0.5), 1),
            "p99": round(percentile(all_latencies, 0.99), 1),
            "max": round(max(all_latencies), 1) if all_latencies else None,
        },
        "rss_mb": {
            "after_warmup": round(rss[0][1], 1) if rss else None,
            "end": round(rss[-1][1], 1) if rss else None,
            "max": round(max(r for _, r in rss), 1) if rss else None,
            "growth": round(rss[-1][1] - rss[0][1], 1) if rss else None,
            "slope_per_hour": round(slope_per_hour(rss), 2),
        },
        "ingester_cpu_s": round(samples[-1]["cpu_s"], 1) if samples else None,
        "ingester": counters,
        "latency_per_minute": latency,
        "samples": samples,
        "load_avg": os.getloadavg(),
    }
    text_out = json.dumps(result)
    print(text_out)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
