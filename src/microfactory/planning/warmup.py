"""`warm_all()`: compile (or load from the cache) every numba kernel of the planner, e.g.
before a benchmark or when a service starts, so that no solve pays for it. See `kernels`."""

from __future__ import annotations

from microfactory.planning import makespan_search, reorder, sequence, tabu, twt_search


def warm_all() -> float:
    """Warm the job-sequence, machine-order, tabu, weighted-tardiness and job-shop
    makespan kernels; the seconds taken (0.0 when all were already warm in this process)."""
    return (
        sequence.warm() + reorder.warm() + tabu.warm() + twt_search.warm() + makespan_search.warm()
    )
