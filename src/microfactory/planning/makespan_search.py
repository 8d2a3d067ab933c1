"""Tabu search on the disjunctive graph for the makespan of a job shop, classic (one
machine per operation) or flexible, compiled with numba: what the monolithic CP-SAT model
lacks on large job shops (Taillard's 30 x 20 instances), where in 60 s on two workers it
stalls 5-7 % above the best known values, and on Hurink's nearly classic edata shops,
where its result varies by tens of units from seed to seed.

A plan is one order per machine (doubly linked lists), and in a flexible shop each
operation's machine and duration. Heads (earliest starts) follow by
the forward pass `kernels.heads`, tails (longest path from an operation's end to the end
of the plan) by the backward pass `kernels.tails`; the makespan is the longest path.

Neighbourhood N7 (Zhang, Li, Guan & Rao, "A tabu search algorithm with a new neighborhood
structure for the job shop scheduling problem", Computers & Operations Research 34, 2007),
which extends N6 (Balas & Vazacopoulos 1998) and N5 (Nowicki & Smutnicki 1996): on one
critical path, drawn at random among the longest ones, split into blocks (runs of
operations on one machine), move each operation of a block to the block's front or its
end, and move the block's first and last operations to every inner position. A move that
could close a cycle is left out by the sufficient conditions of Balas & Vazacopoulos (no
path between the moved operation's job neighbours and the block operation it passes).
Every move is estimated in O(block) by the longest path through the operations it
reorders (their new heads forward from the segment's machine predecessor, their new
tails backward from its successor); the best estimate that is not tabu wins (a tabu move
wins when its estimate beats the best plan: aspiration), ties at random.

In a flexible shop every operation on that path that has other machines may also move
to one of them, into the gap of that machine's order with the least estimate (the longest
path through it, from its job neighbours' and the gap's heads and tails, as in Mastrolilli
& Gambardella, "Effective neighbourhood functions for the flexible job shop problem",
J. Scheduling 3, 2000); gaps that could close a cycle are left out by head/tail
conditions of the same kind, and the estimate competes with N7's.

Tabu attributes: the machine arcs a move removed (a -> x and x -> c when x left the place
between a and c) may not be recreated for a random tenure, nor may an operation that left
a machine go back to it. When the best plan has not
improved for `STALL` iterations the search goes back to it and applies `KICK` random
critical swaps (an iterated local search). `search` runs it in threads (the kernel runs
without the GIL) as a multi-start search (`portfolio.ElitePortfolio`): runs of a fixed
number of steps, first from the start plans it is given, then from the best plans found
so far (an elite of `ELITE`). In a flexible shop the runs start afresh from the start
plans, each with a new seed, for the first `FRESH_SHARE` of the time: there the seed
decides the basin (edata la21, 20 runs of 200,000 steps from one plan: 1,014-1,034;
single runs of 2,000,000 steps stay where they settled), so many short runs beat a few
long ones (30 s, 2 threads, seeds 0-3: 1,009, 1,009, 1,009, 1,014 against 1,021 and
1,017 from seeds 0 and 1 before).

Scope (`applies`): makespan, no setups, calendars, frozen operations, deadlines or
operators; releases and precedence DAGs are handled. The solver runs it on classic and
nearly classic shops (`SearchSettings.makespan_search_max_modes`); on Brandimarte's
(1.43-4.1 machines per operation) the model, `tabu.py` and window LNS stay.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit

from microfactory.planning.kernels import (
    CYCLE,
    detach,
    heads,
    job_graph,
    machine_orders,
    move,
    rand,
    tails,
    undo,
    warm_once,
)
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.portfolio import Budget, ElitePortfolio, State

CHUNK = 1000  # iterations per compiled call (the clock is checked between calls)
TENURE_MIN, TENURE_SPAN = 10, 6
STALL = 4000  # iterations without a new best plan before a kick from it
KICK = 6  # random critical swaps of a kick
MAX_OPS = 3000  # above: the n x n tabu matrix grows past 70 MB
START_ITERATIONS = 200_000  # tabu steps from each start plan
ELITE_ITERATIONS = 400_000  # tabu steps of a restart from an elite plan
ELITE = 4  # best distinct plans kept for the restarts
FRESH_SHARE = 0.5  # flexible shops: share of the time for runs afresh from the start plans
MAX_MOVES = 4096  # estimated moves kept per iteration


@njit(cache=True, nogil=True)
def _critical_path(graph, dur, mprev, head, makespan, meta, path):  # type: ignore[no-untyped-def]
    """One longest path, drawn at random (its last operation, then a tight predecessor at
    each step); its length, the operations in path[:length] from first to last."""
    n = dur.shape[0]
    last = -1
    seen = 0
    for op in range(n):
        if head[op] + dur[op] == makespan:
            seen += 1
            if rand(meta, seen) == 0:
                last = op
    length = 0
    op = last
    pred_ptr, pred_idx = graph.pred_ptr, graph.pred_idx
    while op >= 0:
        path[length] = op
        length += 1
        pick = -1
        seen = 0
        q = mprev[op]
        if q >= 0 and head[q] + dur[q] == head[op]:
            seen += 1
            pick = q
        for k in range(pred_ptr[op], pred_ptr[op + 1]):
            p = pred_idx[k]
            if head[p] + dur[p] == head[op]:
                seen += 1
                if rand(meta, seen) == 0:
                    pick = p
        op = pick
    for i in range(length // 2):
        path[i], path[length - 1 - i] = path[length - 1 - i], path[i]
    return length


@njit(cache=True, nogil=True)
def _estimate(graph, dur, head, tail, seq, k):  # type: ignore[no-untyped-def]
    """The longest path through the operations seq[:k] (consecutive on one machine, in
    their new order) after the move: new heads forward from the machine predecessor of
    the segment, new tails backward from its successor (Balas & Vazacopoulos 1998)."""
    pred_ptr, pred_idx, release = graph.pred_ptr, graph.pred_idx, graph.release
    succ_ptr, succ_idx = graph.succ_ptr, graph.succ_idx
    # the segment's neighbours: the old machine predecessor of the first operation in the
    # old order and the successor of the last; the caller passes them in seq[k], seq[k+1]
    a, c = seq[k], seq[k + 1]
    t = 0 if a < 0 else head[a] + dur[a]
    for i in range(k):
        op = seq[i]
        r = release[op]
        if t > r:
            r = t
        for j in range(pred_ptr[op], pred_ptr[op + 1]):
            e = head[pred_idx[j]] + dur[pred_idx[j]]
            if e > r:
                r = e
        seq[k + 2 + i] = r  # new head
        t = r + dur[op]
    t = 0 if c < 0 else dur[c] + tail[c]
    longest = 0
    for i in range(k - 1, -1, -1):
        op = seq[i]
        q = t
        for j in range(succ_ptr[op], succ_ptr[op + 1]):
            e = dur[succ_idx[j]] + tail[succ_idx[j]]
            if e > q:
                q = e
        e = seq[k + 2 + i] + dur[op] + q
        if e > longest:
            longest = e
        t = dur[op] + q
    return longest


@njit(cache=True, nogil=True)
def _no_path_back(graph, dur, head, x, y):  # type: ignore[no-untyped-def]
    """Whether moving x right before y (y earlier on the machine) surely closes no cycle:
    no job predecessor of x can be reached from y (a path from y to p would make p start
    at or after y's end)."""
    for j in range(graph.pred_ptr[x], graph.pred_ptr[x + 1]):
        p = graph.pred_idx[j]
        if p == y or head[p] >= head[y] + dur[y]:
            return False
    return True


@njit(cache=True, nogil=True)
def _no_path_forward(graph, dur, tail, x, y):  # type: ignore[no-untyped-def]
    """Whether moving x right after y (y later on the machine) surely closes no cycle:
    y cannot be reached from any job successor s of x (a path from s to y would make s's
    tail at least y's duration plus y's tail)."""
    for j in range(graph.succ_ptr[x], graph.succ_ptr[x + 1]):
        s = graph.succ_idx[j]
        if s == y or tail[s] >= dur[y] + tail[y]:
            return False
    return True


@njit(cache=True, nogil=True)
def _add(  # type: ignore[no-untyped-def]
    graph, dur, head, tail, mprev, mnext, block, i, j, moves, count, seq,
):  # fmt: skip
    """Estimate the move of block[i] to block position j (its front side when j < i,
    its back side when j > i) and append it to moves (x, y, after, estimate)."""
    if i == j or count >= moves.shape[1]:
        return count
    x = block[i]
    m = 0
    if j < i:
        y = block[j]
        if not _no_path_back(graph, dur, head, x, y):
            return count
        seq[m] = x
        m += 1
        for p in range(j, i):
            seq[m] = block[p]
            m += 1
        seq[m] = mprev[y]
        seq[m + 1] = mnext[x]
        after = 0
    else:
        y = block[j]
        if not _no_path_forward(graph, dur, tail, x, y):
            return count
        for p in range(i + 1, j + 1):
            seq[m] = block[p]
            m += 1
        seq[m] = x
        m += 1
        seq[m] = mprev[x]
        seq[m + 1] = mnext[y]
        after = 1
    moves[0, count] = x
    moves[1, count] = y
    moves[2, count] = after
    moves[3, count] = _estimate(graph, dur, head, tail, seq, m)
    return count + 1


@njit(cache=True, nogil=True)
def _machine_firsts(mach, mprev, first):  # type: ignore[no-untyped-def]
    """The first operation of each machine's order (-1: the machine runs nothing)."""
    first[:] = -1
    for op in range(mach.shape[0]):
        if mprev[op] < 0:
            first[mach[op]] = op


@njit(cache=True, nogil=True)
def _reassign(graph, modes, cur, head, tail, first, x, moves, count):  # type: ignore[no-untyped-def]
    """For each other machine that can run x: x taken out of its machine and put into the
    gap of that machine's order with the least estimate (the longest path through x:
    max(release, job predecessors' ends, the new machine predecessor's end) + x's duration
    there + max(job successors' tails, the new machine successor's duration and tail), as
    Mastrolilli & Gambardella 2000), appended to moves (x, y, after, estimate, machine,
    duration; after = 2: the machine runs nothing). A gap is left out unless it surely
    closes no cycle: no job predecessor of x reachable from the gap's successor, the gap's
    predecessor not reachable from a job successor of x (heads and tails tell)."""
    mnext, mach, dur = cur[1], cur[2], cur[3]
    pred_ptr, pred_idx = graph.pred_ptr, graph.pred_idx
    succ_ptr, succ_idx = graph.succ_ptr, graph.succ_idx
    r = graph.release[x]
    for j in range(pred_ptr[x], pred_ptr[x + 1]):
        e = head[pred_idx[j]] + dur[pred_idx[j]]
        if e > r:
            r = e
    q = 0
    for j in range(succ_ptr[x], succ_ptr[x + 1]):
        e = dur[succ_idx[j]] + tail[succ_idx[j]]
        if e > q:
            q = e
    for m in range(modes.ptr[x], modes.ptr[x + 1]):
        k = modes.machine[m]
        if k == mach[x] or count >= moves.shape[1]:
            continue
        d = modes.duration[m]
        found = False
        pick_u, pick_w, pick_est = -1, -1, 0
        u, w = -1, first[k]
        while True:
            safe = True
            if w >= 0:
                for j in range(pred_ptr[x], pred_ptr[x + 1]):
                    p = pred_idx[j]
                    if p == w or head[p] >= head[w] + dur[w]:
                        safe = False
                        break
            if safe and u >= 0:
                for j in range(succ_ptr[x], succ_ptr[x + 1]):
                    s = succ_idx[j]
                    if s == u or tail[s] >= dur[u] + tail[u]:
                        safe = False
                        break
            if safe:
                h = r
                if u >= 0 and head[u] + dur[u] > h:
                    h = head[u] + dur[u]
                t = q
                if w >= 0 and dur[w] + tail[w] > t:
                    t = dur[w] + tail[w]
                if not found or h + d + t < pick_est:
                    found, pick_u, pick_w, pick_est = True, u, w, h + d + t
            if w < 0:
                break
            u, w = w, mnext[w]
        if not found:
            continue
        moves[0, count] = x
        if pick_u >= 0:
            moves[1, count], moves[2, count] = pick_u, 1
        elif pick_w >= 0:
            moves[1, count], moves[2, count] = pick_w, 0
        else:
            moves[1, count], moves[2, count] = -1, 2
        moves[3, count] = pick_est
        moves[4, count] = k
        moves[5, count] = d
        count += 1
    return count


@njit(cache=True, nogil=True)
def _neighbourhood(  # type: ignore[no-untyped-def]
    graph, modes, cur, head, tail, path, length, block, moves, seq, first,
):  # fmt: skip
    """N7 on the critical path path[:length], and in a flexible shop every critical
    operation's move to another machine (`_reassign`): the moves and their estimates;
    their number, or -1 when the path has no block of two operations and no operation on
    it has another machine (its makespan is then the length of a chain of job precedences
    at fixed durations: a lower bound, so the plan is optimal)."""
    dur, mprev, mnext = cur[3], cur[0], cur[1]
    count = 0
    blocks = 0
    s = 0
    while s < length:
        e = s
        while e + 1 < length and mnext[path[e]] == path[e + 1]:
            e += 1
        k = e - s + 1
        if k >= 2:
            blocks += 1
            for i in range(k):
                block[i] = path[s + i]
            for i in range(1, k):  # to the front
                count = _add(graph, dur, head, tail, mprev, mnext, block, i, 0, moves, count, seq)
            for i in range(k - 1):  # to the end
                count = _add(
                    graph, dur, head, tail, mprev, mnext, block, i, k - 1, moves, count, seq
                )
            for j in range(1, k - 1):  # first and last to the inner positions
                count = _add(graph, dur, head, tail, mprev, mnext, block, 0, j, moves, count, seq)
                count = _add(
                    graph, dur, head, tail, mprev, mnext, block, k - 1, j, moves, count, seq
                )
        s = e + 1
    for c in range(count):
        moves[4, c] = -1  # same machine
    flexible = 0
    if modes.ptr[dur.shape[0]] > dur.shape[0]:
        _machine_firsts(cur[2], mprev, first)
        for i in range(length):
            x = path[i]
            if modes.ptr[x + 1] - modes.ptr[x] > 1:
                flexible += 1
                count = _reassign(graph, modes, cur, head, tail, first, x, moves, count)
    return count if blocks or flexible else -1


@njit(cache=True, nogil=True)
def _kick(graph, dur, mprev, mnext, head, indeg, queue, meta, path, kicks):  # type: ignore[no-untyped-def]
    """`kicks` random swaps of adjacent operations on a critical path (a swap on a longest
    path closes no cycle; an undone one if it does anyway)."""
    for _ in range(kicks):
        makespan = heads(graph, dur, mprev, mnext, head, indeg, queue)
        length = _critical_path(graph, dur, mprev, head, makespan, meta, path)
        arcs = 0
        for i in range(length - 1):
            if mnext[path[i]] == path[i + 1]:
                arcs += 1
        if arcs == 0:
            return
        pick = rand(meta, arcs)
        for i in range(length - 1):
            if mnext[path[i]] == path[i + 1]:
                if pick == 0:
                    p, q = move(mprev, mnext, path[i], path[i + 1], True)
                    if heads(graph, dur, mprev, mnext, head, indeg, queue) == CYCLE:
                        undo(mprev, mnext, path[i], p, q)
                    break
                pick -= 1


@njit(cache=True, nogil=True)
def _search(steps, graph, modes, cur, best, meta, tabu, mtabu, work, moves):  # type: ignore[no-untyped-def]
    """`steps` tabu steps from the plan `cur` (rows: machine predecessor, successor,
    machine and duration per operation; changed in place); `best` holds the best plan.
    meta: [0] current makespan, [1] best, [2] iterations, [3] iterations since the best,
    [4] improvements, [5] stall, [6] kick, [7] random state, [8] target, [9] tenure min,
    [10] tenure span. tabu[a, b]: the step until which the machine arc a -> b may not come
    back; mtabu[x, k]: until which x may not go back to machine k."""
    n = cur.shape[1]
    mprev, mnext, mach, dur = cur[0], cur[1], cur[2], cur[3]
    head, tail, indeg, queue, path, block, seq, first = (
        work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7],
    )  # fmt: skip
    makespan = heads(graph, dur, mprev, mnext, head, indeg, queue)
    if makespan == CYCLE:
        cur[:] = best
        makespan = heads(graph, dur, mprev, mnext, head, indeg, queue)
    tails(graph, dur, mnext, queue, tail)
    for _ in range(steps):
        if meta[1] <= meta[8]:
            break
        it = meta[2]
        meta[2] += 1
        length = _critical_path(graph, dur, mprev, head, makespan, meta, path)
        count = _neighbourhood(
            graph, modes, cur, head, tail, path, length, block, moves, seq, first
        )
        if count < 0:
            meta[8] = meta[1]  # the current plan is optimal, so is the best one
            break
        value = CYCLE
        left = -1  # the machine x left (a move to another machine)
        while value == CYCLE:
            pick = -1
            best_est = 0
            ties = 0
            for c in range(count):
                x, y, after, est = moves[0, c], moves[1, c], moves[2, c], moves[3, c]
                k = moves[4, c]
                if est < 0:
                    continue  # it closed a cycle
                if k >= 0:
                    forbidden = mtabu[x, k] > it
                else:
                    if after:
                        p, q = y, mnext[y]
                    else:
                        p, q = mprev[y], y
                    forbidden = tabu[n if p < 0 else p, x] > it or tabu[x, n if q < 0 else q] > it
                if forbidden and est >= meta[1]:
                    continue
                if pick < 0 or est < best_est:
                    pick, best_est, ties = c, est, 1
                elif est == best_est:
                    ties += 1
                    if rand(meta, ties) == 0:
                        pick = c
            if pick < 0:
                break
            x, y, after, k = moves[0, pick], moves[1, pick], moves[2, pick], moves[4, pick]
            old_machine, old_dur = mach[x], dur[x]
            if after == 2:
                a, b = detach(mprev, mnext, x)
            else:
                a, b = move(mprev, mnext, x, y, after)
            if k >= 0:
                mach[x], dur[x] = k, moves[5, pick]
            value = heads(graph, dur, mprev, mnext, head, indeg, queue)
            if value == CYCLE:
                undo(mprev, mnext, x, a, b)
                mach[x], dur[x] = old_machine, old_dur
                moves[3, pick] = -1
            elif k >= 0:
                left = old_machine
        if value == CYCLE:
            # every move tabu (or closing a cycle): back to the best plan with a kick
            meta[3] = meta[5]
            value = heads(graph, dur, mprev, mnext, head, indeg, queue)
            a, b, x = -1, -1, -1
        makespan = value
        if x >= 0:
            tenure = meta[9] + rand(meta, meta[10])
            tabu[n if a < 0 else a, x] = it + tenure
            tabu[x, n if b < 0 else b] = it + tenure
            if left >= 0:
                mtabu[x, left] = it + tenure
        if makespan < meta[1]:
            meta[1] = makespan
            meta[3] = 0
            meta[4] += 1
            best[:] = cur
        else:
            meta[3] += 1
            if meta[3] >= meta[5]:
                meta[3] = 0
                cur[:] = best
                _kick(graph, dur, mprev, mnext, head, indeg, queue, meta, path, meta[6])
                makespan = heads(graph, dur, mprev, mnext, head, indeg, queue)
        meta[0] = makespan
        tails(graph, dur, mnext, queue, tail)
    return meta[1]


class Modes(NamedTuple):
    """Each operation's machines and durations (compressed rows): operation k can run on
    machine[ptr[k]:ptr[k + 1]] for the durations duration[ptr[k]:ptr[k + 1]]."""

    ptr: np.ndarray
    machine: np.ndarray
    duration: np.ndarray


def applies(problem: Problem, objective: Objective) -> bool:
    """Makespan of a shop without setups, calendars, frozen operations, deadlines or
    operators (one machine per operation or a choice of machines)."""
    return (
        objective is Objective.MAKESPAN
        and 2 <= problem.n_ops <= MAX_OPS
        and not problem.frozen
        and not problem.operators
        and not problem.has_setups
        and all(op.modes for op in problem.operations)
        and all(op.crew is None and op.deadline is None for op in problem.operations)
        and all(not m.unavailable for m in problem.machines)
    )


class MakespanSearch:
    """Tabu search for one problem (see the module doc; `applies` must hold). A plan is
    held as a state: machine predecessor, successor, machine and duration per operation
    (`state`)."""

    def __init__(self, problem: Problem) -> None:
        if not applies(problem, Objective.MAKESPAN):
            raise ValueError(
                "the makespan search needs a shop without setups, calendars, frozen "
                "operations, deadlines or operators"
            )
        self.problem = problem
        self.graph = job_graph(problem)
        ops = problem.operations
        ptr = np.zeros(len(ops) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(op.modes) for op in ops])
        machine = np.array([m.machine for op in ops for m in op.modes], dtype=np.int64)
        duration = np.array([m.duration for op in ops for m in op.modes], dtype=np.int64)
        self.modes = Modes(ptr, machine, duration)
        self.durations = [{m.machine: m.duration for m in reversed(op.modes)} for op in ops]

    def state(self, plan: Sequence[Assignment]) -> State:
        """The plan's state (machine orders in its start order)."""
        n = self.problem.n_ops
        mach = np.zeros(n, dtype=np.int64)
        dur = np.zeros(n, dtype=np.int64)
        for a in plan:
            mach[a.op] = a.machine
            dur[a.op] = self.durations[a.op][a.machine]
        mprev, mnext = machine_orders(plan, [int(m) for m in mach])
        return mprev, mnext, mach, dur

    def plan(self, state: State) -> tuple[int, list[Assignment]]:
        """The makespan (CYCLE when the orders are cyclic) and the semi-active plan."""
        mprev, mnext, mach, dur = state
        n = self.problem.n_ops
        work = np.zeros((3, n), dtype=np.int64)
        value = int(heads(self.graph, dur, mprev, mnext, work[0], work[1], work[2]))
        plan = [
            Assignment(op, int(mach[op]), int(work[0, op]), int(work[0, op] + dur[op]))
            for op in range(n)
        ]
        return value, plan

    def search(
        self,
        plan: Sequence[Assignment],
        deadline: float,
        seed: int = 0,
        target: int = 0,
        iterations: int | None = None,
    ) -> tuple[list[Assignment], int, tuple[int, int]]:
        """The best plan found from `plan` by `deadline` (perf_counter), or after
        `iterations` steps when given (then the deadline is not looked at), or as soon as
        its makespan reaches `target` (a lower bound); its makespan, and (iterations,
        improvements)."""
        state = self.state(plan)
        if self.plan(state)[0] < 0:
            return list(plan), CYCLE, (0, 0)
        best, _, stats = self.search_state(
            state, deadline, seed, target, iterations, iterations is None
        )
        value, found = self.plan(best)
        return found, value, stats

    def search_state(
        self,
        state: State,
        deadline: float,
        seed: int = 0,
        target: int = 0,
        iterations: int | None = None,
        timed: bool = True,
    ) -> tuple[State, int, tuple[int, int]]:
        """The tabu search from an acyclic state (left as it was) until `iterations`
        steps (when given), `deadline` (when `timed`) or `target`: the best state, its
        makespan and (iterations, improvements)."""
        n = self.problem.n_ops
        cur = np.stack(state).astype(np.int64)
        value, _ = self.plan(state)
        meta = np.zeros(11, dtype=np.int64)
        meta[0] = meta[1] = value
        meta[5], meta[6] = STALL, KICK
        meta[7] = (seed * 2654435761 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF or 1
        meta[8] = target
        meta[9], meta[10] = TENURE_MIN, TENURE_SPAN
        best = cur.copy()
        tabu = np.zeros((n + 1, n + 1), dtype=np.int64)
        mtabu = np.zeros((n, len(self.problem.machines)), dtype=np.int64)
        work = np.zeros((8, max(2 * n + 4, len(self.problem.machines))), dtype=np.int64)
        moves = np.zeros((6, MAX_MOVES), dtype=np.int64)
        while meta[1] > target:
            steps = CHUNK if iterations is None else min(CHUNK, iterations - int(meta[2]))
            if steps <= 0:
                break
            before = int(meta[2])
            _search(steps, self.graph, self.modes, cur, best, meta, tabu, mtabu, work, moves)
            if int(meta[2]) - before < steps:
                break  # the plan is optimal (no move) or the target was reached
            if timed and time.perf_counter() >= deadline:
                break
        found = (best[0].copy(), best[1].copy(), best[2].copy(), best[3].copy())
        return found, int(meta[1]), (int(meta[2]), int(meta[4]))


def search(
    problem: Problem,
    plan: Sequence[Assignment],
    deadline: float,
    seed: int = 0,
    threads: int = 1,
    target: int = 0,
    starts: Sequence[Sequence[Assignment]] = (),
) -> tuple[list[Assignment], int]:
    """The best plan found until `deadline` (perf_counter) or `target`, and its makespan.
    `threads` workers share one queue of start plans (`portfolio.ElitePortfolio`):
    `plan`, then `starts`, each searched for `START_ITERATIONS` steps (in a flexible shop
    again and again, each with a new seed, for `FRESH_SHARE` of the time); after that,
    each run restarts from one of the `ELITE` best plans found so far (the best one half
    of the time) for `ELITE_ITERATIONS` steps with a new seed."""
    warm()
    searcher = MakespanSearch(problem)

    def run(state: State, until: float, run_seed: int, goal: int, steps: int) -> tuple[State, int]:
        best, value, _ = searcher.search_state(state, until, run_seed, goal, steps)
        return best, value

    flexible = bool(searcher.modes.ptr[-1] > problem.n_ops)
    budget = Budget(START_ITERATIONS, ELITE_ITERATIONS, ELITE, 0, FRESH_SHARE if flexible else 0.0)
    portfolio = ElitePortfolio(run, budget, target, seed)
    best = portfolio.search_from(
        (searcher.state(start) for start in (plan, *starts)),
        lambda state: searcher.plan(state)[0],
        deadline,
        threads,
    )
    if best is None:
        return list(plan), CYCLE
    found_value, found = searcher.plan(best)
    return found, found_value


def warm() -> float:
    """Compile the kernels (the first time on a machine: several seconds, then cached next
    to this module) or load them from the cache, once per process; the seconds taken."""
    return warm_once("makespan_search", _exercise)


def _exercise() -> None:
    from microfactory.planning.model import Job, Machine, Mode, Operation, chain_precedences

    operations = tuple(
        Operation(job=j, modes=(Mode((j + k) % 2, 2 + j + k),)) for j in range(2) for k in range(2)
    )
    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=(Job(), Job()),
        operations=operations,
        precedences=chain_precedences([[0, 1], [2, 3]]),
    )
    plan = [Assignment(0, 0, 0, 2), Assignment(1, 1, 2, 5), Assignment(2, 1, 0, 3)]
    plan.append(Assignment(3, 0, 3, 7))
    MakespanSearch(problem).search(plan, time.perf_counter(), iterations=50)
