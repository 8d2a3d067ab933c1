"""Timing a plan from its machine orders: the forward pass and the two incremental ways
to re-time a candidate, plus keeping the current plan's start order up to date.

* `earliest_start`: the one step all passes share (release, job predecessors, machine
  predecessor and setup, calendar);
* `evaluate`: the whole forward pass in topological order;
* `evaluate_from`: the same pass for the operations from the earliest one a move touched
  (in the current plan's start order), stopping once the objective passes a bound;
* `propagate` and `rescore`: re-time only what a move changed and update the objective;
* `resort`: the current plan's start order after an accepted candidate.

Results below zero say why no objective came back (PRUNED, CYCLE, IMPOSSIBLE,
OUT_OF_ORDER).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from microfactory.planning.kernels import after_windows
from microfactory.planning.reorder.arrays import Instance, Plan, Scratch, StartOrder

PRUNED, CYCLE, IMPOSSIBLE, OUT_OF_ORDER = -1, -2, -3, -4
NO_BOUND = 2**62


@njit(cache=True)
def earliest_start(inst: Instance, plan: Plan, op: int) -> int:
    """The earliest start of `op` on its machine in `plan`, from the ends already in
    plan.end: after its release, its job predecessors and the operation before it on its
    machine (plus the setup between their families), outside the machine's calendar
    windows. (A frozen start and a deadline are the caller's to check.)"""
    m = plan.mach[op]
    t = inst.release[op]
    for k in range(inst.pred_ptr[op], inst.pred_ptr[op + 1]):
        e = plan.end[inst.pred_idx[k]]
        if e > t:
            t = e
    p = plan.pos[op]
    if p > 0:
        before = plan.order[inst.seg_off[m] + p - 1]
        ready = plan.end[before]
        if inst.has_setup[m] != 0:
            ready += inst.setup[m, inst.family[before], inst.family[op]]
        if ready > t:
            t = ready
    return after_windows(inst.win_ptr, inst.win_start, inst.win_end, m, t, plan.dur[op])  # type: ignore[no-any-return]


@njit(cache=True)
def evaluate(
    inst: Instance,
    plan: Plan,
    bound: int,
    indeg: np.ndarray,
    queue: np.ndarray,
    left: np.ndarray,
) -> int:
    """Forward pass: fills plan.start / end / comp from its orders; returns the
    objective, PRUNED when it exceeds `bound`, CYCLE when the orders and precedences are
    cyclic, IMPOSSIBLE when a frozen operation or a deadline cannot be kept. indeg /
    queue (per operation) and left (per job) are scratch."""
    n = plan.mach.shape[0]
    head = 0
    tail_q = 0
    for op in range(n):
        d = inst.pred_ptr[op + 1] - inst.pred_ptr[op]
        if plan.pos[op] > 0:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    for j in range(inst.job_size.shape[0]):
        left[j] = inst.job_size[j]
        plan.comp[j] = 0
    tardiness = 0
    makespan = 0
    while head < tail_q:
        op = queue[head]
        head += 1
        t = earliest_start(inst, plan, op)
        if inst.fixed[op] >= 0:
            if t > inst.fixed[op]:
                return IMPOSSIBLE
            t = inst.fixed[op]
        finish = t + plan.dur[op]
        plan.start[op] = t
        plan.end[op] = finish
        if inst.deadline[op] >= 0 and finish > inst.deadline[op]:
            return IMPOSSIBLE
        if finish > makespan:
            makespan = finish
        j = inst.job[op]
        left[j] -= 1
        if finish > plan.comp[j]:
            plan.comp[j] = finish
        if left[j] == 0 and inst.has_due[j] != 0 and plan.comp[j] > inst.due[j]:
            tardiness += inst.weight[j] * (plan.comp[j] - inst.due[j])
        if tardiness * inst.tw + makespan * inst.mw > bound:
            return PRUNED
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            nxt = inst.succ_idx[k]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
        m = plan.mach[op]
        p = plan.pos[op]
        if p + 1 < plan.cnt[m]:
            nxt = plan.order[inst.seg_off[m] + p + 1]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n:
        return CYCLE
    return tardiness * inst.tw + makespan * inst.mw


@njit(cache=True)
def evaluate_from(
    inst: Instance,
    cand: Plan,
    cur: Plan,
    starts: StartOrder,
    cur_tardiness: int,
    limit: int,
    bound: int,
    scratch: Scratch,
    stamp: int,
) -> tuple[int, int]:
    """The forward pass of `evaluate` for the candidate's operations
    starts.by_start[limit:] only (those that started at or after the earliest operation a
    move touched, in the current plan `cur`, whose times cand holds for every other
    operation). Why that is exact: an operation's times change only if it is reachable
    from an operation whose machine predecessor the move changed, every arc of the current
    plan goes from an earlier to a no-earlier start, and the move's new arcs all end in
    that set. A cycle lies inside it too. Returns what `evaluate` returns and how many
    operations it wrote (scratch.queue[:that]); scratch.parts holds the tardiness and
    makespan of a complete pass."""
    by_start = starts.by_start
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
    tardiness = cur_tardiness
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
    makespan = starts.prefix_end[limit - 1] if limit > 0 else 0
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
        if inst.fixed[op] >= 0:
            if t > inst.fixed[op]:
                return IMPOSSIBLE, head
            t = inst.fixed[op]
        finish = t + cand.dur[op]
        cand.start[op] = t
        cand.end[op] = finish
        if inst.deadline[op] >= 0 and finish > inst.deadline[op]:
            return IMPOSSIBLE, head
        if finish > makespan:
            makespan = finish
        j = inst.job[op]
        left[j] -= 1
        if finish > cand.comp[j]:
            cand.comp[j] = finish
        if left[j] == 0 and inst.has_due[j] != 0 and cand.comp[j] > inst.due[j]:
            tardiness += inst.weight[j] * (cand.comp[j] - inst.due[j])
        if tardiness * inst.tw + makespan * inst.mw > bound:
            return PRUNED, head
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            nxt = inst.succ_idx[k]
            if mark[nxt] == stamp:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    queue[tail_q] = nxt
                    tail_q += 1
        m = cand.mach[op]
        p = cand.pos[op]
        if p + 1 < cand.cnt[m]:
            nxt = cand.order[inst.seg_off[m] + p + 1]
            if mark[nxt] == stamp:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    queue[tail_q] = nxt
                    tail_q += 1
    if tail_q < n - limit:
        return CYCLE, head
    scratch.parts[0] = tardiness
    scratch.parts[1] = makespan
    return tardiness * inst.tw + makespan * inst.mw, head


@njit(cache=True)
def _clear(queued: np.ndarray, cursor: int, waiting: int) -> None:
    """Empty the queue of `propagate` when it stops early."""
    while waiting > 0:
        if queued[cursor] != 0:
            queued[cursor] = 0
            waiting -= 1
        cursor += 1


@njit(cache=True)
def propagate(
    inst: Instance,
    cand: Plan,
    cur: Plan,
    starts: StartOrder,
    seeds: np.ndarray,
    n_seeds: int,
    moved: int,
    key_of_moved: int,
    scratch: Scratch,
    stamp: int,
) -> int:
    """Re-time only what a move changed: from the operations whose machine predecessor
    changed (`seeds`), in the current plan's start order (topological for its orders;
    `moved` at `key_of_moved`), re-computing an operation's start and passing the change
    on to its successors only when its times changed (cur's times, which cand holds
    before, tell). Writes the new times into cand.start / end and the re-timed operations
    into scratch.changed; returns their number, IMPOSSIBLE when a frozen operation or a
    deadline cannot be kept, or OUT_OF_ORDER when a changed operation's successor was
    already computed (the order was not topological for the new orders, perhaps cyclic:
    the caller re-times another way).

    Why a result is exact and acyclic: every operation is computed once, after each of
    its predecessors that changed (or the pass gives up), so all arcs hold in the new
    times; arcs that go forward in time with positive durations cannot close a cycle."""
    # queued[key] marks the operations waiting, by key (2 * rank + 2, `moved` at its
    # odd key); keys only grow while the pass goes on, so the next one is found by a
    # forward scan (cheaper than a heap: it spans at most 2n + 4 entries)
    rank, by_start = starts.rank, starts.by_start
    mark, done, queued, changed = scratch.mark, scratch.done, scratch.queued, scratch.changed
    waiting = 0
    cursor = queued.shape[0]
    for i in range(n_seeds):
        op = seeds[i]
        if mark[op] != stamp:
            mark[op] = stamp
            key = key_of_moved if op == moved else 2 * rank[op] + 2
            queued[key] = 1
            waiting += 1
            if key < cursor:
                cursor = key
    n_changed = 0
    while waiting > 0:
        while queued[cursor] == 0:
            cursor += 1
        queued[cursor] = 0
        waiting -= 1
        op = moved if cursor % 2 == 1 else by_start[(cursor - 2) // 2]
        done[op] = stamp
        t = earliest_start(inst, cand, op)
        if inst.fixed[op] >= 0:
            if t > inst.fixed[op]:
                _clear(queued, cursor, waiting)
                return IMPOSSIBLE
            t = inst.fixed[op]
        finish = t + cand.dur[op]
        if inst.deadline[op] >= 0 and finish > inst.deadline[op]:
            _clear(queued, cursor, waiting)
            return IMPOSSIBLE
        if t == cur.start[op] and finish == cur.end[op]:
            continue
        cand.start[op] = t
        cand.end[op] = finish
        changed[n_changed] = op
        n_changed += 1
        for k in range(inst.succ_ptr[op], inst.succ_ptr[op + 1]):
            nxt = inst.succ_idx[k]
            if done[nxt] == stamp:
                _clear(queued, cursor, waiting)
                return OUT_OF_ORDER
            if mark[nxt] != stamp:
                mark[nxt] = stamp
                key = key_of_moved if nxt == moved else 2 * rank[nxt] + 2
                if key <= cursor:
                    _clear(queued, cursor, waiting)
                    return OUT_OF_ORDER
                queued[key] = 1
                waiting += 1
        m = cand.mach[op]
        p = cand.pos[op]
        if p + 1 < cand.cnt[m]:
            nxt = cand.order[inst.seg_off[m] + p + 1]
            if done[nxt] == stamp:
                _clear(queued, cursor, waiting)
                return OUT_OF_ORDER
            if mark[nxt] != stamp:
                mark[nxt] = stamp
                key = key_of_moved if nxt == moved else 2 * rank[nxt] + 2
                if key <= cursor:
                    _clear(queued, cursor, waiting)
                    return OUT_OF_ORDER
                queued[key] = 1
                waiting += 1
    return n_changed


@njit(cache=True)
def rescore(
    inst: Instance,
    cand: Plan,
    cur: Plan,
    cur_parts: np.ndarray,
    n_changed: int,
    scratch: Scratch,
    stamp: int,
) -> int:
    """The objective after re-timing scratch.changed[:n_changed] (new ends in cand, old
    ones in cur; cur's tardiness and makespan in cur_parts): the jobs they belong to get
    their completions re-computed (into cand.comp) and their tardiness replaced; the
    makespan is re-computed when an operation that ended last ended earlier. Writes
    scratch.parts (tardiness, makespan)."""
    changed, job_mark = scratch.changed, scratch.job_mark
    tardiness = cur_parts[0]
    makespan = cur_parts[1]
    rescan = False
    for i in range(n_changed):
        op = changed[i]
        if cand.end[op] > makespan:
            makespan = cand.end[op]
        elif cur.end[op] == cur_parts[1] and cand.end[op] < cur.end[op]:
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
    scratch.parts[0] = tardiness
    scratch.parts[1] = makespan
    return tardiness * inst.tw + makespan * inst.mw  # type: ignore[no-any-return]


@njit(cache=True)
def resort(starts: StartOrder, cur: Plan, n_changed: int, scratch: Scratch, stamp: int) -> None:
    """Keep `starts` sorted by start after the operations in scratch.changed[:n_changed]
    were re-timed in cur: the others keep their order; the changed ones, sorted, are
    merged in."""
    by_start, prefix_end, rank = starts.by_start, starts.prefix_end, starts.rank
    start, end = cur.start, cur.end
    changed, mark = scratch.changed, scratch.mark
    rest, moved = scratch.spare[0], scratch.spare[1]
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
            rest[count] = op
            count += 1
    i, b, k = 0, 0, a
    while i < count or b < n_changed:
        if b >= n_changed or (i < count and start[rest[i]] <= start[sorted_moved[b]]):
            by_start[k] = rest[i]
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
