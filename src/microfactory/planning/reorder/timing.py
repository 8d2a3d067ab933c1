"""Timing a plan from its machine orders, compiled: the whole forward pass and the two
incremental ones a candidate move is evaluated with, all built on one `earliest_start`.

An operation starts as early as its release, its job predecessors' ends, the end of the
operation before it on its machine (plus the setup between them) and its machine's
calendar allow; a frozen operation keeps its start. Every pass computes each operation
after all its predecessors (job and machine), so starting from a plan's own orders
nothing starts later than in that plan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from microfactory.planning.kernels import after_windows
from microfactory.planning.reorder.arrays import (
    CYCLE,
    IMPOSSIBLE,
    MAKESPAN,
    NEW_MAKESPAN,
    NEW_TARDINESS,
    OUT_OF_ORDER,
    PRUNED,
    TARDINESS,
)


@njit(cache=True)
def earliest_start(  # type: ignore[no-untyped-def]
    op, mach, dur, pos, order, end, release, pred_ptr, pred_idx, seg_off, family, setup,
    has_setup, win_ptr, win_start, win_end, fixed, deadline,
):  # fmt: skip
    """The start of `op` in a solution's orders (mach, dur, pos, order), given the ends
    (`end`) of its job predecessors and of its machine predecessor; IMPOSSIBLE when a
    frozen start or a deadline cannot be kept. The rest are `Instance` fields. It takes
    arrays, not the named tuples, because it runs inside the passes' loops, where reading
    a named tuple's field costs a reference count each time (2.5x slower, measured)."""
    m = mach[op]
    t = release[op]
    for k in range(pred_ptr[op], pred_ptr[op + 1]):
        e = end[pred_idx[k]]
        if e > t:
            t = e
    p = pos[op]
    if p > 0:
        before = order[seg_off[m] + p - 1]
        ready = end[before]
        if has_setup[m] != 0:
            ready += setup[m, family[before], family[op]]
        if ready > t:
            t = ready
    duration = dur[op]
    t = after_windows(win_ptr, win_start, win_end, m, t, duration)
    if fixed[op] >= 0:
        if t > fixed[op]:
            return IMPOSSIBLE
        t = fixed[op]
    if deadline[op] >= 0 and t + duration > deadline[op]:
        return IMPOSSIBLE
    return t


@njit(cache=True)
def _machine_successor(op, mach, pos, cnt, order, seg_off):  # type: ignore[no-untyped-def]
    """The operation after `op` on its machine, -1 when it is the last."""
    m = mach[op]
    p = pos[op]
    if p + 1 < cnt[m]:
        return order[seg_off[m] + p + 1]
    return -1


@njit(cache=True)
def evaluate(inst, sol, bound, indeg, queue, left):  # type: ignore[no-untyped-def]
    """Whole forward pass in topological order (Kahn): fills sol.start / end / comp;
    returns the objective, PRUNED when it exceeds `bound`, CYCLE when the orders and
    precedences are cyclic, IMPOSSIBLE when a frozen operation or a deadline cannot be
    kept."""
    # fields read once: a field read in a loop costs a reference count
    sol_order = sol.order
    inst_release = inst.release
    inst_pred_idx = inst.pred_idx
    inst_seg_off = inst.seg_off
    inst_family = inst.family
    inst_setup = inst.setup
    inst_has_setup = inst.has_setup
    inst_win_ptr = inst.win_ptr
    inst_win_start = inst.win_start
    inst_win_end = inst.win_end
    inst_fixed = inst.fixed
    inst_deadline = inst.deadline
    sol_cnt = sol.cnt
    sol_mach = sol.mach
    inst_pred_ptr = inst.pred_ptr
    sol_pos = sol.pos
    inst_job_size = inst.job_size
    sol_comp = sol.comp
    sol_dur = sol.dur
    sol_start = sol.start
    sol_end = sol.end
    inst_job = inst.job
    inst_has_due = inst.has_due
    inst_due = inst.due
    inst_weight = inst.weight
    inst_tw = inst.tw
    inst_mw = inst.mw
    inst_succ_ptr = inst.succ_ptr
    inst_succ_idx = inst.succ_idx
    n = sol_mach.shape[0]
    head = 0
    tail_q = 0
    for op in range(n):
        d = inst_pred_ptr[op + 1] - inst_pred_ptr[op]
        if sol_pos[op] > 0:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    for j in range(left.shape[0]):
        left[j] = inst_job_size[j]
        sol_comp[j] = 0
    tardiness = 0
    makespan = 0
    while head < tail_q:
        op = queue[head]
        head += 1
        t = earliest_start(
            op, sol_mach, sol_dur, sol_pos, sol_order, sol_end, inst_release,
            inst_pred_ptr, inst_pred_idx, inst_seg_off, inst_family, inst_setup, inst_has_setup,
            inst_win_ptr, inst_win_start, inst_win_end, inst_fixed, inst_deadline,
        )  # fmt: skip
        if t == IMPOSSIBLE:
            return IMPOSSIBLE
        finish = t + sol_dur[op]
        sol_start[op] = t
        sol_end[op] = finish
        if finish > makespan:
            makespan = finish
        j = inst_job[op]
        left[j] -= 1
        if finish > sol_comp[j]:
            sol_comp[j] = finish
        if left[j] == 0 and inst_has_due[j] != 0 and sol_comp[j] > inst_due[j]:
            tardiness += inst_weight[j] * (sol_comp[j] - inst_due[j])
        if tardiness * inst_tw + makespan * inst_mw > bound:
            return PRUNED
        for k in range(inst_succ_ptr[op], inst_succ_ptr[op + 1]):
            nxt = inst_succ_idx[k]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
        nxt = _machine_successor(op, sol_mach, sol_pos, sol_cnt, sol_order, inst_seg_off)
        if nxt >= 0:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n:
        return CYCLE
    return tardiness * inst_tw + makespan * inst_mw


@njit(cache=True)
def evaluate_from(inst, cand, cur, index, scratch, limit, bound, tally, stamp):  # type: ignore[no-untyped-def]
    """The forward pass of `evaluate` over the candidate's orders for the operations
    index.by_start[limit:] only (those that started at or after the earliest operation a
    move touched, in the current plan `cur`, whose times cand holds for every other
    operation). Why that is exact: an operation's times change only if it is reachable
    from an operation whose machine predecessor the move changed, every arc of the current
    plan goes from an earlier to a no-earlier start, and the move's new arcs all end in
    that set. A cycle lies inside it too. Returns what `evaluate` returns; a complete pass
    writes the tardiness and makespan into tally[NEW_TARDINESS] / tally[NEW_MAKESPAN]."""
    # fields read once: a field read in a loop costs a reference count
    inst_release = inst.release
    inst_family = inst.family
    inst_setup = inst.setup
    inst_has_setup = inst.has_setup
    inst_win_ptr = inst.win_ptr
    inst_win_start = inst.win_start
    inst_win_end = inst.win_end
    inst_fixed = inst.fixed
    inst_deadline = inst.deadline
    cand_cnt = cand.cnt
    index_by_start = index.by_start
    scratch_mark = scratch.mark
    scratch_left = scratch.left
    scratch_touched = scratch.touched
    scratch_indeg = scratch.indeg
    scratch_queue = scratch.queue
    cand_mach = cand.mach
    inst_job = inst.job
    inst_has_due = inst.has_due
    cur_comp = cur.comp
    inst_due = inst.due
    inst_weight = inst.weight
    inst_job_ptr = inst.job_ptr
    inst_job_ops = inst.job_ops
    cur_end = cur.end
    cand_comp = cand.comp
    index_prefix_end = index.prefix_end
    inst_pred_ptr = inst.pred_ptr
    inst_pred_idx = inst.pred_idx
    cand_pos = cand.pos
    cand_order = cand.order
    inst_seg_off = inst.seg_off
    cand_dur = cand.dur
    cand_start = cand.start
    cand_end = cand.end
    inst_tw = inst.tw
    inst_mw = inst.mw
    inst_succ_ptr = inst.succ_ptr
    inst_succ_idx = inst.succ_idx
    by_start = index_by_start
    mark, left, touched = scratch_mark, scratch_left, scratch_touched
    indeg, queue = scratch_indeg, scratch_queue
    n = cand_mach.shape[0]
    for i in range(limit, n):
        mark[by_start[i]] = stamp
    n_touched = 0
    for i in range(limit, n):
        left[inst_job[by_start[i]]] = 0
    for i in range(limit, n):
        j = inst_job[by_start[i]]
        if left[j] == 0:
            touched[n_touched] = j
            n_touched += 1
        left[j] += 1
    tardiness = tally[TARDINESS]
    for t in range(n_touched):
        j = touched[t]
        if inst_has_due[j] != 0 and cur_comp[j] > inst_due[j]:
            tardiness -= inst_weight[j] * (cur_comp[j] - inst_due[j])
        c = 0
        for k in range(inst_job_ptr[j], inst_job_ptr[j + 1]):
            op = inst_job_ops[k]
            if mark[op] != stamp and cur_end[op] > c:
                c = cur_end[op]
        cand_comp[j] = c
    makespan = index_prefix_end[limit - 1] if limit > 0 else 0
    head = 0
    tail_q = 0
    for i in range(limit, n):
        op = by_start[i]
        d = 0
        for k in range(inst_pred_ptr[op], inst_pred_ptr[op + 1]):
            if mark[inst_pred_idx[k]] == stamp:
                d += 1
        p = cand_pos[op]
        if p > 0 and mark[cand_order[inst_seg_off[cand_mach[op]] + p - 1]] == stamp:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    while head < tail_q:
        op = queue[head]
        head += 1
        t = earliest_start(
            op, cand_mach, cand_dur, cand_pos, cand_order, cand_end, inst_release,
            inst_pred_ptr, inst_pred_idx, inst_seg_off, inst_family, inst_setup, inst_has_setup,
            inst_win_ptr, inst_win_start, inst_win_end, inst_fixed, inst_deadline,
        )  # fmt: skip
        if t == IMPOSSIBLE:
            return IMPOSSIBLE
        finish = t + cand_dur[op]
        cand_start[op] = t
        cand_end[op] = finish
        if finish > makespan:
            makespan = finish
        j = inst_job[op]
        left[j] -= 1
        if finish > cand_comp[j]:
            cand_comp[j] = finish
        if left[j] == 0 and inst_has_due[j] != 0 and cand_comp[j] > inst_due[j]:
            tardiness += inst_weight[j] * (cand_comp[j] - inst_due[j])
        if tardiness * inst_tw + makespan * inst_mw > bound:
            return PRUNED
        for k in range(inst_succ_ptr[op], inst_succ_ptr[op + 1]):
            nxt = inst_succ_idx[k]
            if mark[nxt] == stamp:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    queue[tail_q] = nxt
                    tail_q += 1
        nxt = _machine_successor(op, cand_mach, cand_pos, cand_cnt, cand_order, inst_seg_off)
        if nxt >= 0 and mark[nxt] == stamp:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n - limit:
        return CYCLE
    tally[NEW_TARDINESS] = tardiness
    tally[NEW_MAKESPAN] = makespan
    return tardiness * inst_tw + makespan * inst_mw


@njit(cache=True)
def _clear(keys, cursor, waiting):  # type: ignore[no-untyped-def]
    """Empty the queue of `propagate` when it stops early."""
    while waiting > 0:
        if keys[cursor] != 0:
            keys[cursor] = 0
            waiting -= 1
        cursor += 1


@njit(cache=True)
def _queue(nxt, moved, key_of_moved, cursor, keys, mark, done, rank, stamp):  # type: ignore[no-untyped-def]
    """Queue `nxt` for `propagate` (whose scan is at `cursor`): 1 when it was queued now,
    0 when it already was, OUT_OF_ORDER when it was already computed or its key is not
    ahead of the scan."""
    if done[nxt] == stamp:
        return OUT_OF_ORDER
    if mark[nxt] == stamp:
        return 0
    mark[nxt] = stamp
    key = key_of_moved if nxt == moved else 2 * rank[nxt] + 2
    if key <= cursor:
        return OUT_OF_ORDER
    keys[key] = 1
    return 1


@njit(cache=True)
def propagate(  # type: ignore[no-untyped-def]
    inst, cand, cur, index, scratch, seeds, n_seeds, key_of_moved, moved, stamp
):
    """Re-time only what a move changed: from the operations whose machine predecessor
    changed (`seeds`), in the current plan's start order (topological for its orders;
    `moved` at `key_of_moved`), re-computing an operation's start and passing the change
    on to its successors only when its times changed. Writes the new times into cand and
    the re-timed operations into scratch.changed; returns their number, IMPOSSIBLE when a
    frozen operation or a deadline cannot be kept, or OUT_OF_ORDER when a changed
    operation's successor was already computed (the order was not topological for the
    new orders, perhaps cyclic: the caller re-times another way).

    Why a result is exact and acyclic: every operation is computed once, after each of
    its predecessors that changed (or the pass gives up), so all arcs hold in the new
    times; arcs that go forward in time with positive durations cannot close a cycle."""
    # fields read once: a field read in a loop costs a reference count
    cand_mach = cand.mach
    cand_pos = cand.pos
    cand_order = cand.order
    inst_release = inst.release
    inst_pred_ptr = inst.pred_ptr
    inst_pred_idx = inst.pred_idx
    inst_seg_off = inst.seg_off
    inst_family = inst.family
    inst_setup = inst.setup
    inst_has_setup = inst.has_setup
    inst_win_ptr = inst.win_ptr
    inst_win_start = inst.win_start
    inst_win_end = inst.win_end
    inst_fixed = inst.fixed
    inst_deadline = inst.deadline
    cand_cnt = cand.cnt
    scratch_keys = scratch.keys
    scratch_mark = scratch.mark
    scratch_done = scratch.done
    scratch_changed = scratch.changed
    index_rank = index.rank
    index_by_start = index.by_start
    cand_dur = cand.dur
    cur_start = cur.start
    cur_end = cur.end
    cand_start = cand.start
    cand_end = cand.end
    inst_succ_ptr = inst.succ_ptr
    inst_succ_idx = inst.succ_idx
    # keys[key] marks the operations waiting, by key (2 * rank + 2, `moved` at its odd
    # key); keys only grow while the pass goes on, so the next one is found by a forward
    # scan (cheaper than a heap: it spans at most 2n + 4 entries)
    keys, mark, done, changed = scratch_keys, scratch_mark, scratch_done, scratch_changed
    rank, by_start = index_rank, index_by_start
    waiting = 0
    cursor = keys.shape[0]
    for i in range(n_seeds):
        op = seeds[i]
        if mark[op] != stamp:
            mark[op] = stamp
            key = key_of_moved if op == moved else 2 * rank[op] + 2
            keys[key] = 1
            waiting += 1
            if key < cursor:
                cursor = key
    n_changed = 0
    while waiting > 0:
        while keys[cursor] == 0:
            cursor += 1
        keys[cursor] = 0
        waiting -= 1
        op = moved if cursor % 2 == 1 else by_start[(cursor - 2) // 2]
        done[op] = stamp
        t = earliest_start(
            op, cand_mach, cand_dur, cand_pos, cand_order, cand_end, inst_release,
            inst_pred_ptr, inst_pred_idx, inst_seg_off, inst_family, inst_setup, inst_has_setup,
            inst_win_ptr, inst_win_start, inst_win_end, inst_fixed, inst_deadline,
        )  # fmt: skip
        if t == IMPOSSIBLE:
            _clear(keys, cursor, waiting)
            return IMPOSSIBLE
        finish = t + cand_dur[op]
        if t == cur_start[op] and finish == cur_end[op]:
            continue
        cand_start[op] = t
        cand_end[op] = finish
        changed[n_changed] = op
        n_changed += 1
        for k in range(inst_succ_ptr[op], inst_succ_ptr[op + 1]):
            queued = _queue(
                inst_succ_idx[k], moved, key_of_moved, cursor, keys, mark, done, rank, stamp
            )
            if queued == OUT_OF_ORDER:
                _clear(keys, cursor, waiting)
                return OUT_OF_ORDER
            waiting += queued
        nxt = _machine_successor(op, cand_mach, cand_pos, cand_cnt, cand_order, inst_seg_off)
        if nxt >= 0:
            queued = _queue(nxt, moved, key_of_moved, cursor, keys, mark, done, rank, stamp)
            if queued == OUT_OF_ORDER:
                _clear(keys, cursor, waiting)
                return OUT_OF_ORDER
            waiting += queued
    return n_changed


@njit(cache=True)
def rescore(inst, cand, cur, changed, n_changed, job_mark, stamp, tally):  # type: ignore[no-untyped-def]
    """The objective after re-timing `changed` (new ends in cand, old ones in cur): the
    jobs they belong to get their completions re-computed (into cand.comp) and their
    tardiness replaced; the makespan is re-computed when an operation that ended last
    ended earlier. Writes tally[NEW_TARDINESS] / tally[NEW_MAKESPAN]."""
    # fields read once: a field read in a loop costs a reference count
    cand_end = cand.end
    cur_end = cur.end
    inst_job = inst.job
    inst_job_ptr = inst.job_ptr
    inst_job_ops = inst.job_ops
    cand_comp = cand.comp
    inst_has_due = inst.has_due
    cur_comp = cur.comp
    inst_due = inst.due
    inst_weight = inst.weight
    inst_mw = inst.mw
    inst_tw = inst.tw
    tardiness = tally[TARDINESS]
    makespan = tally[MAKESPAN]
    rescan = False
    for i in range(n_changed):
        op = changed[i]
        if cand_end[op] > makespan:
            makespan = cand_end[op]
        elif cur_end[op] == tally[MAKESPAN] and cand_end[op] < cur_end[op]:
            rescan = True
        j = inst_job[op]
        if job_mark[j] == stamp:
            continue
        job_mark[j] = stamp
        c = 0
        for k in range(inst_job_ptr[j], inst_job_ptr[j + 1]):
            e = cand_end[inst_job_ops[k]]
            if e > c:
                c = e
        cand_comp[j] = c
        if inst_has_due[j] != 0:
            if cur_comp[j] > inst_due[j]:
                tardiness -= inst_weight[j] * (cur_comp[j] - inst_due[j])
            if c > inst_due[j]:
                tardiness += inst_weight[j] * (c - inst_due[j])
    if rescan and inst_mw != 0:
        makespan = 0
        for op in range(cand_end.shape[0]):
            if cand_end[op] > makespan:
                makespan = cand_end[op]
    tally[NEW_TARDINESS] = tardiness
    tally[NEW_MAKESPAN] = makespan
    return tardiness * inst_tw + makespan * inst_mw


@njit(cache=True)
def resort(index, cur, changed, n_changed, mark, stamp, scratch, moved):  # type: ignore[no-untyped-def]
    """Keep `index` sorted by start after the operations in `changed` were re-timed in
    cur: the others keep their order; the changed ones, sorted, are merged in."""
    # fields read once: a field read in a loop costs a reference count
    index_by_start = index.by_start
    index_prefix_end = index.prefix_end
    index_rank = index.rank
    cur_start = cur.start
    cur_end = cur.end
    by_start, prefix_end, rank = index_by_start, index_prefix_end, index_rank
    start, end = cur_start, cur_end
    n = by_start.shape[0]
    keys = np.empty(n_changed, dtype=np.int64)
    first_rank = n
    for i in range(n_changed):
        op = changed[i]
        mark[op] = stamp
        keys[i] = start[op]
        moved[i] = op
        if rank[op] < first_rank:
            first_rank = rank[op]
    sorted_moved = moved[:n_changed][np.argsort(keys, kind="mergesort")]
    # where the merge starts: the first changed operation's old place, or earlier if a
    # changed operation now starts before the operations there
    earliest = start[sorted_moved[0]]
    lo, hi = 0, first_rank
    while lo < hi:
        mid = (lo + hi) // 2
        if start[by_start[mid]] <= earliest:
            lo = mid + 1
        else:
            hi = mid
    a = lo
    count = 0
    for i in range(a, n):
        op = by_start[i]
        if mark[op] != stamp:
            scratch[count] = op
            count += 1
    i, b, k = 0, 0, a
    while i < count or b < n_changed:
        if b >= n_changed or (i < count and start[scratch[i]] <= start[sorted_moved[b]]):
            by_start[k] = scratch[i]
            i += 1
        else:
            by_start[k] = sorted_moved[b]
            b += 1
        k += 1
    running = prefix_end[a - 1] if a > 0 else 0
    for i in range(a, n):
        op = by_start[i]
        rank[op] = i
        e = end[op]
        if e > running:
            running = e
        prefix_end[i] = running
