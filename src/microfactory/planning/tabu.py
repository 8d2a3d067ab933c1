"""Tabu search on the disjunctive graph for the makespan of a flexible job shop, compiled
with numba: what closes the last percent on Brandimarte-style instances after CP-SAT.

A plan is its machine assignment plus one order per machine (doubly linked lists). Heads
(earliest starts) follow by a forward pass over job precedences and machine orders, tails
(longest path from an operation's end to the end of the plan) by the backward pass; an
operation is critical when head + duration + tail equals the makespan.

Neighbourhood (after Mastrolilli & Gambardella, "Effective neighbourhood functions for the
flexible job shop problem", J. Scheduling 3, 2000): take a critical operation out of its
machine and insert it at any position on any machine that can run it, including its own.
Every insertion is first estimated in O(1) from the current heads and tails (longest path
through the moved operation: max(job predecessors' ends, its new machine predecessor's
end) + new duration + max(job successors' tails, new machine successor's tail)); the
`EXACT` best estimates are then evaluated exactly (forward pass, which also rejects a move
that closes a cycle) and the best exact makespan among the moves that are not tabu wins
(a tabu move wins when it beats the best plan: aspiration). Ties break at random.

Tabu attributes: the machine arcs a move removed (u -> v and v -> w when v left the place
between u and w) may not be recreated, and (when v changed machine) v may not go back to
its machine, for a random tenure. (Forbidding only "v right after u" let the neighbour
move back instead: ft06 stalled at 59-60 from the SPT plan; with arcs it reaches 55.) When the
best plan has not improved for `STALL` iterations the search restarts from it with a few
random moves of critical operations (perturbation).

Scope: makespan, no calendars, setups, frozen operations or deadlines (`applies`); releases
and precedence DAGs are handled. Anything else goes to the CP-SAT model and window LNS.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

import numpy as np
from numba import njit

from microfactory.planning.kernels import (
    CYCLE,
    JobGraph,
    csr,
    heads,
    job_graph,
    tails,
    warm_once,
)
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.rounds import WorkerFailures
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings

EXACT = 6  # best estimated moves evaluated exactly per iteration
# tabu tenure, uniform in [min, min + span): measured at 20 s from the mwkr plan, 6-15
# reached 200 / 58 on mk10 / mk06 (15-29: 200-201 / 58-59; 25-49: 203-205 on mk10) but
# only 149-150 on mk07 (15-29: 142-143), where window LNS beside it does better
TENURE_MIN, TENURE_SPAN = 6, 10
STALL = 20000  # iterations without a new best before a restart from it
KICK = 4  # random moves of a restart
CHUNK = 200  # iterations per compiled call (the clock is checked between calls)
RETURN_SECONDS = 0.5  # a worker stops this early to send its plan back and exit
MAX_OPS = 3000  # above: the n x n tabu matrix grows past 70 MB
MAX_CANDIDATES = 100_000  # estimated moves kept per iteration (the rest are not tried)


class Modes(NamedTuple):
    """The machines that can run each operation (compressed rows, see `kernels.csr`) and
    the duration on each: operation k's are mode_mach / mode_dur[mode_ptr[k]:mode_ptr[k + 1]]."""

    mode_ptr: np.ndarray
    mode_mach: np.ndarray
    mode_dur: np.ndarray


@njit(cache=True)
def _unlink(mach, mprev, mnext, mfirst, v):  # type: ignore[no-untyped-def]
    a, b = mprev[v], mnext[v]
    if a >= 0:
        mnext[a] = b
    else:
        mfirst[mach[v]] = b
    if b >= 0:
        mprev[b] = a
    mprev[v] = -1
    mnext[v] = -1


@njit(cache=True)
def _link(mach, mprev, mnext, mfirst, v, k, u):  # type: ignore[no-untyped-def]
    """Insert v on machine k right after u (-1: first)."""
    mach[v] = k
    if u >= 0:
        w = mnext[u]
        mnext[u] = v
    else:
        w = mfirst[k]
        mfirst[k] = v
    mprev[v] = u
    mnext[v] = w
    if w >= 0:
        mprev[w] = v


@njit(cache=True)
def _apply(mach, dur, mprev, mnext, mfirst, v, k, pk, u):  # type: ignore[no-untyped-def]
    """Move v after u on machine k with duration pk; returns (old machine, old
    predecessor, old duration) to undo it."""
    old_m, old_u, old_p = mach[v], mprev[v], dur[v]
    _unlink(mach, mprev, mnext, mfirst, v)
    _link(mach, mprev, mnext, mfirst, v, k, u)
    dur[v] = pk
    return old_m, old_u, old_p


@njit(cache=True)
def _tabu_search(  # type: ignore[no-untyped-def]
    iterations, state, best, meta, tabu_arc, tabu_mach, cand, work, graph, modes,
):  # fmt: skip
    """`iterations` tabu steps. state / best rows: machine, duration, machine predecessor,
    machine successor (n each); meta[0] = [current makespan, best makespan, iteration,
    iterations since the best improved, improvements]; meta[1] / meta[2] = first operation
    per machine of state / best. work rows: head, tail, indeg, queue, spare head, spare
    queue. graph: a `kernels.JobGraph`; modes: `Modes`."""
    n = state.shape[1]
    mode_ptr, mode_mach, mode_dur = modes.mode_ptr, modes.mode_mach, modes.mode_dur
    pred_ptr, pred_idx, release = graph.pred_ptr, graph.pred_idx, graph.release
    succ_ptr, succ_idx = graph.succ_ptr, graph.succ_idx
    mach, dur, mprev, mnext = state[0], state[1], state[2], state[3]
    mfirst = meta[1]
    head, tail, indeg, queue, scratch = work[0], work[1], work[2], work[3], work[4]
    scratch_q = work[5]
    max_cand = cand.shape[1]
    for _ in range(iterations):
        it = meta[0, 2]
        cmax = heads(graph, dur, mprev, mnext, head, indeg, queue)
        tails(graph, dur, mnext, queue, tail)
        if meta[0, 3] >= STALL:  # restart from the best plan with a few random moves
            state[:, :] = best
            meta[1, :] = meta[2, :]
            meta[0, 3] = 0
            tabu_arc[:, :] = 0
            tabu_mach[:, :] = 0
            for _kick in range(KICK):
                cmax = heads(graph, dur, mprev, mnext, head, indeg, queue)
                tails(graph, dur, mnext, queue, tail)
                _kick_once(
                    mach, dur, mprev, mnext, mfirst, head, tail, cmax, graph, modes,
                    scratch, indeg, scratch_q,
                )  # fmt: skip
            cmax = heads(graph, dur, mprev, mnext, head, indeg, queue)
            tails(graph, dur, mnext, queue, tail)
        meta[0, 0] = cmax
        # 1. estimate every insertion of every critical operation
        count = 0
        for v in range(n):
            if head[v] + dur[v] + tail[v] != cmax:
                continue
            rj = release[v]  # v's earliest start without its machine predecessor
            for k in range(pred_ptr[v], pred_ptr[v + 1]):
                e = head[pred_idx[k]] + dur[pred_idx[k]]
                if e > rj:
                    rj = e
            qj = 0
            for k in range(succ_ptr[v], succ_ptr[v + 1]):
                e = dur[succ_idx[k]] + tail[succ_idx[k]]
                if e > qj:
                    qj = e
            m, up = mach[v], mprev[v]
            for mi in range(mode_ptr[v], mode_ptr[v + 1]):
                k = mode_mach[mi]
                pk = mode_dur[mi]
                u = -1
                w = meta[1, k]
                while True:
                    if w == v:
                        w = mnext[v]
                        continue
                    if not (k == m and u == up):  # not where it already is
                        r = rj
                        if u >= 0 and head[u] + dur[u] > r:
                            r = head[u] + dur[u]
                        q = qj
                        if w >= 0 and dur[w] + tail[w] > q:
                            q = dur[w] + tail[w]
                        est = r + pk + q
                        tabu = (
                            (k != m and tabu_mach[v, k] > it)
                            or tabu_arc[u + 1, v + 1] > it
                            or tabu_arc[v + 1, w + 1] > it
                        )
                        if count < max_cand:
                            cand[0, count] = est * 1024 + np.random.randint(0, 1024)
                            cand[1, count] = v
                            cand[2, count] = k
                            cand[3, count] = pk
                            cand[4, count] = u
                            cand[5, count] = 1 if tabu else 0
                            count += 1
                    if w < 0:
                        break
                    u = w
                    w = mnext[w]
        if count == 0:
            meta[0, 3] = STALL  # nothing to move: restart
            meta[0, 2] += 1
            continue
        # 2. exact evaluation of the best estimates (partial selection sort)
        chosen = -1
        chosen_value = 0
        evaluated = 0
        for sel in range(count):
            if evaluated >= EXACT or sel >= 4 * EXACT:
                break
            low = sel
            for c in range(sel + 1, count):
                if cand[0, c] < cand[0, low]:
                    low = c
            if low != sel:
                for row in range(6):
                    tmp = cand[row, sel]
                    cand[row, sel] = cand[row, low]
                    cand[row, low] = tmp
            v, k, pk, u = cand[1, sel], cand[2, sel], cand[3, sel], cand[4, sel]
            old_m, old_u, old_p = _apply(mach, dur, mprev, mnext, mfirst, v, k, pk, u)
            value = heads(graph, dur, mprev, mnext, scratch, indeg, scratch_q)
            _apply(mach, dur, mprev, mnext, mfirst, v, old_m, old_p, old_u)
            if value == CYCLE:
                continue
            if cand[5, sel] != 0 and value >= meta[0, 1]:
                continue  # tabu and no aspiration
            evaluated += 1
            if chosen < 0 or value < chosen_value:  # sorted by estimate: ties keep the first
                chosen, chosen_value = sel, value
        meta[0, 2] += 1
        meta[0, 3] += 1
        if chosen < 0:
            meta[0, 3] = STALL
            continue
        v, k, pk, u = cand[1, chosen], cand[2, chosen], cand[3, chosen], cand[4, chosen]
        old_w = mnext[v]
        old_m, old_u, _ = _apply(mach, dur, mprev, mnext, mfirst, v, k, pk, u)
        tenure = TENURE_MIN + np.random.randint(0, TENURE_SPAN)
        tabu_arc[old_u + 1, v + 1] = it + tenure  # the machine arcs the move removed
        tabu_arc[v + 1, old_w + 1] = it + tenure
        if old_m != k:
            tabu_mach[v, old_m] = it + tenure
        value = chosen_value
        meta[0, 0] = value
        if value < meta[0, 1]:
            meta[0, 1] = value
            best[:, :] = state
            meta[2, :] = meta[1, :]
            meta[0, 3] = 0
            meta[0, 4] += 1


@njit(cache=True)
def _kick_once(  # type: ignore[no-untyped-def]
    mach, dur, mprev, mnext, mfirst, head, tail, cmax, graph, modes, scratch, indeg, scratch_q,
):  # fmt: skip
    """One random move of a random critical operation to a random machine that can run
    it, at the position its head suggests (kept only when it closes no cycle)."""
    n = mach.shape[0]
    seen = 0
    v = -1
    for op in range(n):
        if head[op] + dur[op] + tail[op] == cmax:
            seen += 1
            if np.random.randint(0, seen) == 0:
                v = op
    if v < 0:
        return
    mode_ptr = modes.mode_ptr
    mi = mode_ptr[v] + np.random.randint(0, mode_ptr[v + 1] - mode_ptr[v])
    k, pk = modes.mode_mach[mi], modes.mode_dur[mi]
    # after the last operation on k that starts before v (+/- one place)
    u = -1
    w = mfirst[k]
    while w >= 0:
        if w != v and head[w] < head[v]:
            u = w
        elif w != v:
            break
        w = mnext[w]
    old_m, old_u, old_p = _apply(mach, dur, mprev, mnext, mfirst, v, k, pk, u)
    value = heads(graph, dur, mprev, mnext, scratch, indeg, scratch_q)
    if value == CYCLE:
        _apply(mach, dur, mprev, mnext, mfirst, v, old_m, old_p, old_u)


@njit(cache=True)
def _seed(seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)


def applies(problem: Problem, objective: Objective) -> bool:
    """Makespan without calendars, setups, frozen operations or deadlines."""
    return (
        objective is Objective.MAKESPAN
        and 2 <= problem.n_ops <= MAX_OPS
        and not problem.frozen
        and not problem.has_setups
        and all(not m.unavailable for m in problem.machines)
        and all(op.deadline is None for op in problem.operations)
    )


class TabuSearch:
    """Tabu search for one problem (see the module doc; `applies` must hold)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.graph: JobGraph = job_graph(problem)
        modes = [[(m.machine, m.duration) for m in op.modes] for op in problem.operations]
        mode_ptr, mode_mach = csr([[m for m, _ in ms] for ms in modes])
        self.modes = Modes(mode_ptr, mode_mach, csr([[d for _, d in ms] for ms in modes])[1])
        self.n_machines = len(problem.machines)

    def _state(self, plan: Sequence[Assignment]) -> tuple[np.ndarray, np.ndarray]:
        """(rows machine / duration / predecessor / successor, first per machine)."""
        n = self.problem.n_ops
        state = np.full((4, n), -1, dtype=np.int64)
        first = np.full(max(self.n_machines, 5), -1, dtype=np.int64)
        last = [-1] * self.n_machines
        for a in sorted(plan, key=lambda a: (a.start, a.end, a.op)):
            state[0, a.op] = a.machine
            state[1, a.op] = a.end - a.start
            before = last[a.machine]
            state[2, a.op] = before
            if before >= 0:
                state[3, before] = a.op
            else:
                first[a.machine] = a.op
            last[a.machine] = a.op
        return state, first

    def evaluate(self, plan: Sequence[Assignment]) -> tuple[int, list[Assignment]]:
        """The makespan and the plan the forward pass gives for `plan`'s machine orders
        (CYCLE and `plan` itself when they are cyclic)."""
        state, _ = self._state(plan)
        value, found = self._plan(state)
        return value, found if value >= 0 else list(plan)

    def _plan(self, state: np.ndarray) -> tuple[int, list[Assignment]]:
        """The forward pass over the orders in `state`: (makespan or CYCLE, plan)."""
        n = self.problem.n_ops
        work = np.zeros((3, n), dtype=np.int64)
        value = int(heads(self.graph, state[1], state[2], state[3], work[0], work[1], work[2]))
        plan = [
            Assignment(op, int(state[0, op]), int(work[0, op]), int(work[0, op] + state[1, op]))
            for op in range(n)
        ]
        return value, plan

    def search(
        self, plan: Sequence[Assignment], deadline: float, seed: int = 0, target: int = 0
    ) -> tuple[list[Assignment], int, tuple[int, int]]:
        """The best plan found from `plan` by `deadline` (perf_counter; at least one chunk
        of iterations) or as soon as its makespan reaches `target` (a lower bound), its
        makespan, and (iterations, improvements)."""
        n = self.problem.n_ops
        state, first = self._state(plan)
        value, _ = self._plan(state)
        if value < 0:
            return list(plan), value, (0, 0)
        best = state.copy()
        meta = np.zeros((3, first.shape[0]), dtype=np.int64)
        meta[0, 0] = meta[0, 1] = value
        meta[1, :] = first
        meta[2, :] = first
        tabu_arc = np.zeros((n + 1, n + 1), dtype=np.int64)
        tabu_mach = np.zeros((n, max(self.n_machines, 1)), dtype=np.int64)
        per_iteration = int(self.modes.mode_ptr[-1]) * (n // max(self.n_machines, 1) + 2)
        width = min(max(4 * n, per_iteration), MAX_CANDIDATES)
        cand = np.zeros((6, width), dtype=np.int64)
        work = np.zeros((6, n), dtype=np.int64)
        _seed(seed & 0xFFFFFFFF)
        while meta[0, 1] > target:
            _tabu_search(
                CHUNK, state, best, meta, tabu_arc, tabu_mach, cand, work, self.graph, self.modes
            )
            if time.perf_counter() >= deadline:
                break
        found_value, found = self._plan(best)
        return found, found_value, (int(meta[0, 2]), int(meta[0, 4]))


def search(
    problem: Problem,
    plan: Sequence[Assignment],
    deadline: float,
    seed: int = 0,
    workers: int = 1,
    target: int = 0,
    settings: SearchSettings = DEFAULT_SETTINGS,
    failures: WorkerFailures | None = None,
) -> tuple[list[Assignment], int]:
    """The best plan found from `plan` by tabu search until `deadline` (or `target`), and
    its makespan (negative: `plan` is returned unchanged). With `workers` > 1 and enough
    time, that many spawned processes search independently, each with its own seed, and
    the best plan wins (one process here when workers cannot start, noted in `failures`)."""
    warm()
    if workers > 1 and deadline - time.perf_counter() >= settings.tabu_parallel_min_seconds:
        run = Background(problem, plan, deadline, seed, workers, target, failures)
        found, value = run.result()
        if value >= 0:
            return found, value
    found, value, _ = TabuSearch(problem).search(plan, deadline, seed, target)
    return found, value


class Background:
    """Independent searches in `workers` spawned processes, started at once; `result`
    waits for them (the solver runs window LNS in the meantime: a portfolio). A broken
    pool is logged and counted in `failures`."""

    def __init__(
        self,
        problem: Problem,
        plan: Sequence[Assignment],
        deadline: float,
        seed: int = 0,
        workers: int = 1,
        target: int = 0,
        failures: WorkerFailures | None = None,
    ) -> None:
        self.plan = list(plan)
        self.failures = failures if failures is not None else WorkerFailures()
        context = multiprocessing.get_context("spawn")
        wall_deadline = time.time() + deadline - time.perf_counter()
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            self.futures = [
                self.pool.submit(
                    _worker, problem, self.plan, wall_deadline, seed + 7919 * w, target
                )
                for w in range(workers)
            ]
        except BrokenProcessPool as error:
            self.failures.note("tabu search", error)
            self.futures = []

    def result(self) -> tuple[list[Assignment], int]:
        """The best plan of the workers and its makespan (`plan` and -1 when no worker
        could run, e.g. a caller's script without the `__main__` guard)."""
        results: list[tuple[list[Assignment], int]] = []
        try:
            results = [future.result() for future in self.futures]
        except BrokenProcessPool as error:
            self.failures.note("tabu search", error)
        finally:
            self.pool.shutdown()
        found = [r for r in results if r[1] >= 0]
        if not found:
            return self.plan, -1
        return min(found, key=lambda r: r[1])


def _worker(
    problem: Problem, plan: list[Assignment], wall_deadline: float, seed: int, target: int
) -> tuple[list[Assignment], int]:
    """One independent search (runs in a child process, until `wall_deadline` by the
    wall clock, which processes share, less RETURN_SECONDS to send the plan back)."""
    warm()
    deadline = time.perf_counter() + wall_deadline - time.time() - RETURN_SECONDS
    found, value, _ = TabuSearch(problem).search(plan, deadline, seed, target)
    return found, value


def warm() -> float:
    """Compile the kernels (the first time on a machine: several seconds, then cached next
    to this module) or load them from the cache, once per process; the seconds taken."""
    return warm_once("tabu", _exercise)


def _exercise() -> None:
    from microfactory.planning.model import Job, Machine, Mode, Operation

    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=tuple(Job() for _ in range(3)),
        operations=tuple(Operation(job=j, modes=(Mode(0, 3 + j), Mode(1, 4))) for j in range(3)),
    )
    plan = [Assignment(0, 0, 0, 3), Assignment(1, 1, 0, 4), Assignment(2, 0, 3, 8)]
    TabuSearch(problem).search(plan, time.perf_counter())
