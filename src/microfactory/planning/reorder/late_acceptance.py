"""The machine-order search's loop, compiled: late-acceptance steps over candidate moves,
each evaluated incrementally (see the package doc)."""

from __future__ import annotations

import numpy as np
from numba import njit

from microfactory.planning.reorder.arrays import (
    BEST,
    CANDIDATES,
    IMPROVEMENTS,
    INCREMENTAL,
    ITERATION,
    MAKESPAN,
    MISMATCHES,
    NEW_MAKESPAN,
    NEW_TARDINESS,
    NO_BOUND,
    OUT_OF_ORDER,
    PROPAGATED,
    PRUNED,
    REJECTED,
    RETIMED,
    STAMP,
    TARDINESS,
    VALUE,
    VERIFY,
)
from microfactory.planning.reorder.moves import move, sync
from microfactory.planning.reorder.timing import (
    evaluate,
    evaluate_from,
    propagate,
    rescore,
    resort,
)


@njit(cache=True)
def copy_into(dst, src):  # type: ignore[no-untyped-def]
    """dst = src, every array of the `Solution`."""
    dst.mach[:] = src.mach
    dst.dur[:] = src.dur
    dst.order[:] = src.order
    dst.cnt[:] = src.cnt
    dst.pos[:] = src.pos
    dst.start[:] = src.start
    dst.end[:] = src.end
    dst.comp[:] = src.comp


@njit(cache=True)
def steps(iterations, inst, cur, cand, best, index, scratch, recent, tally, reach):  # type: ignore[no-untyped-def]
    """`iterations` late-acceptance steps. `cur` is the current plan, `best` the best one
    seen; `cand` equals `cur` between steps (a move changes it, and it is synced back or
    into `cur`); `index` is cur's start order; `recent` the values of the current plan in
    the last len(recent) steps; `tally` the scalars (arrays.VALUE, ...).

    A candidate is evaluated by propagating the move's changes (`propagate`) when the
    moved operation has a place in the current plan's start order that keeps it
    topological, else by re-timing every operation from the earliest one the move touched
    (`evaluate_from`). With tally[VERIFY] set, every candidate is also evaluated by a
    whole pass, without pruning, and tally[MISMATCHES] counts disagreements (tests)."""
    # fields read once: a field read in a loop costs a reference count
    cand_mach = cand.mach
    inst_seg_off = inst.seg_off
    index_rank = index.rank
    index_by_start = index.by_start
    scratch_changed = scratch.changed
    cur_mach = cur.mach
    cur_pos = cur.pos
    cur_cnt = cur.cnt
    cur_order = cur.order
    cand_pos = cand.pos
    cand_cnt = cand.cnt
    cand_order = cand.order
    inst_succ_ptr = inst.succ_ptr
    inst_succ_idx = inst.succ_idx
    scratch_job_mark = scratch.job_mark
    cur_start = cur.start
    cand_start = cand.start
    cand_end = cand.end
    cur_end = cur.end
    cand_comp = cand.comp
    inst_job = inst.job
    cur_comp = cur.comp
    scratch_mark = scratch.mark
    scratch_spare = scratch.spare
    scratch_spare2 = scratch.spare2
    late_n = recent.shape[0]
    n = cand_mach.shape[0]
    seg_off = inst_seg_off
    rank, by_start = index_rank, index_by_start
    changed = scratch_changed
    verify = tally[VERIFY] != 0
    seeds = np.empty(3, dtype=np.int64)
    for _ in range(iterations):
        tally[CANDIDATES] += 1
        op = move(inst, cand, cur, reach)
        if op < 0:
            continue
        m_old, m_new = cur_mach[op], cand_mach[op]
        # the operations whose machine predecessor changes: op, the one after its old
        # place (y), the one after its new place (x)
        y = -1
        after = cur_pos[op] + 1
        if after < cur_cnt[m_old]:
            y = cur_order[seg_off[m_old] + after]
        x = -1
        after = cand_pos[op] + 1
        if after < cand_cnt[m_new]:
            x = cand_order[seg_off[m_new] + after]
        slot = tally[ITERATION] % late_n
        threshold = max(tally[VALUE], recent[slot])
        tally[STAMP] += 1
        stamp = tally[STAMP]
        n_changed = OUT_OF_ORDER
        if tally[INCREMENTAL] != 0:
            # op's place in the start order: after its new machine predecessor (its job
            # predecessors cannot change unless the new orders are cyclic), before its new
            # successors if it can (keys: 2 * rank + 2; op gets an odd one)
            lo_key = 0
            if cand_pos[op] > 0:
                lo_key = 2 * rank[cand_order[seg_off[m_new] + cand_pos[op] - 1]] + 2
            hi_key = 2 * n + 4
            if x >= 0:
                hi_key = 2 * rank[x] + 2
            for k in range(inst_succ_ptr[op], inst_succ_ptr[op + 1]):
                hi_key = min(hi_key, 2 * rank[inst_succ_idx[k]] + 2)
            seeds[0] = op
            n_seeds = 1
            if x >= 0:
                seeds[n_seeds] = x
                n_seeds += 1
            if y >= 0:
                seeds[n_seeds] = y
                n_seeds += 1
            key_of_op = min(lo_key, hi_key - 2) + 1
            n_changed = propagate(
                inst, cand, cur, index, scratch, seeds, n_seeds, key_of_op, op, stamp
            )
        if n_changed >= 0:
            tally[PROPAGATED] += 1
            tally[RETIMED] += n_changed
            value = rescore(inst, cand, cur, changed, n_changed, scratch_job_mark, stamp, tally)
            if value > threshold and not verify:
                value = PRUNED
        else:
            # the earliest start (in cur) of op, x and y: nothing before it changes
            first = cur_start[op]
            if x >= 0:
                first = min(first, cur_start[x])
            if y >= 0:
                first = min(first, cur_start[y])
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if cur_start[by_start[mid]] < first:
                    lo = mid + 1
                else:
                    hi = mid
            limit = lo
            bound = NO_BOUND if verify else threshold
            tally[STAMP] += 1
            value = evaluate_from(
                inst, cand, cur, index, scratch, limit, bound, tally, tally[STAMP]
            )
            tally[RETIMED] += n - limit
            # restore or keep all of them (the propagation may have written some too)
            for i in range(limit, n):
                changed[i - limit] = by_start[i]
            n_changed = n - limit
        if verify:
            if not _same_as_whole_pass(inst, scratch, cand, value):
                tally[MISMATCHES] += 1
            if value > threshold:
                value = PRUNED
        if value < 0:
            tally[REJECTED] += 1
            sync(cand, cur, seg_off, op, m_old, m_new)
            for i in range(n_changed):
                v = changed[i]
                cand_start[v] = cur_start[v]
                cand_end[v] = cur_end[v]
                cand_comp[inst_job[v]] = cur_comp[inst_job[v]]
        else:
            sync(cur, cand, seg_off, op, m_old, m_new)
            for i in range(n_changed):
                v = changed[i]
                cur_start[v] = cand_start[v]
                cur_end[v] = cand_end[v]
                cur_comp[inst_job[v]] = cand_comp[inst_job[v]]
            tally[TARDINESS] = tally[NEW_TARDINESS]
            tally[MAKESPAN] = tally[NEW_MAKESPAN]
            if n_changed > 0:
                tally[STAMP] += 1
                resort(
                    index,
                    cur,
                    changed,
                    n_changed,
                    scratch_mark,
                    tally[STAMP],
                    scratch_spare,
                    scratch_spare2,
                )
            tally[VALUE] = value
            if value < tally[BEST]:
                tally[BEST] = value
                copy_into(best, cur)
                tally[IMPROVEMENTS] += 1
        recent[slot] = tally[VALUE]
        tally[ITERATION] += 1


@njit(cache=True)
def _same_as_whole_pass(inst, scratch, cand, value):  # type: ignore[no-untyped-def]
    """Whether a whole pass over cand's orders gives `value` (both negative, or equal
    with the same times everywhere)."""
    # fields read once: a field read in a loop costs a reference count
    scratch_check = scratch.check
    scratch_indeg = scratch.indeg
    scratch_queue = scratch.queue
    scratch_left = scratch.left
    cand_mach = cand.mach
    cand_start = cand.start
    cand_end = cand.end
    check = scratch_check  # shares cand's orders
    full = evaluate(inst, check, NO_BOUND, scratch_indeg, scratch_queue, scratch_left)
    same = (full < 0) == (value < 0)
    if same and value >= 0:
        same = full == value
        for v in range(cand_mach.shape[0]):
            if check.start[v] != cand_start[v] or check.end[v] != cand_end[v]:
                same = False
    return same
