"""Longer atheris runs of the fuzz targets in tests/fuzz/ (issue 22), keeping the corpus.

Each target runs for --seconds (default 600) from the committed corpus; new inputs go to a
scratch folder, and at the end only those that add coverage are merged into
tests/fuzz/corpus/<target>/ (libFuzzer -merge=1), so the committed corpus grows slowly.
Crash / timeout / out-of-memory inputs are kept in benchmarks/fuzz/artifacts/<target>/.
Prints one JSON object per target:

    python benchmarks/fuzz/run.py [--seconds 600] [--targets mqtt_payload model_intake ...]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests" / "fuzz"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TARGETS = ["mqtt_payload", "model_intake", "factory_yaml", "orders_csv"]


def libfuzzer(target: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FUZZ / f"{target}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run(target: str, seconds: int) -> dict[str, object]:
    corpus = FUZZ / "corpus" / target
    artifacts = ARTIFACTS / target
    artifacts.mkdir(parents=True, exist_ok=True)
    before = len(list(corpus.iterdir()))
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as scratch:
        began = time.monotonic()
        proc = libfuzzer(
            target,
            f"-max_total_time={seconds}",
            "-timeout=20",
            "-rss_limit_mb=2048",
            "-max_len=65536",
            "-print_final_stats=1",
            f"-artifact_prefix={artifacts}/",
            scratch,
            str(corpus),
            timeout=seconds + 600,
        )
        took = time.monotonic() - began
        merge = libfuzzer(target, "-merge=1", str(corpus), scratch, timeout=1200)
    done = re.search(r"Done (\d+) runs in (\d+) second", proc.stderr)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", proc.stderr)
    found = sorted(p.name for p in artifacts.iterdir())
    return {
        "target": target,
        "seconds": round(took, 1),
        "runs": int(done.group(1)) if done else None,
        "runs_per_s": round(int(done.group(1)) / max(took, 1e-9)) if done else None,
        "coverage_edges": int(cov[-1][0]) if cov else None,
        "features": int(cov[-1][1]) if cov else None,
        "corpus_before": before,
        "corpus_after": len(list(corpus.iterdir())),
        "merge_exit": merge.returncode,
        "exit": proc.returncode,
        "artifacts": found,
        "crash": proc.returncode != 0,
        "tail": proc.stderr.splitlines()[-12:] if proc.returncode else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--targets", nargs="*", default=TARGETS, choices=TARGETS)
    args = parser.parse_args()
    failed = False
    for target in args.targets:
        result = run(target, args.seconds)
        failed |= bool(result["crash"])
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
