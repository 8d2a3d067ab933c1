"""Run the ingestion benchmark configurations of RESULTS.md; print one JSON object per line.

    nice -n 10 python benchmarks/ingest/run_all.py [--quick] > benchmarks/ingest/results.jsonl

Each line is the output of `microfactory bench ingest ... --json` plus `"config"` and
`"machine"`. References (naive one-row-per-message consumer, `mosquitto_sub` to /dev/null) run
inside the same command, right after the measured run, on the same broker.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime

FULL = [
    ("memory-sqlite", ["--via", "memory", "--store", "sqlite", "--messages", "100000"]),
    ("memory-postgresql", ["--via", "memory", "--store", "postgresql", "--messages", "50000"]),
    ("mqtt-sqlite", ["--via", "mqtt", "--store", "sqlite", "--messages", "50000"]),
    (
        "mqtt-postgresql",
        ["--via", "mqtt", "--store", "postgresql", "--messages", "20000", "--no-references"],
    ),
    (
        "mqtt-sqlite-5000-per-s",
        [
            "--via",
            "mqtt",
            "--store",
            "sqlite",
            "--messages",
            "25000",
            "--rate",
            "5000",
            "--no-references",
        ],
    ),
]
QUICK = [
    (name, [a if a not in ("100000", "50000", "25000", "20000") else "5000" for a in args])
    for name, args in FULL
]


def main() -> None:
    configs = QUICK if "--quick" in sys.argv else FULL
    machine = {
        "cpus": os.cpu_count(),
        "load_1min_before": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for name, args in configs:
        machine["load_1min_before"] = round(os.getloadavg()[0], 2)
        proc = subprocess.run(
            [sys.executable, "-m", "microfactory", "bench", "ingest", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            print(json.dumps({"config": name, "error": proc.stderr.strip()[-500:]}), flush=True)
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps({"config": name, "machine": machine, **result}), flush=True)


if __name__ == "__main__":
    main()
