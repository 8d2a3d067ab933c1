"""Fleet learning: does a health model trained on every site's machines of a type predict a
breakdown better than one trained on the site's own machines? Prints one JSON object.

    .venv/bin/python benchmarks/network/fleet.py [--days 30] [--seeds 7,8] [--sample-interval 300]

Each site is the digital twin (`microfactory demo --days D --seed S --no-pm --no-pdm`: run to
failure, so there are breakdowns to learn from) in its own SQLite database. Each joins the
network with its history (`network enable --backfill`, samples thinned to one batch per
machine per `--sample-interval` seconds), replicates to the hub (PostgreSQL) through our own
JetStream server, and the hub runs `network fleet-eval` (leave-one-failed-life-out per site
and machine type: own lives vs pooled lives) and `network fleet-train --ship` (the pooled
models, registered at the hub and installed in each site's registry).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.network.run import pg_database  # noqa: E402
from tests.network.natscluster import NatsCluster  # noqa: E402
from tests.network.support import MF, Proc  # noqa: E402


def mf(*args: str) -> dict:
    done = subprocess.run([*MF, *args], capture_output=True, text=True, check=True)
    text = done.stdout
    return dict(json.loads(text[text.index("{") :]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seeds", default="7,8")
    parser.add_argument("--sample-interval", type=float, default=300.0)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "days": args.days,
        "seeds": seeds,
        "sample_interval_s": args.sample_interval,
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="mf-bench-fleet-") as tmp:
        work = Path(tmp)
        sites = {
            f"site-{i + 1}": (seed, f"sqlite:///{work}/site-{i + 1}.db")
            for i, seed in enumerate(seeds)
        }
        began = time.monotonic()
        out["twin"] = {}
        for site, (seed, url) in sites.items():
            summary = mf(
                "demo",
                "--days",
                str(args.days),
                "--seed",
                str(seed),
                "--db",
                url,
                "--no-pm",
                "--no-pdm",
                "--json",
            )
            out["twin"][site] = {
                k: summary.get(k) for k in ("breakdowns", "oee", "orders_completed")
            }
            enabled = mf(
                "network",
                "enable",
                "--site",
                site,
                "--db",
                url,
                "--backfill",
                "--sample-interval",
                str(args.sample_interval),
            )
            out["twin"][site]["backfilled_records"] = enabled["backfilled"]
        out["twin_seconds"] = round(time.monotonic() - began, 1)
        hub_url = pg_database("mf_bench_fleet")
        server = NatsCluster(work / "nats", nodes=1).start()
        try:
            nats = server.urls()
            hub = Proc(["network", "hub", "--nats", nats, "--db", hub_url], work, "hub").start()
            time.sleep(3)
            procs = [
                Proc(
                    ["network", "site", "--site", s, "--nats", nats, "--db", u, "--pack", "100"],
                    work,
                    s,
                ).start()
                for s, (_, u) in sites.items()
            ]
            began = time.monotonic()
            expected = sum(t["backfilled_records"] for t in out["twin"].values())
            while True:
                status = mf("network", "status", "--db", hub_url, "--json")
                got = sum(s["events"] for s in status["sites"])
                if got >= expected + len(sites) and all(
                    s["lag_events"] == 0 for s in status["sites"]
                ):
                    break
                if time.monotonic() - began > 1800:
                    raise RuntimeError(f"replication stalled at {got} of {expected}")
                time.sleep(2)
            out["replication"] = {"records": got, "seconds": round(time.monotonic() - began, 1)}
            began = time.monotonic()
            out["pooling"] = mf("network", "fleet-eval", "--db", hub_url)
            out["pooling"].pop("lives", None)
            out["fleet_eval_seconds"] = round(time.monotonic() - began, 1)
            trained = mf("network", "fleet-train", "--db", hub_url, "--nats", nats, "--ship")
            out["fleet_models"] = trained["models"]
            time.sleep(5)
            out["installed_at_sites"] = {
                s: p.terminate()["models_installed"] for s, p in zip(sites, procs, strict=True)
            }
            hub.terminate()
        finally:
            server.stop()
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
