"""The search loop of the machine-order search: `steps` runs late-acceptance steps on a
`SearchState`: draw a move (`moves`), time the candidate incrementally (`timing`), accept
or undo it, keep the best plan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from microfactory.planning.reorder.arrays import (
    COMPLETION,
    END,
    START,
    Instance,
    Options,
    Plan,
    Scratch,
    SearchState,
    plan_view,
)
from microfactory.planning.reorder.moves import move, sync
from microfactory.planning.reorder.timing import (
    NO_BOUND,
    OUT_OF_ORDER,
    PRUNED,
    evaluate,
    evaluate_from,
    propagate,
    rescore,
    resort,
)


@njit(cache=True)
def steps(
    iterations: int, inst: Instance, options: Options, state: SearchState, scratch: Scratch
) -> None:
    """`iterations` late-acceptance steps from `state` (see `SearchState`), counted in
    state.counters. A candidate is evaluated by propagating the move's changes
    (`propagate`) when the moved operation has a place in the current plan's start
    order that keeps it topological, else by re-timing every operation from the earliest
    one the move touched (`evaluate_from`). With options.verify, every candidate is also
    evaluated by a whole pass, without pruning, and state.mismatches counts
    disagreements (tests)."""
    late_n = state.recent.shape[0]
    n = inst.job.shape[0]
    n_jobs = inst.job_size.shape[0]
    seg_off = inst.seg_off
    counts, value_row, counters = state.counts, state.value, state.counters
    cur = plan_view(state.cur, counts[0], n, n_jobs)
    cand = plan_view(state.cand, counts[1], n, n_jobs)
    starts = state.starts
    by_start, rank = starts.by_start, starts.rank
    changed = scratch.changed
    seeds = np.empty(3, dtype=np.int64)
    for _ in range(iterations):
        # cand's machines, durations, orders and positions equal cur's here, and so do
        # its times and completions
        counters[0] += 1
        op = move(inst, cand, cur, options.reach)
        if op < 0:
            continue
        m_old, m_new = cur.mach[op], cand.mach[op]
        # the operations whose machine predecessor changes: op, the one after its old
        # place (y), the one after its new place (x)
        y = -1
        after = cur.pos[op] + 1
        if after < cur.cnt[m_old]:
            y = cur.order[seg_off[m_old] + after]
        x = -1
        after = cand.pos[op] + 1
        if after < cand.cnt[m_new]:
            x = cand.order[seg_off[m_new] + after]
        slot = value_row[2] % late_n
        threshold = max(value_row[0], state.recent[slot])
        scratch.stamp[0] += 1
        stamp = scratch.stamp[0]
        # op's place in the start order: after its new machine predecessor (its job
        # predecessors cannot change unless the new orders are cyclic), before its new
        # successors if it can (keys: 2 * rank + 2; op gets an odd one)
        lo_key = 0
        if cand.pos[op] > 0:
            lo_key = 2 * rank[cand.order[seg_off[m_new] + cand.pos[op] - 1]] + 2
        hi_key = 2 * n + 4
        if x >= 0:
            hi_key = 2 * rank[x] + 2
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            hi_key = min(hi_key, 2 * rank[inst.succ_idx[k]] + 2)
        n_changed = OUT_OF_ORDER
        if options.incremental:
            seeds[0] = op
            n_seeds = 1
            if x >= 0:
                seeds[n_seeds] = x
                n_seeds += 1
            if y >= 0:
                seeds[n_seeds] = y
                n_seeds += 1
            n_changed = propagate(
                inst, cand, cur, starts, seeds, n_seeds, op, min(lo_key, hi_key - 2) + 1,
                scratch, stamp,
            )  # fmt: skip
        if n_changed >= 0:
            counters[4] += 1
            counters[3] += n_changed
            value = rescore(inst, cand, cur, state.parts, n_changed, scratch, stamp)
            if value > threshold and not options.verify:
                value = PRUNED
        else:
            # the earliest start (in cur) of op, x and y: nothing before it changes
            first = cur.start[op]
            if x >= 0:
                first = min(first, cur.start[x])
            if y >= 0:
                first = min(first, cur.start[y])
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if cur.start[by_start[mid]] < first:
                    lo = mid + 1
                else:
                    hi = mid
            limit = lo
            bound = threshold
            if options.verify:
                bound = NO_BOUND
            scratch.stamp[0] += 1
            value, _written = evaluate_from(
                inst, cand, cur, starts, state.parts[0], limit, bound, scratch,
                scratch.stamp[0],
            )  # fmt: skip
            counters[3] += n - limit
            # restore or keep all of them (the propagation may have written some too)
            for i in range(limit, n):
                changed[i - limit] = by_start[i]
            n_changed = n - limit
        if options.verify:
            if _disagrees(inst, cand, value, scratch):
                state.mismatches[0] += 1
            if value > threshold:
                value = PRUNED
        if value < 0:
            counters[1] += 1
            sync(state.cand, state.cur, counts[1], counts[0], seg_off, op, m_old, m_new)
            for i in range(n_changed):
                v = changed[i]
                state.cand[START, v] = state.cur[START, v]
                state.cand[END, v] = state.cur[END, v]
                state.cand[COMPLETION, inst.job[v]] = state.cur[COMPLETION, inst.job[v]]
        else:
            sync(state.cur, state.cand, counts[0], counts[1], seg_off, op, m_old, m_new)
            for i in range(n_changed):
                v = changed[i]
                state.cur[START, v] = state.cand[START, v]
                state.cur[END, v] = state.cand[END, v]
                state.cur[COMPLETION, inst.job[v]] = state.cand[COMPLETION, inst.job[v]]
            state.parts[0] = scratch.parts[0]
            state.parts[1] = scratch.parts[1]
            if n_changed > 0:
                scratch.stamp[0] += 1
                resort(starts, cur, n_changed, scratch, scratch.stamp[0])
            value_row[0] = value
            if value < value_row[1]:
                value_row[1] = value
                state.best[:, :] = state.cur
                counts[2, :] = counts[0, :]
                counters[2] += 1
        state.recent[slot] = value_row[0]
        value_row[2] += 1


@njit(cache=True)
def _disagrees(inst: Instance, cand: Plan, value: int, scratch: Scratch) -> bool:
    """Whether a whole forward pass over cand's orders (into scratch.spare) disagrees
    with the incremental `value` and times (tests)."""
    n = cand.mach.shape[0]
    n_jobs = inst.job_size.shape[0]
    spare = scratch.spare
    whole = Plan(
        cand.mach, cand.dur, cand.order, cand.pos, cand.cnt, spare[0, :n], spare[1, :n],
        spare[2, :n_jobs],
    )  # fmt: skip
    full = evaluate(inst, whole, NO_BOUND, scratch.indeg, scratch.queue, scratch.left)
    same = (full < 0) == (value < 0)
    if same and value >= 0:
        same = full == value
        for v in range(n):
            if whole.start[v] != cand.start[v] or whole.end[v] != cand.end[v]:
                same = False
    return not same
