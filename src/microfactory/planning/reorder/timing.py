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
def earliest_start(inst, sol, op):  # type: ignore[no-untyped-def]
    """The start of `op` in `sol`'s orders, given the ends (sol.end) of its job
    predecessors and of its machine predecessor; IMPOSSIBLE when a frozen start or a
    deadline cannot be kept."""
    m = sol.mach[op]
    t = inst.release[op]
    for k in range(inst.pred_ptr[op], inst.pred_ptr[op + 1]):
        e = sol.end[inst.pred_idx[k]]
        if e > t:
            t = e
    p = sol.pos[op]
    if p > 0:
        before = sol.order[inst.seg_off[m] + p - 1]
        ready = sol.end[before]
        if inst.has_setup[m] != 0:
            ready += inst.setup[m, inst.family[before], inst.family[op]]
        if ready > t:
            t = ready
    duration = sol.dur[op]
    t = after_windows(inst.win_ptr, inst.win_start, inst.win_end, m, t, duration)
    if inst.fixed[op] >= 0:
        if t > inst.fixed[op]:
            return IMPOSSIBLE
        t = inst.fixed[op]
    if inst.deadline[op] >= 0 and t + duration > inst.deadline[op]:
        return IMPOSSIBLE
    return t


@njit(cache=True)
def _machine_successor(inst, sol, op):  # type: ignore[no-untyped-def]
    """The operation after `op` on its machine, -1 when it is the last."""
    m = sol.mach[op]
    p = sol.pos[op]
    if p + 1 < sol.cnt[m]:
        return sol.order[inst.seg_off[m] + p + 1]
    return -1


@njit(cache=True)
def evaluate(inst, sol, bound, indeg, queue, left):  # type: ignore[no-untyped-def]
    """Whole forward pass in topological order (Kahn): fills sol.start / end / comp;
    returns the objective, PRUNED when it exceeds `bound`, CYCLE when the orders and
    precedences are cyclic, IMPOSSIBLE when a frozen operation or a deadline cannot be
    kept."""
    n = sol.mach.shape[0]
    head = 0
    tail_q = 0
    for op in range(n):
        d = inst.pred_ptr[op + 1] - inst.pred_ptr[op]
        if sol.pos[op] > 0:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    for j in range(left.shape[0]):
        left[j] = inst.job_size[j]
        sol.comp[j] = 0
    tardiness = 0
    makespan = 0
    while head < tail_q:
        op = queue[head]
        head += 1
        t = earliest_start(inst, sol, op)
        if t == IMPOSSIBLE:
            return IMPOSSIBLE
        finish = t + sol.dur[op]
        sol.start[op] = t
        sol.end[op] = finish
        if finish > makespan:
            makespan = finish
        j = inst.job[op]
        left[j] -= 1
        if finish > sol.comp[j]:
            sol.comp[j] = finish
        if left[j] == 0 and inst.has_due[j] != 0 and sol.comp[j] > inst.due[j]:
            tardiness += inst.weight[j] * (sol.comp[j] - inst.due[j])
        if tardiness * inst.tw + makespan * inst.mw > bound:
            return PRUNED
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            nxt = inst.succ_idx[k]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
        nxt = _machine_successor(inst, sol, op)
        if nxt >= 0:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n:
        return CYCLE
    return tardiness * inst.tw + makespan * inst.mw


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
    by_start = index.by_start
    mark, left, touched = scratch.mark, scratch.left, scratch.touched
    indeg, queue = scratch.indeg, scratch.queue
    n = cand.mach.shape[0]
    for i in range(limit, n):
        mark[by_start[i]] = stamp
    n_touched = 0
    for i in range(limit, n):
        left[inst.job[by_start[i]]] = 0
    for i in range(limit, n):
        j = inst.job[by_start[i]]
        if left[j] == 0:
            touched[n_touched] = j
            n_touched += 1
        left[j] += 1
    tardiness = tally[TARDINESS]
    for t in range(n_touched):
        j = touched[t]
        if inst.has_due[j] != 0 and cur.comp[j] > inst.due[j]:
            tardiness -= inst.weight[j] * (cur.comp[j] - inst.due[j])
        c = 0
        for k in range(inst.job_ptr[j], inst.job_ptr[j + 1]):
            op = inst.job_ops[k]
            if mark[op] != stamp and cur.end[op] > c:
                c = cur.end[op]
        cand.comp[j] = c
    makespan = index.prefix_end[limit - 1] if limit > 0 else 0
    head = 0
    tail_q = 0
    for i in range(limit, n):
        op = by_start[i]
        d = 0
        for k in range(inst.pred_ptr[op], inst.pred_ptr[op + 1]):
            if mark[inst.pred_idx[k]] == stamp:
                d += 1
        p = cand.pos[op]
        if p > 0 and mark[cand.order[inst.seg_off[cand.mach[op]] + p - 1]] == stamp:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    while head < tail_q:
        op = queue[head]
        head += 1
        t = earliest_start(inst, cand, op)
        if t == IMPOSSIBLE:
            return IMPOSSIBLE
        finish = t + cand.dur[op]
        cand.start[op] = t
        cand.end[op] = finish
        if finish > makespan:
            makespan = finish
        j = inst.job[op]
        left[j] -= 1
        if finish > cand.comp[j]:
            cand.comp[j] = finish
        if left[j] == 0 and inst.has_due[j] != 0 and cand.comp[j] > inst.due[j]:
            tardiness += inst.weight[j] * (cand.comp[j] - inst.due[j])
        if tardiness * inst.tw + makespan * inst.mw > bound:
            return PRUNED
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            nxt = inst.succ_idx[k]
            if mark[nxt] == stamp:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    queue[tail_q] = nxt
                    tail_q += 1
        nxt = _machine_successor(inst, cand, op)
        if nxt >= 0 and mark[nxt] == stamp:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n - limit:
        return CYCLE
    tally[NEW_TARDINESS] = tardiness
    tally[NEW_MAKESPAN] = makespan
    return tardiness * inst.tw + makespan * inst.mw


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
    # keys[key] marks the operations waiting, by key (2 * rank + 2, `moved` at its odd
    # key); keys only grow while the pass goes on, so the next one is found by a forward
    # scan (cheaper than a heap: it spans at most 2n + 4 entries)
    keys, mark, done, changed = scratch.keys, scratch.mark, scratch.done, scratch.changed
    rank, by_start = index.rank, index.by_start
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
        t = earliest_start(inst, cand, op)
        if t == IMPOSSIBLE:
            _clear(keys, cursor, waiting)
            return IMPOSSIBLE
        finish = t + cand.dur[op]
        if t == cur.start[op] and finish == cur.end[op]:
            continue
        cand.start[op] = t
        cand.end[op] = finish
        changed[n_changed] = op
        n_changed += 1
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            queued = _queue(
                inst.succ_idx[k], moved, key_of_moved, cursor, keys, mark, done, rank, stamp
            )
            if queued == OUT_OF_ORDER:
                _clear(keys, cursor, waiting)
                return OUT_OF_ORDER
            waiting += queued
        nxt = _machine_successor(inst, cand, op)
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
    tardiness = tally[TARDINESS]
    makespan = tally[MAKESPAN]
    rescan = False
    for i in range(n_changed):
        op = changed[i]
        if cand.end[op] > makespan:
            makespan = cand.end[op]
        elif cur.end[op] == tally[MAKESPAN] and cand.end[op] < cur.end[op]:
            rescan = True
        j = inst.job[op]
        if job_mark[j] == stamp:
            continue
        job_mark[j] = stamp
        c = 0
        for k in range(inst.job_ptr[j], inst.job_ptr[j + 1]):
            e = cand.end[inst.job_ops[k]]
            if e > c:
                c = e
        cand.comp[j] = c
        if inst.has_due[j] != 0:
            if cur.comp[j] > inst.due[j]:
                tardiness -= inst.weight[j] * (cur.comp[j] - inst.due[j])
            if c > inst.due[j]:
                tardiness += inst.weight[j] * (c - inst.due[j])
    if rescan and inst.mw != 0:
        makespan = 0
        for op in range(cand.end.shape[0]):
            if cand.end[op] > makespan:
                makespan = cand.end[op]
    tally[NEW_TARDINESS] = tardiness
    tally[NEW_MAKESPAN] = makespan
    return tardiness * inst.tw + makespan * inst.mw


@njit(cache=True)
def resort(index, cur, changed, n_changed, mark, stamp, scratch, moved):  # type: ignore[no-untyped-def]
    """Keep `index` sorted by start after the operations in `changed` were re-timed in
    cur: the others keep their order; the changed ones, sorted, are merged in."""
    by_start, prefix_end, rank = index.by_start, index.prefix_end, index.rank
    start, end = cur.start, cur.end
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
