"""Dispatch latency of the print farm: from the moment a plan that gives every printer a job
is stored to the moment each printer is printing it, with real OctoPrint servers (their
virtual printers).

    python benchmarks/printfarm/dispatch_latency.py [--printers 20] [--rounds 3]

Starts as many OctoPrint servers as memory allows, up to `--printers` (each takes ~80-150 MB;
`--reserve-mb` of memory is kept free), five at a time to spare the CPUs. A factory gets one
printer per server and one product per printer (its routing restricted to it), and one quote's
model (a 10 × 10 × 2 mm plate, sliced once and cached, as the print farm slices ahead). The
runtime runs in this process exactly as `microfactory run` composes it: a worker per printer,
the slicer, the in-process ingester, the reactor and the replans.

Each round: every printer idle with a clear plate; one order per printer; the plan is made
(`PlanningService.plan`) and `t0` is when it returns (the plan version is stored); a poller
per server then asks OctoPrint for its state every `--poll-ms` until it prints a `mf-` file:
the latency. The prints run to the end, the plates are confirmed clear, the next round starts.

The peer, in the same run: OctoPrint's own floor, the same G-code uploaded and started on
every server at once straight through its REST API (no microfactory), measured the same way.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import trimesh

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from microfactory.bootstrap import bootstrap  # noqa: E402
from microfactory.connect.octoprint import OctoPrintHost  # noqa: E402
from microfactory.core.clock import SystemClock  # noqa: E402
from microfactory.orders import OrderLine  # noqa: E402
from microfactory.printfarm_bootstrap import build_print_farm  # noqa: E402
from microfactory.services.factory import init_factory  # noqa: E402
from microfactory.services.ingestion import Ingester  # noqa: E402
from microfactory.services.orders import OrderRequest, add_order  # noqa: E402
from microfactory.services.printfarm_runtime import PrintFarmRuntime  # noqa: E402
from microfactory.services.quoting import QuoteService  # noqa: E402
from microfactory.services.runtime import ShopRuntime  # noqa: E402
from microfactory.shopfloor.events import Event  # noqa: E402
from microfactory.shopfloor.printers import JobState  # noqa: E402
from microfactory.store.model_file_tables import SqlModelStore  # noqa: E402
from microfactory.store.quoting_tables import SqlQuoteStore  # noqa: E402
from printfarm.octoprint_server import (  # noqa: E402
    OctoPrintServer,
    install_octoprint,
    launch,
)

PRINTER = """\
  - id: {id}
    type: fdm_printer
    area: print
    capabilities: [fdm_print]
    cost_per_hour: 4.5
    build_volume_mm: [250, 210, 220]
    host: {{type: octoprint, url: "{url}", api_key_env: BENCH_KEY_{id}}}
    profile: fdm-250x210-0.4mm-0.20mm
"""
PRODUCT = """\
  - id: part-{id}
    routing: [{{seq: 1, name: Print, capability: fdm_print, fixed_minutes: 5, machines: [{id}]}}]
"""
FACTORY = """\
site: {{id: bench, name: Print farm bench, timezone: UTC}}
areas: [{{id: print, name: Print}}]
machines:
{machines}
materials:
  - {{id: pla-black, kind: filament, density_g_cm3: 1.24, cost_per_kg: 22.0, colour: black}}
products:
  - id: printed-part
    routing: [{{seq: 1, name: Print, capability: fdm_print, fixed_minutes: 5}}]
{products}
customers: [{{id: acme, name: ACME}}]
"""


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_servers(count: int, root: Path, reserve_mb: float) -> tuple[list[OctoPrintServer], str]:
    executable = install_octoprint()
    servers: list[OctoPrintServer] = []
    stopped = ""
    while len(servers) < count:
        if mem_available_mb() < reserve_mb + 5 * 160:
            stopped = f"memory: {mem_available_mb():.0f} MB available, {reserve_mb:.0f} kept"
            break
        batch = [
            launch(executable, root / f"octoprint-{len(servers) + i}")
            for i in range(min(5, count - len(servers)))
        ]
        for server in batch:
            server.wait_ready(180)
        servers += batch
    return servers, stopped


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def until_printing(servers: Sequence[OctoPrintServer], t0: float, poll_s: float) -> list[float]:
    """Seconds from t0 until each server prints a file (one poller thread per server)."""
    out = [float("nan")] * len(servers)

    def poll(i: int) -> None:
        s = servers[i]
        with httpx.Client(base_url=s.url, headers={"X-Api-Key": s.api_key}, timeout=10) as c:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                body = c.get("/api/job").json()
                name = (body.get("job") or {}).get("file", {}).get("name") or ""
                if body.get("state", "").startswith("Printing") and name.startswith("mf-"):
                    out[i] = time.monotonic() - t0
                    return
                time.sleep(poll_s)

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def wait_idle(servers: Sequence[OctoPrintServer], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    for s in servers:
        with httpx.Client(base_url=s.url, headers={"X-Api-Key": s.api_key}, timeout=10) as c:
            while c.get("/api/job").json().get("state") != "Operational":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{s.url} did not finish its print")
                time.sleep(0.5)


def peer_round(servers: Sequence[OctoPrintServer], gcode: bytes, poll_s: float) -> list[float]:
    """OctoPrint alone: upload + select + print on every server at once."""
    t0 = time.monotonic()

    def start(s: OctoPrintServer) -> None:
        with httpx.Client(base_url=s.url, headers={"X-Api-Key": s.api_key}, timeout=30) as c:
            files = {"file": ("mf-peer.gcode", gcode, "application/octet-stream")}
            r = c.post("/api/files/local", files=files, data={"select": "true", "print": "true"})
            r.raise_for_status()

    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(start, servers))
    return until_printing(servers, t0, poll_s)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--printers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--poll-ms", type=float, default=50.0)
    ap.add_argument("--reserve-mb", type=float, default=4096.0)
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    poll_s = args.poll_ms / 1000
    tmp = Path(tempfile.mkdtemp(prefix="mf-dispatch-bench-"))
    started = time.monotonic()
    servers, stopped = start_servers(args.printers, tmp, args.reserve_mb)
    startup_s = time.monotonic() - started
    rss = [s.rss_mb() for s in servers]
    ids = [f"p{i + 1:02d}" for i in range(len(servers))]
    urls = dict(zip(ids, (s.url for s in servers), strict=True))
    keys = dict(zip(ids, (s.api_key for s in servers), strict=True))
    factory_file = tmp / "farm.yaml"
    factory_file.write_text(
        FACTORY.format(
            machines="".join(PRINTER.format(id=i, url=urls[i]) for i in ids),
            products="".join(PRODUCT.format(id=i) for i in ids),
        )
    )
    container = bootstrap(db_url=args.db or f"sqlite:///{tmp / 'bench.db'}")
    init_factory(container.uow, factory_file)
    clock = SystemClock()
    model = tmp / "plate.stl"
    trimesh.creation.box((10, 10, 2)).export(model)
    quotes = QuoteService(
        container.uow,
        SqlQuoteStore(container.engine),
        clock,
        models=SqlModelStore(container.engine),
    )
    quote = quotes.quote_file(model, material="pla-black", quantity=1, customer="acme")
    assert quote.quote_id is not None
    parts = build_print_farm(
        container,
        clock=clock,
        cache_dir=tmp / "gcode",
        plan_time_limit=5.0,
        hosts=lambda m: OctoPrintHost(urls[m.id], keys[m.id], key_source="bench"),
    )
    farm = parts.farm
    for machine in ids:
        farm.desk.load_spool(machine, "pla-black", lot=None, grams=5000, by="bench")
        farm.desk.plate_clear(machine, by="bench")
    ingester = Ingester(container.telemetry(), clock=clock)
    shop = ShopRuntime(ingester, container.reactor(parts.factory), parts.planning)
    shop.start()

    def publish(events: Sequence[Event]) -> None:
        ingester.process_events(list(events))

    runtime = PrintFarmRuntime(farm, parts.hosts, publish, replanner=parts.planning)
    runtime.start()
    latencies: list[float] = []
    plan_seconds: list[float] = []
    rounds: list[dict[str, float]] = []
    try:
        for r in range(args.rounds + 1):  # round 0 warms up: the one slice, the first uploads
            for i, machine in enumerate(ids):
                add_order(
                    container.uow,
                    clock,
                    OrderRequest(
                        customer="acme",
                        lines=(OrderLine(f"part-{machine}", 1, {}, model_ref=quote.quote_id),),
                        due=datetime.now(UTC) + timedelta(days=2, minutes=i),
                    ),
                )
            began = time.monotonic()
            parts.planning.plan(f"bench round {r}")
            t0 = time.monotonic()
            plan_seconds.append(t0 - began)
            seen = until_printing(servers, t0, poll_s)
            wait_idle(servers)
            deadline = time.monotonic() + 120
            while True:  # the runtime has seen every print finish
                with parts.store.transaction() as tx:
                    open_jobs = tx.jobs(states=(JobState.STARTING, JobState.PRINTING))
                if not open_jobs or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            for machine in ids:
                farm.desk.plate_clear(machine, by="bench")
            if r == 0:
                continue
            latencies += seen
            rounds.append(
                {
                    "round": r,
                    "p50_s": round(statistics.median(seen), 3),
                    "max_s": round(max(seen), 3),
                }
            )
        with parts.store.transaction() as tx:
            key = tx.slices()[0].key
        gcode = farm.slicing.cache.read(key)
        assert gcode is not None
        peer = peer_round(servers, gcode, poll_s)
        wait_idle(servers)
    finally:
        runtime.stop()
        shop.stop()
        parts.close()
        container.close()
        for server in servers:
            server.stop()
    load = os.getloadavg()
    result = {
        "printers": len(servers),
        "asked": args.printers,
        "stopped_starting": stopped or None,
        "server_rss_mb_mean": round(statistics.mean(rss), 1) if rss else None,
        "servers_startup_s": round(startup_s, 1),
        "rounds": args.rounds,
        "samples": len(latencies),
        "dispatch_p50_s": round(statistics.median(latencies), 3),
        "dispatch_p95_s": round(percentile(latencies, 0.95), 3),
        "dispatch_max_s": round(max(latencies), 3),
        "plan_s_mean": round(statistics.mean(plan_seconds[1:]), 3),
        "peer_octoprint_p50_s": round(statistics.median(peer), 3),
        "peer_octoprint_p95_s": round(percentile(peer, 0.95), 3),
        "peer_octoprint_max_s": round(max(peer), 3),
        "per_round": rounds,
        "poll_ms": args.poll_ms,
        "runtime": {**farm.counters.as_dict(), **runtime.counters.as_dict()},
        "loadavg": [round(x, 2) for x in load],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
