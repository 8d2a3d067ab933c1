"""The machine-order search as the solver calls it: `OrderSearch` for one problem (arrays
built once, the compiled steps run in chunks until a deadline), `search` with parallel
rounds in several processes, and the warm-up."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import numpy as np
from numba import njit

from microfactory.planning.kernels import warm_once
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.reorder.arrays import (
    BEST,
    CANDIDATES,
    IMPROVEMENTS,
    INCREMENTAL,
    MAKESPAN,
    MISMATCHES,
    NO_BOUND,
    PROPAGATED,
    REJECTED,
    RETIMED,
    TALLY_SIZE,
    TARDINESS,
    VALUE,
    VERIFY,
    Instance,
    Solution,
    StartOrder,
    assignments,
    build_instance,
    copy_solution,
    scratch_for,
    solution_of,
)
from microfactory.planning.reorder.late_acceptance import steps
from microfactory.planning.reorder.timing import evaluate
from microfactory.planning.rounds import Rounds, WorkerFailures, parallel_rounds
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings

CHUNK = 256  # candidates per compiled call (the clock is checked between calls)
LATE_ACCEPTANCE = 30


@njit(cache=True)
def _seed(seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)


class OrderSearch:
    """Machine-order local search for one problem and objective (see the package doc).
    `scale` is the lexicographic objective's factor (must exceed any makespan)."""

    def __init__(self, problem: Problem, objective: Objective, scale: int) -> None:
        self.problem = problem
        self.inst: Instance = build_instance(problem, objective, scale)
        self.positive = all(m.duration > 0 for op in problem.operations for m in op.modes)
        self.mismatches = 0
        self.retimed = 0
        self.propagated = 0

    def _timed(self, plan: Sequence[Assignment], bound: int) -> tuple[int, Solution]:
        """The value of a whole pass over `plan`'s machine orders and the solution."""
        sol = solution_of(self.problem, plan, self.inst.seg_off)
        n, n_jobs = self.problem.n_ops, len(self.problem.jobs)
        indeg, queue = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        left = np.zeros(n_jobs, dtype=np.int64)
        return int(evaluate(self.inst, sol, bound, indeg, queue, left)), sol

    def evaluate(self, plan: Sequence[Assignment]) -> tuple[int, list[Assignment]]:
        """The objective and plan the forward pass gives for `plan`'s machine orders
        (negative: PRUNED / CYCLE / IMPOSSIBLE, then the plan is `plan` itself)."""
        value, sol = self._timed(plan, NO_BOUND)
        if value < 0:
            return value, list(plan)
        return value, assignments(sol)

    def search(
        self,
        plan: Sequence[Assignment],
        deadline: float,
        seed: int = 0,
        late_acceptance: int | None = None,
        verify: bool = False,
    ) -> tuple[list[Assignment], int, tuple[int, int, int]]:
        """The best plan found from `plan` by `deadline` (perf_counter; at least one
        chunk of candidates), its objective, and (candidates, rejected, improvements).
        `verify` (tests): evaluate every candidate from scratch too, without pruning, and
        count in `self.mismatches` where the incremental pass disagreed."""
        n = self.problem.n_ops
        value, cur = self._timed(plan, NO_BOUND)
        self.mismatches = self.retimed = self.propagated = 0
        if value < 0 or n < 2:  # orders that do not give back a plan: leave it as it is
            return list(plan), value, (0, 0, 0)
        cand, best = copy_solution(cur), copy_solution(cur)
        by_start = np.argsort(cur.start, kind="stable")
        rank = np.zeros(n, dtype=np.int64)
        rank[by_start] = np.arange(n)
        index = StartOrder(by_start, np.maximum.accumulate(cur.end[by_start]), rank)
        scratch = scratch_for(cand, len(self.problem.jobs))
        recent = np.full(late_acceptance or LATE_ACCEPTANCE, value, dtype=np.int64)
        tally = np.zeros(TALLY_SIZE, dtype=np.int64)
        tally[VALUE] = tally[BEST] = value
        late = (self.inst.has_due != 0) & (cur.comp > self.inst.due)
        tally[TARDINESS] = int((self.inst.weight * (cur.comp - self.inst.due))[late].sum())
        tally[MAKESPAN] = int(cur.end.max())
        tally[VERIFY] = int(verify)
        # propagation needs the start order to be topological: no zero durations
        tally[INCREMENTAL] = int(self.positive)
        reach = max(2, min(50, n // 40))
        _seed(seed & 0xFFFFFFFF)
        while True:
            steps(CHUNK, self.inst, cur, cand, best, index, scratch, recent, tally, reach)
            if time.perf_counter() >= deadline:
                break
        self.mismatches = int(tally[MISMATCHES])
        self.retimed = int(tally[RETIMED])
        self.propagated = int(tally[PROPAGATED])
        return (
            assignments(best),
            int(tally[BEST]),
            (int(tally[CANDIDATES]), int(tally[REJECTED]), int(tally[IMPROVEMENTS])),
        )


def search(
    problem: Problem,
    objective: Objective,
    plan: Sequence[Assignment],
    deadline: float,
    scale: int,
    seed: int = 0,
    workers: int = 1,
    settings: SearchSettings = DEFAULT_SETTINGS,
    failures: WorkerFailures | None = None,
) -> tuple[list[Assignment], int]:
    """The best plan found from `plan` by machine-order search until `deadline`, and its
    objective (negative: `plan` is returned unchanged, see `OrderSearch.evaluate`). With
    `workers` > 1 and enough time, that many spawned processes search in rounds from the
    best plan so far, each with its own seed (`rounds.parallel_rounds`; when the pool
    breaks, noted in `failures`, the search goes on here from the best plan so far).
    Compiles the kernels first if this machine has not yet (`warm`)."""
    warm()
    plan = list(plan)
    value = -1
    if workers > 1 and deadline - time.perf_counter() >= settings.reorder_parallel_min_seconds:
        value = OrderSearch(problem, objective, scale).evaluate(plan)[0]
        if value < 0:
            return plan, value
        task = functools.partial(_round, problem, objective, scale)
        rounds = Rounds(settings.reorder_round_seconds, stop_below=0.5, send_back=0.2)
        outcome = parallel_rounds(
            task,
            [plan] * workers,
            plan,
            value,
            deadline,
            seed,
            rounds,
            "machine-order search",
            failures if failures is not None else WorkerFailures(),
        )
        if not outcome.broken:
            return outcome.best, outcome.value
        plan = outcome.best
    found, found_value, _ = OrderSearch(problem, objective, scale).search(plan, deadline, seed)
    return found, found_value


def _round(
    problem: Problem,
    objective: Objective,
    scale: int,
    plan: list[Assignment],
    seconds: float,
    seed: int,
) -> tuple[int, list[Assignment], tuple[int, ...]]:
    """One worker's round (runs in a child process): (value, plan, step counters)."""
    deadline = time.perf_counter() + seconds
    found, value, counts = OrderSearch(problem, objective, scale).search(plan, deadline, seed)
    return value, found, counts


def warm() -> float:
    """Compile the kernels (the first time on a machine: several seconds, then cached next
    to their modules) or load them from the cache, once per process; the seconds taken."""
    return warm_once("reorder", _exercise)


def _exercise() -> None:
    from microfactory.planning.model import Job, Machine, Mode, Operation

    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=tuple(Job(due=3) for _ in range(3)),
        operations=tuple(Operation(job=j, modes=(Mode(0, 3 + j), Mode(1, 4))) for j in range(3)),
    )
    plan = [Assignment(0, 0, 0, 3), Assignment(1, 1, 0, 4), Assignment(2, 0, 3, 8)]
    OrderSearch(problem, Objective.WEIGHTED_TARDINESS, 100).search(plan, time.perf_counter())
