"""Build the 66 job-shop total-weighted-tardiness instances of Singer & Pinedo (1998) from
the classic job-shop instances, with the published rule (see README.md):

* base instances (22, 10 jobs x 10 machines): abz5, abz6, la16-la20, la21-la24 restricted
  to their first 10 jobs, mt10 (= OR-Library ft10), orb1-orb10 (= OR-Library orb01-orb10);
* release r_j = 0; due date d_j = floor(r_j + f * sum_i p_ij) for f in 1.3, 1.5, 1.6;
* weights: the first 20 % of the jobs (file order) 4, the middle 60 % 2, the last 20 % 1.

    .venv/bin/python benchmarks/schedule/twt/generate.py [--data DIR] [--out DIR] [--check]

`--data` is the folder with the OR-Library files (`abz5.txt`, `ft10.txt`, `la16.txt`,
`orb01.txt`, ...; default: base/ beside this script, see base/SOURCE.md);
`--out` receives `<base>_f13.json` ... (default: instances/ beside this script);
`--check` compares with the files already in `--out` instead of writing them.
The output format is the due-date contract of `microfactory bench schedule`.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# (name in the TWT set, OR-Library file stem, jobs kept)
BASES: list[tuple[str, str, int]] = [
    ("abz5", "abz5", 10),
    ("abz6", "abz6", 10),
    *[(f"la{k}", f"la{k}", 10) for k in range(16, 25)],  # la21-la24 are 15x10: first 10 jobs
    ("mt10", "ft10", 10),
    *[(f"orb{k}", f"orb{k:02d}", 10) for k in range(1, 11)],
]
FACTORS: list[tuple[str, Fraction]] = [
    ("f13", Fraction(13, 10)),
    ("f15", Fraction(15, 10)),
    ("f16", Fraction(16, 10)),
]


def read_orlib(path: Path) -> list[list[tuple[int, int]]]:
    """Jobs as [(machine, duration), ...] from an OR-Library / Taillard-layout file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    n_jobs, n_machines = int(rows[0][0]), int(rows[0][1])
    jobs = []
    for tokens in rows[1 : 1 + n_jobs]:
        values = [int(t) for t in tokens]
        pairs = [(values[k], values[k + 1]) for k in range(0, len(values), 2)]
        if len(pairs) != n_machines:
            raise SystemExit(f"{path}: a job has {len(pairs)} operations, not {n_machines}")
        jobs.append(pairs)
    return jobs


def weight(index: int, n_jobs: int) -> int:
    """4 for the first 20 % of the jobs, 2 for the middle 60 %, 1 for the last 20 %."""
    if index < round(0.2 * n_jobs):
        return 4
    if index < round(0.8 * n_jobs):
        return 2
    return 1


def build(name: str, base: str, factor_tag: str, factor: Fraction, jobs: list[Any]) -> dict:
    n = len(jobs)
    out_jobs = []
    for j, ops in enumerate(jobs):
        release = 0
        total = sum(d for _, d in ops)
        due = release + (factor * total).__floor__()  # exact: no float rounding
        out_jobs.append(
            {"weight": weight(j, n), "release": release, "due": due, "ops": [list(p) for p in ops]}
        )
    return {
        "name": f"{name}_{factor_tag}",
        "base": name,
        "base_orlib": base,
        "f": float(factor),
        "n_jobs": n,
        "n_machines": len(jobs[0]),
        "jobs": out_jobs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "base")
    parser.add_argument("--out", type=Path, default=HERE / "instances")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if not args.check:
        args.out.mkdir(parents=True, exist_ok=True)
    differ = 0
    count = 0
    for name, base, keep in BASES:
        jobs = read_orlib(args.data / f"{base}.txt")[:keep]
        for tag, factor in FACTORS:
            document = build(name, base, tag, factor, jobs)
            target = args.out / f"{document['name']}.json"
            count += 1
            if args.check:
                existing = json.loads(target.read_text()) if target.exists() else None
                if existing != document:
                    differ += 1
                    print(f"differs: {target}", file=sys.stderr)
            else:
                target.write_text(json.dumps(document) + "\n")
    print(json.dumps({"instances": count, "differ": differ, "out": str(args.out)}))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
