"""The Python side of the machine-order search: `OrderSearch` turns a problem and a plan
into the kernels' arrays (`arrays`) and runs chunks of `steps` until a deadline;
`search` is what the solver calls (in parallel rounds when it has the workers and time);
`warm` compiles the kernels.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import numpy as np
from numba import njit

from microfactory.planning.kernels import csr, warm_once
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.reorder.arrays import (
    COMPLETION,
    DURATION,
    END,
    MACHINE,
    ORDER,
    POSITION,
    START,
    Instance,
    Options,
    Scratch,
    SearchState,
    StartOrder,
    plan_view,
)
from microfactory.planning.reorder.steps import steps
from microfactory.planning.reorder.timing import NO_BOUND, evaluate
from microfactory.planning.rounds import Rounds, WorkerFailures, parallel_rounds
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings

CHUNK = 256  # candidates per compiled call (the clock is checked between calls)
LATE_ACCEPTANCE = 30


def instance_of(problem: Problem, objective: Objective, scale: int) -> Instance:
    """The kernels' view of `problem` for `objective` (`scale`: the lexicographic
    objective's factor, which must exceed any makespan)."""
    n = problem.n_ops
    frozen = problem.frozen_by_op()
    names = sorted({op.family for op in problem.operations})
    ids = {name: k for k, name in enumerate(names)}
    n_machines = len(problem.machines)
    setup = np.zeros((n_machines, len(names), len(names)), dtype=np.int64)
    has_setup = np.zeros(n_machines, dtype=np.int64)
    for m, machine in enumerate(problem.machines):
        if machine.has_setups:
            has_setup[m] = 1
            for a, fa in enumerate(names):
                for b, fb in enumerate(names):
                    setup[m, a, b] = machine.setup(fa, fb)
    modes = [[(m.machine, m.duration) for m in op.modes] for op in problem.operations]
    job_ops = problem.job_ops()
    if objective is Objective.MAKESPAN:
        tw, mw = 0, 1
    elif objective is Objective.WEIGHTED_TARDINESS:
        tw, mw = 1, 0
    else:
        tw, mw = scale, 1
    pred_ptr, pred_idx = csr(problem.predecessors())
    succ_ptr, succ_idx = csr(problem.successors())
    mode_ptr, mode_mach = csr([[m for m, _ in ms] for ms in modes])
    win_ptr, win_start = csr([[w.start for w in m.unavailable] for m in problem.machines])
    job_ptr, flat_job_ops = csr(job_ops)
    return Instance(
        pred_ptr=pred_ptr,
        pred_idx=pred_idx,
        succ_ptr=succ_ptr,
        succ_idx=succ_idx,
        release=np.array([problem.release_of(op) for op in range(n)], dtype=np.int64),
        deadline=np.array(
            [-1 if op.deadline is None else op.deadline for op in problem.operations],
            dtype=np.int64,
        ),
        fixed=np.array(
            [frozen[op].start if op in frozen else -1 for op in range(n)], dtype=np.int64
        ),
        movable=np.array([op not in frozen for op in range(n)], dtype=np.int64),
        family=np.array([ids[op.family] for op in problem.operations], dtype=np.int64),
        job=np.array([op.job for op in problem.operations], dtype=np.int64),
        mode_ptr=mode_ptr,
        mode_mach=mode_mach,
        mode_dur=csr([[d for _, d in ms] for ms in modes])[1],
        setup=setup,
        has_setup=has_setup,
        win_ptr=win_ptr,
        win_start=win_start,
        win_end=csr([[w.end for w in m.unavailable] for m in problem.machines])[1],
        seg_off=_segment_offsets(problem),
        due=np.array([job.due or 0 for job in problem.jobs], dtype=np.int64),
        has_due=np.array([job.due is not None for job in problem.jobs], dtype=np.int64),
        weight=np.array([job.weight for job in problem.jobs], dtype=np.int64),
        job_size=np.array([len(ops) for ops in job_ops], dtype=np.int64),
        job_ptr=job_ptr,
        job_ops=flat_job_ops,
        tw=tw,
        mw=mw,
    )


def _segment_offsets(problem: Problem) -> np.ndarray:
    """Where each machine's order starts in a plan's flat ORDER row: room for every
    operation that may run on it, frozen ones included."""
    n_machines = len(problem.machines)
    capacity = [0] * n_machines
    for op in problem.operations:
        for mode in op.modes:
            capacity[mode.machine] += 1
    for item in problem.frozen:
        capacity[item.machine] += 1
    seg_off = np.zeros(n_machines + 1, dtype=np.int64)
    seg_off[1:] = np.cumsum(capacity)
    return seg_off


class OrderSearch:
    """Machine-order local search for one problem and objective (see the package doc).
    `scale` is the lexicographic objective's factor (must exceed any makespan)."""

    def __init__(self, problem: Problem, objective: Objective, scale: int) -> None:
        self.problem = problem
        self.inst = instance_of(problem, objective, scale)
        self.positive = all(m.duration > 0 for op in problem.operations for m in op.modes)
        total = int(self.inst.seg_off[-1])
        self.width = max(problem.n_ops, total, len(problem.jobs), 1)

    def _arrays(self, plan: Sequence[Assignment]) -> tuple[np.ndarray, np.ndarray]:
        """(plan rows, per-machine counts) of a plan (see `arrays.plan_view`)."""
        n_machines = len(self.problem.machines)
        seg_off = self.inst.seg_off
        rows = np.zeros((7, self.width), dtype=np.int64)
        counts = np.zeros(max(3, n_machines), dtype=np.int64)
        for a in sorted(plan, key=lambda a: (a.start, a.end, a.op)):
            rows[MACHINE, a.op] = a.machine
            rows[DURATION, a.op] = a.end - a.start
            rows[ORDER, seg_off[a.machine] + counts[a.machine]] = a.op
            rows[POSITION, a.op] = counts[a.machine]
            rows[START, a.op], rows[END, a.op] = a.start, a.end
            counts[a.machine] += 1
        return rows, counts

    def evaluate(self, plan: Sequence[Assignment]) -> tuple[int, list[Assignment]]:
        """The objective and plan the forward pass gives for `plan`'s machine orders
        (negative: PRUNED / CYCLE / IMPOSSIBLE, then the plan is `plan` itself)."""
        rows, counts = self._arrays(plan)
        value = self._evaluate(rows, counts, NO_BOUND)
        if value < 0:
            return int(value), list(plan)
        return int(value), self._plan(rows)

    def _evaluate(self, rows: np.ndarray, counts: np.ndarray, bound: int) -> int:
        """The forward pass over the orders in `rows`, writing its times there."""
        n = self.problem.n_ops
        work = np.zeros((3, self.width), dtype=np.int64)
        plan = plan_view(rows, counts, n, len(self.problem.jobs))
        return int(evaluate(self.inst, plan, bound, work[0], work[1], work[2]))

    def _plan(self, rows: np.ndarray) -> list[Assignment]:
        return [
            Assignment(op, int(rows[MACHINE, op]), int(rows[START, op]), int(rows[END, op]))
            for op in range(self.problem.n_ops)
        ]

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
        rows, counts = self._arrays(plan)
        value = self._evaluate(rows, counts, NO_BOUND)
        self.mismatches = 0
        self.retimed = 0
        self.propagated = 0
        if value < 0 or n < 2:  # orders that do not give back a plan: leave it as it is
            return list(plan), value, (0, 0, 0)
        state = self._state(rows, counts, value, late_acceptance or LATE_ACCEPTANCE)
        scratch = self._scratch()
        # propagation needs the start order to be topological: no zero durations
        options = Options(
            reach=max(2, min(50, n // 40)), verify=bool(verify), incremental=self.positive
        )
        _seed(seed & 0xFFFFFFFF)
        while True:
            steps(CHUNK, self.inst, options, state, scratch)
            if time.perf_counter() >= deadline:
                break
        self.mismatches = int(state.mismatches[0])
        self.retimed = int(state.counters[3])
        self.propagated = int(state.counters[4])
        return (
            self._plan(state.best),
            int(state.value[1]),
            (int(state.counters[0]), int(state.counters[1]), int(state.counters[2])),
        )

    def _state(
        self, rows: np.ndarray, counts: np.ndarray, value: int, late_acceptance: int
    ) -> SearchState:
        """The search's state at its start: `rows` (timed, with `value`) as the current,
        candidate and best plan."""
        n = self.problem.n_ops
        inst = self.inst
        by_start = np.argsort(rows[START, :n], kind="stable")
        rank = np.zeros(n, dtype=np.int64)
        rank[by_start] = np.arange(n)
        comp = rows[COMPLETION, : len(self.problem.jobs)]
        late = (inst.has_due != 0) & (comp > inst.due)
        tardiness = int((inst.weight * (comp - inst.due))[late].sum())
        return SearchState(
            cur=rows.copy(),
            cand=rows.copy(),
            best=rows.copy(),
            counts=np.tile(counts, (3, 1)),
            value=np.array([value, value, 0], dtype=np.int64),
            parts=np.array([tardiness, int(rows[END, :n].max())], dtype=np.int64),
            recent=np.full(late_acceptance, value, dtype=np.int64),
            starts=StartOrder(
                by_start=by_start.astype(np.int64),
                prefix_end=np.maximum.accumulate(rows[END, :n][by_start]),
                rank=rank,
            ),
            counters=np.zeros(5, dtype=np.int64),
            mismatches=np.zeros(1, dtype=np.int64),
        )

    def _scratch(self) -> Scratch:
        width = self.width

        def buffer(size: int = width) -> np.ndarray:
            return np.zeros(size, dtype=np.int64)

        return Scratch(
            stamp=buffer(1),
            mark=buffer(),
            done=buffer(),
            job_mark=buffer(),
            indeg=buffer(),
            queue=buffer(),
            left=buffer(),
            touched=buffer(),
            queued=buffer(2 * width + 4),
            changed=buffer(),
            spare=np.zeros((3, width), dtype=np.int64),
            parts=buffer(2),
        )


@njit(cache=True)
def _seed(seed: int) -> None:
    np.random.seed(seed)


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
    if workers > 1 and deadline - time.perf_counter() >= settings.reorder_parallel_min_seconds:
        value = OrderSearch(problem, objective, scale).evaluate(plan)[0]
        if value < 0:
            return plan, value
        outcome = parallel_rounds(
            functools.partial(_round, problem, objective, scale),
            [plan] * workers,
            plan,
            value,
            deadline,
            seed,
            Rounds(settings.reorder_round_seconds, stop_below=0.5, send_back=0.2),
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
    """One worker's round (runs in a child process): (value, plan, step counters). The
    first three arguments are bound by `functools.partial`."""
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
