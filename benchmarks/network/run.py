"""Network benchmark: site → hub replication over our own 3-node NATS JetStream cluster
(R3 streams), against a Mosquitto bridge between two brokers of our own in the same run,
and the latency of a network quote with 5 sites. Prints one JSON object.

    .venv/bin/python benchmarks/network/run.py [--events 40000] [--lag-seconds 15] \
        [--quotes 30] [--skip-quote]

What each figure means:
* throughput: two site databases each hold N committed events in their outbox; the hub
  (PostgreSQL) and both `network site` processes start; events/s = 2N / time until the hub
  stored the last one (outbox read + JetStream R3 publish with acks + consumer + PostgreSQL),
  once from the sites' start (with their ~2 s of Python start-up) and once between the first
  and the last record the hub stored.
* lag at 5,000 events/s: producers commit 2,500 events/s per site (event time = wall clock);
  lag = hub commit time − event time, p50 / p99 over every event.
* the peer: a publisher on broker A (QoS 1), A bridged to broker B (`topic mf/# out 1`), a
  subscriber on B (QoS 1); the same message count and payload size; no database at either
  end (a transport ceiling, not the same work).
* network quote: 5 `network site` processes (demo factory each) answer; the time from the
  request until all 5 offers are in, p50 / p95.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from tests.network.natscluster import NatsCluster, free_ports, server_version  # noqa: E402
from tests.network.support import Proc, Producer, site_database  # noqa: E402

from microfactory.store.base import make_engine  # noqa: E402
from microfactory.store.migrate import upgrade  # noqa: E402
from microfactory.store.network_tables import SqlHubStore  # noqa: E402

PG_ADMIN = os.environ.get(
    "MICROFACTORY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pg_database(name: str) -> str:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def replication(
    work: Path, cluster: NatsCluster, events: int, lag_seconds: float, pack: int
) -> dict:
    work = work / f"pack-{pack}"
    work.mkdir()
    hub_url = pg_database("mf_bench_network")
    hub = SqlHubStore(make_engine(hub_url))
    sites = ("site-a", "site-b")
    producers = {s: Producer(s, site_database(work / f"{s}.db", s), batch=500) for s in sites}
    for p in producers.values():  # the backlog: N events per site, committed before the start
        while len(p.produced) < events:
            p.write(500)
    nats = cluster.urls()
    nats_cpu_before = {m.name: cpu_seconds(m.proc.pid) for m in cluster.members if m.proc}
    hub_proc = Proc(
        ["network", "hub", "--nats", nats, "--db", hub_url, "--replicas", "3"], work, "hub"
    ).start()
    time.sleep(4)
    began = time.monotonic()
    procs = {
        s: Proc(
            [
                "network",
                "site",
                "--site",
                s,
                "--nats",
                nats,
                "--db",
                producers[s].url,
                "--pack",
                str(pack),
            ],
            work,
            s,
        ).start()
        for s in sites
    }
    total = 2 * events
    while (
        hub.counts_by_kind() == {}
        or sum(sum(k.values()) for k in hub.counts_by_kind().values()) < total
    ):
        time.sleep(0.2)
        if time.monotonic() - began > 600:
            raise RuntimeError("replication did not finish in 10 minutes")
    seconds = time.monotonic() - began  # includes the site processes' start (~2 s)
    with hub.engine.connect() as conn:
        first, last = conn.execute(
            text("SELECT min(received_at), max(received_at) FROM net_hub_records")
        ).one()
    steady = (last - first).total_seconds()
    cpu = {name: cpu_seconds(p.proc.pid) for name, p in [*procs.items(), ("hub", hub_proc)]}
    cpu.update(
        {
            m.name: cpu_seconds(m.proc.pid) - nats_cpu_before.get(m.name, 0.0)
            for m in cluster.members
            if m.proc
        }
    )
    # lag at 5,000 events/s: 2,500 per site, 50 events every 20 ms
    for p in producers.values():
        p.realtime, p.batch, p.period_s = True, 50, 0.02
        p.start()
    time.sleep(lag_seconds)
    for p in producers.values():
        p.stop()
    produced = sum(len(p.produced) for p in producers.values())
    deadline = time.monotonic() + 120
    while sum(sum(k.values()) for k in hub.counts_by_kind().values()) < produced:
        time.sleep(0.2)
        if time.monotonic() > deadline:
            break
    lags: list[float] = []
    with hub.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT ts, received_at FROM net_hub_records WHERE ts > :t"),
            {"t": datetime(2026, 12, 1, tzinfo=UTC)},
        ).all()
    for ts, received in rows:
        lags.append((received - ts).total_seconds())
    rate = (produced - total) / lag_seconds
    counters = {s: p.terminate() for s, p in procs.items()}
    counters["hub"] = hub_proc.terminate()
    for p in producers.values():
        p.close()
    return {
        "records_per_message": pack,
        "throughput": {
            "events": total,
            "seconds": round(seconds, 2),
            "events_per_s": round(total / seconds),
            "first_to_last_stored_s": round(steady, 2),
            "events_per_s_first_to_last": round(total / steady) if steady > 0 else None,
            "cpu_seconds_by_process": {k: round(v, 1) for k, v in cpu.items()},
        },
        "lag": {
            "offered_events_per_s": round(rate),
            "events": len(lags),
            "p50_s": round(pct(lags, 0.50), 3),
            "p99_s": round(pct(lags, 0.99), 3),
            "max_s": round(max(lags), 3) if lags else None,
        },
        "counters": counters,
    }


def mosquitto_bridge(work: Path, messages: int, lag_seconds: float) -> dict:
    import paho.mqtt.client as mqtt

    port_a, port_b = free_ports(2)
    conf_b = work / "b.conf"
    conf_b.write_text(
        f"listener {port_b} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        "max_inflight_messages 1000\n"
    )
    conf_a = work / "a.conf"
    conf_a.write_text(
        f"listener {port_a} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 0\nmax_inflight_messages 1000\n"
        f"connection hub\naddress 127.0.0.1:{port_b}\ntopic mf/# out 1\n"
        "cleansession false\n"
    )
    procs = [
        subprocess.Popen(["mosquitto", "-c", str(c)], stderr=subprocess.DEVNULL)
        for c in (conf_b, conf_a)
    ]
    time.sleep(1.5)
    payload_size = 330  # about one counter event's envelope
    received: list[float] = []
    lags: list[float] = []
    done = threading.Event()
    expected = [messages]

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        sent = float(msg.payload[:20].decode().strip())
        received.append(now)
        lags.append(now - sent)
        if len(received) >= expected[0]:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port_b)
    sub.subscribe("mf/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", port_a)
    pub.loop_start()
    time.sleep(1.0)

    def message() -> bytes:
        return f"{time.time():<20.6f}".encode().ljust(payload_size, b"x")

    began = time.monotonic()
    for i in range(messages):
        pub.publish(f"mf/site-{i % 2}/counter/m1", message(), qos=1)
    done.wait(120)
    seconds = time.monotonic() - began
    throughput = {"sent": messages, "messages": len(received), "seconds": round(seconds, 2)}
    throughput["messages_per_s"] = round(len(received) / seconds)
    # lag at 5,000 msg/s
    received.clear()
    lags.clear()
    done.clear()
    n = int(5000 * lag_seconds)
    expected[0] = n
    start = time.monotonic()
    for i in range(n):
        target = start + i / 5000
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pub.publish(f"mf/site-{i % 2}/counter/m1", message(), qos=1)
    done.wait(60)
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    for p in procs:
        p.terminate()
        p.wait(10)
    return {
        "throughput": throughput,
        "lag": {
            "offered_messages_per_s": 5000,
            "messages": len(lags),
            "p50_s": round(pct(lags, 0.50), 3),
            "p99_s": round(pct(lags, 0.99), 3),
        },
    }


def quote_latency(work: Path, cluster: NatsCluster, quotes: int) -> dict:
    import trimesh
    from tests.network.support import binary_stl

    from microfactory.bootstrap import DEMO_FACTORY, bootstrap
    from microfactory.services.factory import init_factory
    from microfactory.store import outbox

    hub_url = pg_database("mf_bench_network_quote")
    nats = cluster.urls()
    procs = []
    for i in range(5):
        site = f"site-{i + 1}"
        url = f"sqlite:///{work / site}.db"
        container = bootstrap(db_url=url)
        init_factory(container.uow, DEMO_FACTORY)
        outbox.enable(container.engine, site)
        container.close()
        procs.append(
            Proc(["network", "site", "--site", site, "--nats", nats, "--db", url], work, site)
        )
    hub_proc = Proc(["network", "hub", "--nats", nats, "--db", hub_url], work, "hub-q").start()
    time.sleep(3)
    for p in procs:
        p.start()
    hub = SqlHubStore(make_engine(hub_url))
    deadline = time.monotonic() + 120
    while len(hub.sites()) < 5 and time.monotonic() < deadline:
        time.sleep(0.5)
    model = work / "part.stl"
    model.write_bytes(binary_stl(trimesh.creation.box((30, 20, 10))))
    script = (
        "import asyncio, json, sys, time\n"
        "from microfactory.cli.network import _quoter\n"
        "async def main():\n"
        "    container, link, q = await _quoter(sys.argv[1], sys.argv[2], None, None)\n"
        "    data = open(sys.argv[3], 'rb').read(); out = []\n"
        "    for i in range(int(sys.argv[4])):\n"
        "        r = await q.quote(data, 'part.stl', material='pla-black', quantity=5,"
        " deadline_s=5.0)\n"
        "        out.append({'seconds': r['seconds'], 'offers': len(r['offers']),"
        " 'slowest': max(o['seconds'] for o in r['offers'])})\n"
        "    await link.close(); container.close(); print(json.dumps(out))\n"
        "asyncio.run(main())\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script, nats, hub_url, str(model), str(quotes)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rows = json.loads(ran.stdout)
    for p in [*procs, hub_proc]:
        p.kill()
    seconds = [r["seconds"] for r in rows[1:]]  # the first warms the sites' caches
    return {
        "sites": 5,
        "quotes": len(seconds),
        "all_five_answered": sum(1 for r in rows[1:] if r["offers"] == 5),
        "p50_s": round(pct(seconds, 0.5), 3),
        "p95_s": round(pct(seconds, 0.95), 3),
        "max_s": round(max(seconds), 3),
        "first_s": round(rows[0]["seconds"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=40_000, help="per site")
    parser.add_argument("--lag-seconds", type=float, default=15.0)
    parser.add_argument("--quotes", type=int, default=30)
    parser.add_argument("--skip-quote", action="store_true")
    parser.add_argument("--packs", default="1,100", help="records per NATS message, each run")
    args = parser.parse_args()
    out: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nats_server": ".".join(map(str, server_version())),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="mf-bench-network-") as tmp:
        work = Path(tmp)
        cluster = NatsCluster(work / "nats", nodes=3).start()
        try:
            out["microfactory_jetstream_r3"] = []
            for size in (int(p) for p in args.packs.split(",")):
                out["microfactory_jetstream_r3"].append(
                    replication(work, cluster, args.events, args.lag_seconds, size)
                )
            out["mosquitto_bridge"] = mosquitto_bridge(work, 2 * args.events, args.lag_seconds)
            if not args.skip_quote:
                out["network_quote"] = quote_latency(work, cluster, args.quotes)
        finally:
            cluster.stop()
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
