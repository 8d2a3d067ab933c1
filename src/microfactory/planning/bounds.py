"""Cheap makespan lower bounds, valid for every plan of a problem (no solver needed)."""

from __future__ import annotations

from microfactory.planning.heuristics import tails
from microfactory.planning.model import Problem


def static_lower_bound(problem: Problem) -> int:
    """The largest of: release + longest tail of any operation (critical path), the load of
    each machine from operations it alone can run, and the total minimum work spread over
    all machines."""
    if problem.n_ops == 0:
        return 0
    tail = tails(problem)
    path = max(problem.release_of(i) + tail[i] for i in range(problem.n_ops))
    load = [0] * len(problem.machines)
    for op in problem.operations:
        if len(op.modes) == 1:
            load[op.modes[0].machine] += op.modes[0].duration
    total = sum(op.min_duration for op in problem.operations)
    spread = -(-total // max(1, len(problem.machines)))
    return max(path, max(load, default=0), spread)
