"""Independent checker for the due-date benchmark: recomputes feasibility and the total
weighted tardiness from the instance file and the starts alone (it imports nothing from
microfactory).

    python benchmarks/schedule/twt/check.py INSTANCE.json SOLUTION.json

INSTANCE.json: `{"name", "jobs": [{"weight", "due", "release"?, "ops": [[machine,
duration], ...]}]}`; SOLUTION.json: `{"objective": int, "starts": [[start of each op of
job 0], ...]}`. Prints `{"instance", "feasible", "objective", "claimed", "errors"}` and
exits 0 when the plan is feasible and its claimed objective is the recomputed one.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any


def check(instance: dict[str, Any], solution: dict[str, Any]) -> tuple[list[str], int | None]:
    """(errors, recomputed total weighted tardiness; None when the starts are malformed)."""
    jobs = instance["jobs"]
    starts = solution.get("starts")
    errors: list[str] = []
    if not isinstance(starts, list) or len(starts) != len(jobs):
        return [f"starts must list {len(jobs)} jobs"], None
    busy: dict[int, list[tuple[int, int, str]]] = {}
    total = 0
    for j, (job, row) in enumerate(zip(jobs, starts, strict=True)):
        ops = job["ops"]
        if not isinstance(row, list) or len(row) != len(ops):
            return [f"job {j}: {len(ops)} starts expected"], None
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in row):
            return [f"job {j}: starts must be integers"], None
        release = job.get("release", 0)
        ready = release
        for k, ((machine, duration), start) in enumerate(zip(ops, row, strict=True)):
            if start < ready:
                what = "its release" if k == 0 else f"the end of op {k - 1}"
                errors.append(f"job {j} op {k} starts at {start} before {what} ({ready})")
            ready = start + duration
            busy.setdefault(machine, []).append((start, start + duration, f"job {j} op {k}"))
        completion = ready
        total += job["weight"] * max(0, completion - job["due"])
    for machine, intervals in busy.items():
        intervals.sort()
        for (s1, e1, a), (s2, _, b) in itertools.pairwise(intervals):
            if s2 < e1:
                errors.append(f"machine {machine}: {a} [{s1}, {e1}) overlaps {b} from {s2}")
    claimed = solution.get("objective")
    if claimed != total:
        errors.append(f"claimed objective {claimed} but the starts give {total}")
    return errors, total


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    instance = json.loads(Path(argv[0]).read_text())
    solution = json.loads(Path(argv[1]).read_text())
    errors, total = check(instance, solution)
    report = {
        "instance": instance.get("name", Path(argv[0]).stem),
        "feasible": not errors,
        "objective": total,
        "claimed": solution.get("objective"),
        "errors": errors[:10],
    }
    print(json.dumps(report))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
