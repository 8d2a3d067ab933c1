"""Fixed-work run of the three compiled searches, to show that a refactoring left their
behaviour unchanged: each search runs a fixed number of chunks (deadline = now: exactly
one chunk per call), chained from the previous result, with fixed seeds, so the printed
values depend only on the code, not on the machine's speed or load.

    PYTHONPATH=src .venv/bin/python benchmarks/schedule/kernels_fixed_work.py after
    (a checkout of the older commit)  ...  kernels_fixed_work.py before

Prints one JSON object; two trees with the same search behaviour print the same values.
Besides the objective values after some chunks it prints the step counters and a digest
(sha256, first 16 hex digits) of each final plan (every operation's machine, start and
end), so equal output means the same plans, not only the same objective. The cases: the
2,000-operation factory (setups, calendars, due dates) for weighted tardiness; the same
factory with the operations started by mid-horizon frozen, lexicographic objective, every
candidate of the machine-order search also checked against a whole pass (`verify`); and
Brandimarte mk10 for the makespan.
"""

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from microfactory.planning.fastseq import FastDecoder
from microfactory.planning.generator import generate_factory
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.readers import read_instance
from microfactory.planning.reorder import OrderSearch
from microfactory.planning.rescheduling import freeze_started
from microfactory.planning.sequence import SequenceDecoder, initial_sequences, ranks_of
from microfactory.planning.tabu import TabuSearch

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("MICROFACTORY_DATA_DIR", HERE.parents[2] / "shared" / "data"))
SCALE = 10**7


def digest(plan: Iterable[Assignment]) -> str:
    rows = sorted((a.op, a.machine, a.start, a.end) for a in plan)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def _sequence(problem: Problem, objective: Objective, chunks: int) -> dict[str, object]:
    fast = FastDecoder(SequenceDecoder(problem, objective, SCALE))
    seq = initial_sequences(problem)[0]
    values, counts = [], [0, 0, 0]
    for k in range(chunks):
        seq, value, step = fast.descend(seq, time.perf_counter(), k, 2)
        values.append(value)
        counts = [c + s for c, s in zip(counts, step, strict=True)]
    return {
        "values": [*values[:: max(1, chunks // 4)], values[-1]],
        "counts": counts,
        "plan": digest(fast.plan(ranks_of(seq))),
    }


def _reorder(
    problem: Problem, objective: Objective, plan: list[Assignment], chunks: int, verify: bool
) -> dict[str, object]:
    search = OrderSearch(problem, objective, SCALE)
    values, counts = [], [0, 0, 0]
    mismatches = retimed = propagated = 0
    for k in range(chunks):
        plan, value, step = search.search(plan, time.perf_counter(), k, verify=verify)
        values.append(value)
        counts = [c + s for c, s in zip(counts, step, strict=True)]
        mismatches += search.mismatches
        retimed += search.retimed
        propagated += search.propagated
    return {
        "values": [*values[:: max(1, chunks // 3)], values[-1]],
        "counts": counts,
        "retimed": retimed,
        "propagated": propagated,
        "mismatches": mismatches,
        "plan": digest(plan),
    }


def main() -> None:
    out: dict[str, object] = {"tree": sys.argv[1] if len(sys.argv) > 1 else ""}
    factory = generate_factory(seed=0, target_ops=2000)
    out["fastseq_factory_wt_20_chunks"] = _sequence(factory, Objective.WEIGHTED_TARDINESS, 20)
    edd = dispatch(factory, "edd")
    assert edd is not None
    out["reorder_factory_wt_10_chunks"] = _reorder(
        factory, Objective.WEIGHTED_TARDINESS, edd, 10, verify=False
    )
    now = max(a.end for a in edd) // 3
    frozen = freeze_started(factory, edd, now)
    start = dispatch(frozen, "edd")
    assert start is not None
    out["reorder_frozen_lex_verify_4_chunks"] = _reorder(
        frozen, Objective.TARDINESS_THEN_MAKESPAN, start, 4, verify=True
    )
    mk = read_instance(DATA / "fjsp" / "brandimarte" / "mk10.fjs")
    out["fastseq_mk10_makespan_10_chunks"] = _sequence(mk, Objective.MAKESPAN, 10)
    spt = dispatch(mk, "spt")
    assert spt is not None
    out["reorder_mk10_makespan_10_chunks"] = _reorder(mk, Objective.MAKESPAN, spt, 10, verify=False)
    plan = spt
    tabu = TabuSearch(mk)
    values, counts = [], [0, 0]
    for k in range(10):
        plan, value, step = tabu.search(plan, time.perf_counter(), k)
        values.append(value)
        counts = [c + s for c, s in zip(counts, step, strict=True)]
    out["tabu_mk10_10_chunks"] = {
        "values": [*values[::3], values[-1]],
        "counts": counts,
        "plan": digest(plan),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
