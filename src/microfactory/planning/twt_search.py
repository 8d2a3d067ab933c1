"""Tabu search on the disjunctive graph for the total weighted tardiness of a job shop,
compiled with numba: what closes the gap on Singer & Pinedo's 10 x 10 instances, where the
monolithic CP-SAT model alone stalls 10-30 % above the best known values in 60 s.

A plan is one order per machine (doubly linked lists); every operation has one machine.
Heads (earliest starts) follow by a forward pass in topological order over the job
precedences and machine orders; a job's completion is the latest end of its operations,
and the objective sum_j w_j max(0, C_j - d_j) is computed exactly from the heads: every
move is evaluated exactly by a forward pass over the operations that follow, in the
current topological order, the earliest operation whose incoming arcs the move changed
(the others keep their heads), about half of them on average.

Neighbourhood (after Kreipl 2000; Essafi, Mati & Dauzère-Pérès 2008; Kuhpfahl & Bierwirth
2016): the critical tree, i.e. the tight arcs of the longest paths to the completion of
every tardy job; a move swaps the two operations of a tight machine arc (u -> v becomes
v -> u). Swapping an arc of a longest path closes no cycle (the classic argument of van
Laarhoven, Aarts & Lenstra 1992); the forward pass checks it anyway. Every move is
evaluated exactly; the best one that is not tabu wins (a tabu move wins when it beats the
best plan: aspiration), ties at random. Swapping u -> v forbids recreating u -> v for a
random tenure. After `STALL` iterations without a new best plan the search goes back to
the best plan and applies `KICK` random critical swaps (an iterated local search).

`search` runs it as a multi-start search: from one plan the search ends in the same basin
whatever the seed, and which start escapes it differs by instance, so the workers take
runs of a fixed number of steps from a shared queue: every dispatching rule's plan, a few
random plans, then restarts from the best plans found so far (an elite of `ELITE`).
Block insertions (knobs[3]) stay off by default: in every run they found orb10 at
f = 1.5's optimum 346 (swaps: 458) but lost on most others (orb8 at f = 1.5: 1,434
against 1,035), and in every other run they lost on 9 of 16 hard instances (RESULTS.md).

Scope (`applies`): weighted tardiness, one machine per operation, no setups, calendars,
frozen operations, deadlines or operators; releases and precedence DAGs are handled.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Sequence

import numpy as np
from numba import njit

from microfactory.planning.kernels import (
    CYCLE,
    JobGraph,
    heads,
    machine_orders,
    move,
    rand,
    undo,
    warm_once,
)
from microfactory.planning.model import Assignment, Objective, Problem, topological_order
from microfactory.planning.portfolio import Budget, ElitePortfolio, State

CHUNK = 500  # iterations per compiled call (the clock is checked between calls)
TENURE_MIN, TENURE_SPAN = 6, 10
STALL = 1500  # iterations without a new best plan before a kick from it
KICK = 8  # random critical swaps of a kick
MAX_OPS = 3000  # above: the n x n tabu matrix grows past 70 MB
START_ITERATIONS = 40_000  # tabu steps from each start plan of the multi-start search
ELITE_ITERATIONS = 150_000  # tabu steps of a restart from an elite plan
RANDOM_STARTS = 4  # random start plans after the dispatching rules' ones
ELITE = 4  # best distinct plans kept for the restarts


@njit(cache=True, nogil=True)
def _evaluate(  # type: ignore[no-untyped-def]
    dur, job, mprev, mnext, pred_ptr, pred_idx, succ_ptr, succ_idx, release, due, weight,
    head, indeg, queue, comp,
):  # fmt: skip
    """Forward pass (`kernels.heads`, the one the tabu search uses): fills head, queue
    (topological order) and comp (job completions); the total weighted tardiness, or
    CYCLE."""
    graph = JobGraph(pred_ptr, pred_idx, succ_ptr, succ_idx, release)
    if heads(graph, dur, mprev, mnext, head, indeg, queue) == CYCLE:
        return CYCLE
    comp[:] = 0
    for op in range(dur.shape[0]):
        if head[op] + dur[op] > comp[job[op]]:
            comp[job[op]] = head[op] + dur[op]
    total = 0
    for j in range(comp.shape[0]):
        if comp[j] > due[j]:
            total += weight[j] * (comp[j] - due[j])
    return total


@njit(cache=True, nogil=True)
def _evaluate_after(  # type: ignore[no-untyped-def]
    first, dur, job, mprev, mnext, pred_ptr, pred_idx, succ_ptr, succ_idx, release, due,
    weight, sink_ptr, sink_idx, head, queue, pos, new_head, indeg, todo,
):  # fmt: skip
    """The objective after a move, from the heads (`head`) and topological order (`queue`,
    `pos`: position of each operation) of the plan before it: operations before position
    `first` (the earliest new arc target of the move) keep their heads (none of them
    descends from a changed arc); the others are recomputed in new_head (restored to head
    before returning). CYCLE when the move closed a cycle."""
    n = dur.shape[0]
    for k in range(first, n):
        op = queue[k]
        d = 0
        for i in range(pred_ptr[op], pred_ptr[op + 1]):
            if pos[pred_idx[i]] >= first:
                d += 1
        before = mprev[op]
        if before >= 0 and pos[before] >= first:
            d += 1
        indeg[op] = d
    top = 0
    for k in range(first, n):
        op = queue[k]
        if indeg[op] == 0:
            todo[top] = op
            top += 1
    h = 0
    while h < top:
        op = todo[h]
        h += 1
        t = release[op]
        for i in range(pred_ptr[op], pred_ptr[op + 1]):
            e = new_head[pred_idx[i]] + dur[pred_idx[i]]
            if e > t:
                t = e
        before = mprev[op]
        if before >= 0:
            e = new_head[before] + dur[before]
            if e > t:
                t = e
        new_head[op] = t
        for i in range(succ_ptr[op], succ_ptr[op + 1]):
            nxt = succ_idx[i]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                todo[top] = nxt
                top += 1
        nxt = mnext[op]
        if nxt >= 0:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                todo[top] = nxt
                top += 1
    total = CYCLE
    if top == n - first:
        total = 0
        for j in range(sink_ptr.shape[0] - 1):
            c = 0
            for i in range(sink_ptr[j], sink_ptr[j + 1]):
                e = new_head[sink_idx[i]] + dur[sink_idx[i]]
                if e > c:
                    c = e
            if c > due[j]:
                total += weight[j] * (c - due[j])
    for k in range(first, n):
        new_head[queue[k]] = head[queue[k]]
    return total


@njit(cache=True, nogil=True)
def _swap(mprev, mnext, u, v):  # type: ignore[no-untyped-def]
    """u -> v (adjacent on a machine) becomes v -> u."""
    a = mprev[u]
    b = mnext[v]
    mprev[v] = a
    if a >= 0:
        mnext[a] = v
    mnext[v] = u
    mprev[u] = v
    mnext[u] = b
    if b >= 0:
        mprev[b] = u


@njit(cache=True, nogil=True)
def _critical_arcs(  # type: ignore[no-untyped-def]
    dur, job, mprev, pred_ptr, pred_idx, sink_ptr, sink_idx, due, head, comp, stamp, mark,
    stack, cand_u, cand_v,
):  # fmt: skip
    """The tight machine arcs (u, v) on the longest paths to the completion of every tardy
    job (its critical tree), each once; their number."""
    count = 0
    for j in range(comp.shape[0]):
        if comp[j] <= due[j]:
            continue
        top = 0
        for k in range(sink_ptr[j], sink_ptr[j + 1]):
            op = sink_idx[k]
            if head[op] + dur[op] == comp[j] and mark[op] != stamp:
                mark[op] = stamp
                stack[top] = op
                top += 1
        while top > 0:
            top -= 1
            x = stack[top]
            for k in range(pred_ptr[x], pred_ptr[x + 1]):
                p = pred_idx[k]
                if head[p] + dur[p] == head[x] and mark[p] != stamp:
                    mark[p] = stamp
                    stack[top] = p
                    top += 1
            q = mprev[x]
            if q >= 0 and head[q] + dur[q] == head[x] and dur[q] > 0:
                if count < cand_u.shape[0]:
                    cand_u[count] = q
                    cand_v[count] = x
                    count += 1
                if mark[q] != stamp:
                    mark[q] = stamp
                    stack[top] = q
                    top += 1
    return count


@njit(cache=True, nogil=True)
def _add(cand, count, x, y, after, mprev, mnext):  # type: ignore[no-untyped-def]
    """Append the move (x after / before y) unless it leaves the order as it is."""
    if x == y or count >= cand.shape[1]:
        return count
    if after and mprev[x] == y:
        return count
    if not after and mnext[x] == y:
        return count
    cand[0, count] = x
    cand[1, count] = y
    cand[2, count] = after
    return count + 1


@njit(cache=True, nogil=True)
def _block_moves(mprev, mnext, cand_u, cand_v, arcs, stamp, mark, block, cand, insert):  # type: ignore[no-untyped-def]
    """The moves on the critical blocks (maximal runs of critical arcs on one machine):
    swap every critical pair; move each operation of a block to its front or its end;
    move the first operation behind, and the last in front of, each other one."""
    for c in range(arcs):
        mark[cand_v[c]] = stamp
    count = 0
    for c in range(arcs):
        first = cand_u[c]
        if mark[first] == stamp:
            continue  # not the start of a block
        k = 0
        block[k] = first
        k += 1
        x = cand_v[c]
        while x >= 0 and mark[x] == stamp:
            block[k] = x
            k += 1
            x = mnext[x]
        for i in range(k - 1):
            count = _add(cand, count, block[i], block[i + 1], True, mprev, mnext)
        if k < 3 or not insert:
            continue
        for i in range(1, k):
            count = _add(cand, count, block[i], block[0], False, mprev, mnext)
            count = _add(cand, count, block[k - 1], block[i - 1], False, mprev, mnext)
        for i in range(k - 1):
            count = _add(cand, count, block[i], block[k - 1], True, mprev, mnext)
            count = _add(cand, count, block[0], block[i + 1], True, mprev, mnext)
    return count


@njit(cache=True, nogil=True)
def _search(  # type: ignore[no-untyped-def]
    iterations, mprev, mnext, best_prev, best_next, meta, tabu, cand_u, cand_v, cand, work,
    comp, dur, job, pred_ptr, pred_idx, succ_ptr, succ_idx, sink_ptr, sink_idx, release, due,
    weight,
):  # fmt: skip
    """`iterations` tabu steps (fewer when the best plan reaches meta[8]). meta = [current
    value, best value, iteration, iterations since the best improved, improvements,
    stall, kick, rng state, target, tenure min, tenure span, stamp, insertions on].
    work rows: head, indeg, queue, mark, stack, scratch head, scratch queue, block,
    position in queue. tabu[a + 1, b + 1] > it: the machine arc a -> b may not be
    created."""
    head, indeg, queue, mark, stack = work[0], work[1], work[2], work[3], work[4]
    scratch_head, scratch_queue, block, pos = work[5], work[6], work[7], work[8]
    stall, kick = meta[5], meta[6]
    for _ in range(iterations):
        if meta[1] <= meta[8]:
            break
        it = meta[2]
        meta[2] += 1
        if meta[3] >= stall:  # back to the best plan, a few random critical swaps
            mprev[:] = best_prev
            mnext[:] = best_next
            tabu[:, :] = 0
            meta[3] = 0
            for _k in range(kick):
                _evaluate(
                    dur, job, mprev, mnext, pred_ptr, pred_idx, succ_ptr, succ_idx,
                    release, due, weight, head, indeg, queue, comp,
                )  # fmt: skip
                meta[11] += 1
                arcs = _critical_arcs(
                    dur, job, mprev, pred_ptr, pred_idx, sink_ptr, sink_idx, due, head, comp,
                    meta[11], mark, stack, cand_u, cand_v,
                )  # fmt: skip
                if arcs == 0:
                    break
                c = rand(meta, arcs)
                _swap(mprev, mnext, cand_u[c], cand_v[c])
        current = _evaluate(
            dur, job, mprev, mnext, pred_ptr, pred_idx, succ_ptr, succ_idx, release, due,
            weight, head, indeg, queue, comp,
        )  # fmt: skip
        meta[0] = current
        for k in range(queue.shape[0]):
            pos[queue[k]] = k
        scratch_head[:] = head
        meta[11] += 1
        arcs = _critical_arcs(
            dur, job, mprev, pred_ptr, pred_idx, sink_ptr, sink_idx, due, head, comp,
            meta[11], mark, stack, cand_u, cand_v,
        )  # fmt: skip
        meta[11] += 1
        count = _block_moves(
            mprev, mnext, cand_u, cand_v, arcs, meta[11], mark, block, cand, meta[12]
        )
        meta[3] += 1
        if count == 0:
            meta[3] = stall
            continue
        chosen = -1
        chosen_value = 0
        ties = 0
        fallback = -1
        fallback_value = 0
        for c in range(count):
            x, y, after = cand[0, c], cand[1, c], cand[2, c]
            p, q = move(mprev, mnext, x, y, after)
            first = pos[x]  # the earliest target of a changed arc: p -> q, a -> x, x -> b
            if q >= 0 and pos[q] < first:
                first = pos[q]
            b = mnext[x]
            if b >= 0 and pos[b] < first:
                first = pos[b]
            value = _evaluate_after(
                first, dur, job, mprev, mnext, pred_ptr, pred_idx, succ_ptr, succ_idx, release,
                due, weight, sink_ptr, sink_idx, head, queue, pos, scratch_head, indeg,
                scratch_queue,
            )  # fmt: skip
            forbidden = tabu[mprev[x] + 1, x + 1] > it or tabu[x + 1, mnext[x] + 1] > it
            undo(mprev, mnext, x, p, q)
            if value == CYCLE:
                continue
            if fallback < 0:
                fallback, fallback_value = c, value
            if forbidden and value >= meta[1]:
                continue  # tabu, no aspiration
            if chosen < 0 or value < chosen_value:
                chosen, chosen_value, ties = c, value, 1
            elif value == chosen_value:
                ties += 1
                if rand(meta, ties) == 0:
                    chosen = c
        if chosen < 0:  # every move tabu: the first feasible one
            if fallback < 0:
                meta[3] = stall
                continue
            chosen, chosen_value = fallback, fallback_value
        x, y, after = cand[0, chosen], cand[1, chosen], cand[2, chosen]
        p, q = move(mprev, mnext, x, y, after)
        until = it + meta[9] + rand(meta, meta[10])
        tabu[p + 1, x + 1] = until  # x may not go back next to its old neighbours
        tabu[x + 1, q + 1] = until
        meta[0] = chosen_value
        if chosen_value < meta[1]:
            meta[1] = chosen_value
            best_prev[:] = mprev
            best_next[:] = mnext
            meta[3] = 0
            meta[4] += 1


def applies(problem: Problem, objective: Objective) -> bool:
    """Weighted tardiness of a shop with one machine per operation and due dates, without
    setups, calendars, frozen operations, deadlines or operators."""
    return (
        objective is Objective.WEIGHTED_TARDINESS
        and problem.has_due_dates
        and 2 <= problem.n_ops <= MAX_OPS
        and not problem.frozen
        and not problem.operators
        and not problem.has_setups
        and all(len(op.modes) == 1 for op in problem.operations)
        and all(op.crew is None and op.deadline is None for op in problem.operations)
        and all(not m.unavailable for m in problem.machines)
    )


def _csr(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    flat: list[int] = []
    for k, items in enumerate(lists):
        flat.extend(items)
        ptr[k + 1] = len(flat)
    return ptr, np.array(flat, dtype=np.int64)


class TwtSearch:
    """Tabu search for one problem (see the module doc; `applies` must hold)."""

    def __init__(self, problem: Problem) -> None:
        if not applies(problem, Objective.WEIGHTED_TARDINESS):
            raise ValueError("the weighted-tardiness search needs a job shop with due dates")
        self.problem = problem
        n = problem.n_ops
        preds, succs = problem.predecessors(), problem.successors()
        self.pred_ptr, self.pred_idx = _csr(preds)
        self.succ_ptr, self.succ_idx = _csr(succs)
        ops = problem.operations
        self.job = np.array([op.job for op in ops], dtype=np.int64)
        self.dur = np.array([op.modes[0].duration for op in ops], dtype=np.int64)
        self.mach = [op.modes[0].machine for op in ops]
        self.release = np.array([problem.release_of(op) for op in range(n)], dtype=np.int64)
        # a job's completion is the latest end of its operations without a successor in it
        sinks: list[list[int]] = [[] for _ in problem.jobs]
        for op, operation in enumerate(ops):
            if not any(ops[s].job == operation.job for s in succs[op]):
                sinks[operation.job].append(op)
        self.sink_ptr, self.sink_idx = _csr(sinks)
        big = np.iinfo(np.int64).max // 4
        self.due = np.array([big if j.due is None else j.due for j in problem.jobs], dtype=np.int64)
        self.weight = np.array([j.weight for j in problem.jobs], dtype=np.int64)
        # for the random starts: work left from each operation on (itself included)
        self.tail = [0] * n
        for op in reversed(topological_order(n, problem.precedences) or range(n)):
            after = max((self.tail[s] for s in succs[op]), default=0)
            self.tail[op] = int(self.dur[op]) + after
        total = int(self.dur.sum())
        self.due_for_keys = [total if j.due is None else j.due for j in problem.jobs]

    def _static(self) -> tuple[np.ndarray, ...]:
        return (
            self.dur, self.job, self.pred_ptr, self.pred_idx, self.succ_ptr, self.succ_idx,
            self.sink_ptr, self.sink_idx, self.release, self.due, self.weight,
        )  # fmt: skip

    def _orders(self, plan: Sequence[Assignment]) -> tuple[np.ndarray, np.ndarray]:
        """Machine predecessor / successor per operation, in the plan's start order."""
        return machine_orders(plan, self.mach)

    def _plan(self, mprev: np.ndarray, mnext: np.ndarray) -> tuple[int, list[Assignment]]:
        """The objective (CYCLE when the orders are cyclic) and the semi-active plan."""
        n = self.problem.n_ops
        work = np.zeros((3, n), dtype=np.int64)
        comp = np.zeros(len(self.problem.jobs), dtype=np.int64)
        s = self._static()
        value = int(
            _evaluate(
                s[0], s[1], mprev, mnext, s[2], s[3], s[4], s[5], s[8], s[9], s[10],
                work[0], work[1], work[2], comp,
            )
        )  # fmt: skip
        plan = [
            Assignment(op, self.mach[op], int(work[0, op]), int(work[0, op] + self.dur[op]))
            for op in range(n)
        ]
        return value, plan

    def evaluate(self, plan: Sequence[Assignment]) -> tuple[int, list[Assignment]]:
        """The weighted tardiness and the plan the forward pass gives for `plan`'s machine
        orders (CYCLE and `plan` itself when they are cyclic)."""
        value, found = self._plan(*self._orders(plan))
        return value, found if value >= 0 else list(plan)

    def search(
        self,
        plan: Sequence[Assignment],
        deadline: float,
        seed: int = 0,
        target: int = 0,
        stall: int = STALL,
        tenure: tuple[int, int] = (TENURE_MIN, TENURE_SPAN),
        kick: int = KICK,
        insert: int = 0,
        iterations: int | None = None,
    ) -> tuple[list[Assignment], int, tuple[int, int]]:
        """The best plan found from `plan` by `deadline` (perf_counter; at least one chunk
        of iterations), or after `iterations` steps when given (then the deadline is not
        looked at: a run that depends on the seed only, not on the machine's speed or
        load), or as soon as its value reaches
        `target` (a lower bound), its weighted tardiness, and (iterations, improvements)."""
        mprev, mnext = self._orders(plan)
        value, _ = self._plan(mprev, mnext)
        if value < 0:
            return list(plan), value, (0, 0)
        knobs = (stall, tenure, kick, insert)
        best_prev, best_next, _, stats = self.search_orders(
            mprev, mnext, deadline, seed, target, knobs, iterations, iterations is None
        )
        found_value, found = self._plan(best_prev, best_next)
        return found, found_value, stats

    def search_orders(
        self,
        mprev: np.ndarray,
        mnext: np.ndarray,
        deadline: float,
        seed: int = 0,
        target: int = 0,
        knobs: tuple[int, tuple[int, int], int, int] = (STALL, (TENURE_MIN, TENURE_SPAN), KICK, 0),
        iterations: int | None = None,
        timed: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int]]:
        """The tabu search from acyclic machine orders (`mprev`, `mnext`, left as they
        were) until `iterations` steps (when given), `deadline` (when `timed`) or `target`,
        whichever comes first: the best orders, their value and (iterations,
        improvements). knobs = (stall, (tenure min, tenure span), kick, insertions on)."""
        n = self.problem.n_ops
        mprev, mnext = mprev.copy(), mnext.copy()
        value, _ = self._plan(mprev, mnext)
        stall, tenure, kick, insert = knobs
        meta = np.zeros(13, dtype=np.int64)
        meta[12] = insert
        meta[9], meta[10] = tenure
        meta[0] = meta[1] = value
        meta[5], meta[6] = stall, kick
        meta[7] = (seed * 2654435761 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF or 1
        meta[8] = target
        best_prev, best_next = mprev.copy(), mnext.copy()
        tabu = np.zeros((n + 1, n + 1), dtype=np.int64)
        cand_u = np.zeros(n, dtype=np.int64)
        cand_v = np.zeros(n, dtype=np.int64)
        cand = np.zeros((3, 5 * n), dtype=np.int64)
        work = np.zeros((9, n), dtype=np.int64)
        comp = np.zeros(len(self.problem.jobs), dtype=np.int64)
        while meta[1] > target:
            steps = CHUNK if iterations is None else min(CHUNK, iterations - int(meta[2]))
            if steps <= 0:
                break
            _search(
                steps, mprev, mnext, best_prev, best_next, meta, tabu, cand_u, cand_v, cand,
                work, comp, *self._static(),
            )  # fmt: skip
            if timed and time.perf_counter() >= deadline:
                break
        return best_prev, best_next, int(meta[1]), (int(meta[2]), int(meta[4]))

    def random_orders(self, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
        """Machine orders of a plan by the serial scheme with noisy priorities: the ready
        operation with the least slack (its job's due date times a random factor in
        [0.7, 1.3], less the work left in its job from it on) goes next, appended to its
        machine. A diverse start for the multi-start search, not a good plan."""
        n = self.problem.n_ops
        noisy = [float(d) * rng.uniform(0.7, 1.3) for d in self.due_for_keys]
        key = [noisy[int(self.job[op])] - self.tail[op] for op in range(n)]
        missing = [int(self.pred_ptr[op + 1] - self.pred_ptr[op]) for op in range(n)]
        est = [int(r) for r in self.release]
        free: dict[int, int] = {}
        last: dict[int, int] = {}
        mprev = np.full(n, -1, dtype=np.int64)
        mnext = np.full(n, -1, dtype=np.int64)
        ready = [(key[op], rng.random(), op) for op in range(n) if missing[op] == 0]
        heapq.heapify(ready)
        while ready:
            _, _, op = heapq.heappop(ready)
            machine = self.mach[op]
            start = max(est[op], free.get(machine, 0))
            end = start + int(self.dur[op])
            free[machine] = end
            before = last.get(machine, -1)
            mprev[op] = before
            if before >= 0:
                mnext[before] = op
            last[machine] = op
            for k in range(int(self.succ_ptr[op]), int(self.succ_ptr[op + 1])):
                s = int(self.succ_idx[k])
                est[s] = max(est[s], end)
                missing[s] -= 1
                if missing[s] == 0:
                    heapq.heappush(ready, (key[s], rng.random(), s))
        return mprev, mnext


def search(
    problem: Problem,
    plan: Sequence[Assignment],
    deadline: float,
    seed: int = 0,
    threads: int = 1,
    target: int = 0,
    starts: Sequence[Sequence[Assignment]] = (),
    knobs: tuple[int, tuple[int, int], int, int] = (STALL, (TENURE_MIN, TENURE_SPAN), KICK, 0),
) -> tuple[list[Assignment], int]:
    """The best plan found by a multi-start tabu search until `deadline` (perf_counter)
    or `target`, and its weighted tardiness. `threads` workers (the kernel runs without
    the GIL) share one queue of start plans (`portfolio.ElitePortfolio`): `plan`, then
    `starts` (other dispatching rules' plans), then `RANDOM_STARTS` random ones
    (`TwtSearch.random_orders`), each searched for `START_ITERATIONS` steps; after that,
    each run restarts from one of the `ELITE` best plans found so far (the best one half
    of the time) for `ELITE_ITERATIONS` steps with a new seed."""
    warm()
    searcher = TwtSearch(problem)

    def run(state: State, until: float, run_seed: int, goal: int, steps: int) -> tuple[State, int]:
        best_prev, best_next, value, _ = searcher.search_orders(
            state[0], state[1], until, run_seed, goal, knobs, steps
        )
        return (best_prev, best_next), value

    budget = Budget(START_ITERATIONS, ELITE_ITERATIONS, ELITE, RANDOM_STARTS)
    portfolio = ElitePortfolio(run, budget, target, seed, searcher.random_orders)
    best = portfolio.search_from(
        (searcher._orders(start) for start in (plan, *starts)),
        lambda state: searcher._plan(state[0], state[1])[0],
        deadline,
        threads,
    )
    if best is None:
        return list(plan), CYCLE
    found_value, found = searcher._plan(*best)
    return found, found_value


def warm() -> float:
    """Compile the kernels (the first time on a machine: several seconds, then cached next
    to this module) or load them from the cache, once per process; the seconds taken."""
    return warm_once("twt_search", _exercise)


def _exercise() -> None:
    from microfactory.planning.model import Job, Machine, Mode, Operation, chain_precedences

    operations = tuple(
        Operation(job=j, modes=(Mode((j + k) % 2, 2 + j + k),)) for j in range(2) for k in range(2)
    )
    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=(Job(due=3, weight=2), Job(due=4, weight=1)),
        operations=operations,
        precedences=chain_precedences([[0, 1], [2, 3]]),
    )
    plan = [Assignment(0, 0, 0, 2), Assignment(1, 1, 2, 5), Assignment(2, 1, 0, 3)]
    plan.append(Assignment(3, 0, 3, 7))
    TwtSearch(problem).search(plan, time.perf_counter())
