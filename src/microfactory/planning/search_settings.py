"""`SearchSettings`: the planner's time shares and size thresholds, passed into `solve`
(and from there into the searches) instead of module constants that tuning runs patched.

The defaults are the measured values the benchmarks in `benchmarks/schedule/` were run
with; a tuning run builds its own `SearchSettings(...)` and passes it, so that two solves
in one process can never see each other's experiment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """Time shares are fractions of `solve`'s time limit; seconds are wall seconds."""

    # the monolithic CP-SAT model runs up to this many operations and setup-circuit arcs
    monolithic_max_ops: int = 1200
    monolithic_max_arcs: int = 10_000
    # above this many operations: no dynamic (slow) dispatching rule
    large_ops: int = 1000
    # the makespan of a flexible shop: the monolithic model gets this share of the time,
    # but at least makespan_monolithic_seconds (see solver._default_share)
    makespan_monolithic_share: float = 0.25
    makespan_monolithic_seconds: float = 5.0
    # below: return the heuristic plan
    min_solver_seconds: float = 0.05
    # large due-date problems: job-sequence search, then machine-order search, then LNS
    sequence_share: float = 0.3
    reorder_share: float = 0.6
    # below: tabu search alone (a spawned process costs ~1 s)
    tabu_portfolio_seconds: float = 6.0
    # parallel rounds of the job-sequence search: one process below the first; the
    # workers share their best sequence every round
    sequence_parallel_min_seconds: float = 8.0
    sequence_round_seconds: float = 5.0
    # the same for the machine-order search
    reorder_parallel_min_seconds: float = 8.0
    reorder_round_seconds: float = 6.0
    # tabu search in several processes from this much time on
    tabu_parallel_min_seconds: float = 4.0
    # weighted tardiness of a job shop: tardy-tree tabu search (twt_search) for this share
    # of the time before the monolithic model, which it hints
    twt_search_share: float = 0.5
    # makespan of a classic job shop with at least makespan_search_min_ops operations:
    # N7 tabu search (makespan_search) for this share of the time before the monolithic
    # model, which it hints (below that size the model alone proves most optima quickly)
    makespan_search_share: float = 0.5
    makespan_search_min_ops: int = 200
    # ... and of a nearly classic flexible shop (operations average fewer machines than
    # this: Hurink's edata 1.13-1.21 in, Brandimarte's 1.43-4.1 out), which also keeps
    # the whole time for search and model instead of the quarter-then-LNS split
    makespan_search_max_modes: float = 1.3
    # such a shop gets the search from this many operations on (where the model alone
    # varies by seed: edata la21, 150 operations, 1,009-1,023); below
    # makespan_search_min_ops after the model, for the last share of the time below (the
    # search first, hinting the model, lost la25's optimum 936 that the model proves
    # alone: 937, 940)
    flexible_search_min_ops: int = 150
    flexible_small_search_share: float = 0.25

    def __post_init__(self) -> None:
        for name in (
            "sequence_share",
            "reorder_share",
            "makespan_monolithic_share",
            "twt_search_share",
            "makespan_search_share",
            "flexible_small_search_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.sequence_share + self.reorder_share > 1.0:
            raise ValueError("sequence_share + reorder_share must not exceed 1")
        for name in ("sequence_round_seconds", "reorder_round_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


DEFAULT_SETTINGS = SearchSettings()
