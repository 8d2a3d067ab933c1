"""Fixed-work run of the three compiled searches, to show that a refactoring left their
behaviour unchanged: each search runs a fixed number of chunks (deadline = now: exactly
one chunk per call), chained from the previous result, with fixed seeds, so the printed
values depend only on the code, not on the machine's speed or load.

    PYTHONPATH=src .venv/bin/python benchmarks/schedule/kernels_fixed_work.py after
    (a checkout of the older commit)  ...  kernels_fixed_work.py before

Prints one JSON object; two trees with the same search behaviour print the same values.
"""

import json
import os
import sys
import time
from pathlib import Path

from microfactory.planning.fastseq import FastDecoder
from microfactory.planning.generator import generate_factory
from microfactory.planning.heuristics import dispatch
from microfactory.planning.model import Objective
from microfactory.planning.readers import read_instance
from microfactory.planning.reorder import OrderSearch
from microfactory.planning.sequence import SequenceDecoder, initial_sequences
from microfactory.planning.tabu import TabuSearch

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("MICROFACTORY_DATA_DIR", HERE.parents[2] / "shared" / "data"))


def main() -> None:
    out: dict[str, object] = {"tree": sys.argv[1] if len(sys.argv) > 1 else ""}
    factory = generate_factory(seed=0, target_ops=2000)
    scale = 10**7
    dec = SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, scale)
    fast = FastDecoder(dec)
    seq = initial_sequences(factory)[0]
    values = []
    for k in range(20):
        seq, value, _ = fast.descend(seq, time.perf_counter(), k, 2)
        values.append(value)
    out["fastseq_descend_20_chunks"] = [*values[::5], values[-1]]
    plan = dispatch(factory, "edd")
    search = OrderSearch(factory, Objective.WEIGHTED_TARDINESS, scale)
    values = []
    for k in range(10):
        plan, value, _ = search.search(plan, time.perf_counter(), k)
        values.append(value)
    out["reorder_10_chunks"] = [*values[::3], values[-1]]
    mk = read_instance(DATA / "fjsp" / "brandimarte" / "mk10.fjs")
    plan = dispatch(mk, "spt")
    tabu = TabuSearch(mk)
    values = []
    for k in range(10):
        plan, value, _ = tabu.search(plan, time.perf_counter(), k)
        values.append(value)
    out["tabu_mk10_10_chunks"] = [*values[::3], values[-1]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
