"""CPU seconds (this process's, so that a loaded machine distorts less than wall time)
the three compiled searches take for a fixed amount of work (the same chunks
as `kernels_fixed_work.py`, more of them), and the CPU seconds `warm_all()` takes: to compare
two trees' speed on the same machine in the same run, before and after a refactoring.

    PYTHONPATH=src .venv/bin/python benchmarks/schedule/kernels_speed.py after

Run it with an empty NUMBA_CACHE_DIR to time compiling (`warm_all_seconds`), with a
filled one to time loading the cache. Prints one JSON object.
"""

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("MICROFACTORY_DATA_DIR", HERE.parents[2] / "shared" / "data"))


def main() -> None:
    out: dict[str, object] = {"tree": sys.argv[1] if len(sys.argv) > 1 else ""}
    began = time.process_time()
    from microfactory.planning.warmup import warm_all

    warm_all()
    out["warm_all_seconds"] = round(time.process_time() - began, 2)
    from microfactory.planning.fastseq import FastDecoder
    from microfactory.planning.generator import generate_factory
    from microfactory.planning.heuristics import dispatch
    from microfactory.planning.model import Objective
    from microfactory.planning.readers import read_instance
    from microfactory.planning.reorder import OrderSearch
    from microfactory.planning.sequence import SequenceDecoder, initial_sequences
    from microfactory.planning.tabu import TabuSearch

    factory = generate_factory(seed=0, target_ops=2000)
    fast = FastDecoder(SequenceDecoder(factory, Objective.WEIGHTED_TARDINESS, 10**7))
    seq = initial_sequences(factory)[0]
    began = time.process_time()
    for k in range(60):
        seq, _, _ = fast.descend(seq, time.perf_counter(), k, 30)
    out["fastseq_60_chunks_seconds"] = round(time.process_time() - began, 3)
    plan = dispatch(factory, "edd")
    assert plan is not None
    search = OrderSearch(factory, Objective.WEIGHTED_TARDINESS, 10**7)
    began = time.process_time()
    for k in range(60):
        plan, _, _ = search.search(plan, time.perf_counter(), k)
    out["reorder_60_chunks_seconds"] = round(time.process_time() - began, 3)
    mk = read_instance(DATA / "fjsp" / "brandimarte" / "mk10.fjs")
    plan = dispatch(mk, "spt")
    assert plan is not None
    tabu = TabuSearch(mk)
    began = time.process_time()
    for k in range(20):
        plan, _, _ = tabu.search(plan, time.perf_counter(), k)
    out["tabu_20_chunks_seconds"] = round(time.process_time() - began, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
