"""Machine-order local search, compiled with numba: polishes a due-date plan operation by
operation after job-sequence search.

A plan is represented by its machine orders (which operation runs after which on every
machine). Times follow from the orders by one forward pass in topological order (job
precedences plus machine orders): every operation starts as early as its predecessors,
the setup from the operation before it on its machine, its release and the machine's
calendar allow (frozen operations keep their start). Starting from a plan, the pass never
starts anything later, so the plan's own orders reproduce it or better.

Why after job-sequence search: a decoded job sequence places every operation of a job as
early as possible when the job's turn comes, so an early job with slack can hold a slot
that a later, late job needs. Moving single operations of late jobs earlier in a machine's
order (or onto another machine that can run them) reaches plans no job sequence decodes to.
Moves: an operation of a late job (drawn by its job's weighted tardiness) a few places
earlier on its machine (60 %; half of these take an operation on the late job's critical
chain that waits for the one before it on its machine, possibly of another job) or onto
another of its machines near the same time (25 %); a random operation swapped with the
one before it (15 %). A move that closes a cycle, or
makes a frozen operation or a deadline impossible, is rejected. Acceptance: late
acceptance, as in `sequence`.

Evaluation is incremental: a move re-times only what it changed, passing a change from
an operation to its successors in the current plan's start order and stopping where
times stay the same (`_propagate`); where that order does not fit the new orders, every
operation from the earliest one the move touched is re-timed by a pass that stops as
soon as the partial objective exceeds the acceptance threshold (`_evaluate_from`). On
the 2,000-operation factory a candidate re-times ~330 of 2,003 operations (16 %) and
the search tries ~40,000 candidates/s instead of ~22,000 with a whole pass each (same
start, one process, benchmarks/schedule/RESULTS.md). Tests run both against a whole
pass for every candidate (`search(..., verify=True)`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import numpy as np
from numba import njit

from microfactory.planning.kernels import csr, warm_once
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.rounds import Rounds, WorkerFailures, parallel_rounds
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings

CHAIN_SHARE = 0.3  # of moves: on a late job's critical chain (0.5 measured worse)
CHUNK = 256  # candidates per compiled call (the clock is checked between calls)
LATE_ACCEPTANCE = 30
PRUNED, CYCLE, IMPOSSIBLE, OUT_OF_ORDER = -1, -2, -3, -4


@njit(cache=True)
def _evaluate(  # type: ignore[no-untyped-def]
    mach, dur, order, seg_off, cnt, pos, bound, tw, mw,
    pred_ptr, pred_idx, succ_ptr, succ_idx, release, deadline, fixed, family, setup,
    has_setup, wp, ws, we, job, due, has_due, weight, job_size,
    start, end, indeg, queue, left, comp,
):  # fmt: skip
    """Forward pass: fills start/end; returns the objective, PRUNED when it exceeds
    `bound`, CYCLE when the orders and precedences are cyclic, IMPOSSIBLE when a frozen
    operation or a deadline cannot be kept."""
    n = mach.shape[0]
    head = 0
    tail_q = 0
    for op in range(n):
        d = pred_ptr[op + 1] - pred_ptr[op]
        if pos[op] > 0:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    for j in range(left.shape[0]):
        left[j] = job_size[j]
        comp[j] = 0
    tardiness = 0
    makespan = 0
    while head < tail_q:
        op = queue[head]
        head += 1
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
        if duration > 0 and wp[m + 1] > wp[m]:
            lo, hi = wp[m], wp[m + 1]
            while lo < hi:  # bisect_right(window ends, t)
                mid = (lo + hi) // 2
                if we[mid] <= t:
                    lo = mid + 1
                else:
                    hi = mid
            k = lo
            while k < wp[m + 1] and ws[k] < t + duration:
                t = we[k]
                k += 1
        if fixed[op] >= 0:
            if t > fixed[op]:
                return IMPOSSIBLE
            t = fixed[op]
        finish = t + duration
        start[op] = t
        end[op] = finish
        if deadline[op] >= 0 and finish > deadline[op]:
            return IMPOSSIBLE
        if finish > makespan:
            makespan = finish
        j = job[op]
        left[j] -= 1
        if finish > comp[j]:
            comp[j] = finish
        if left[j] == 0 and has_due[j] != 0 and comp[j] > due[j]:
            tardiness += weight[j] * (comp[j] - due[j])
        if tardiness * tw + makespan * mw > bound:
            return PRUNED
        for k in range(succ_ptr[op], succ_ptr[op + 1]):
            nxt = succ_idx[k]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
        if p + 1 < cnt[m]:
            nxt = order[seg_off[m] + p + 1]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n:
        return CYCLE
    return tardiness * tw + makespan * mw


@njit(cache=True)
def _evaluate_from(  # type: ignore[no-untyped-def]
    limit, mach, dur, order, seg_off, cnt, pos, bound, tw, mw,
    pred_ptr, pred_idx, succ_ptr, succ_idx, release, deadline, fixed, family, setup,
    has_setup, wp, ws, we, job, due, has_due, weight, job_size, job_ptr, job_ops,
    start, end, comp, cur_end, cur_comp, by_start, prefix_end, cur_tard, mark, stamp,
    indeg, queue, left, touched, out,
):  # fmt: skip
    """The forward pass of `_evaluate` for the operations by_start[limit:] only (those
    that started at or after the earliest operation a move touched, in the current plan,
    whose times are in `start` / `end` for every other operation). Why that is exact: an
    operation's times change only if it is reachable from an operation whose machine
    predecessor the move changed, every arc of the current plan goes from an earlier to a
    no-earlier start, and the move's new arcs all end in that set. A cycle lies inside it
    too. Returns what `_evaluate` returns and how many operations it wrote (queue[:that]);
    out[0] / out[1] are the tardiness and makespan of a complete pass."""
    n = mach.shape[0]
    for i in range(limit, n):
        mark[by_start[i]] = stamp
    n_touched = 0
    for i in range(limit, n):
        left[job[by_start[i]]] = 0
    for i in range(limit, n):
        j = job[by_start[i]]
        if left[j] == 0:
            touched[n_touched] = j
            n_touched += 1
        left[j] += 1
    tardiness = cur_tard
    for t in range(n_touched):
        j = touched[t]
        if has_due[j] != 0 and cur_comp[j] > due[j]:
            tardiness -= weight[j] * (cur_comp[j] - due[j])
        c = 0
        for k in range(job_ptr[j], job_ptr[j + 1]):
            op = job_ops[k]
            if mark[op] != stamp and cur_end[op] > c:
                c = cur_end[op]
        comp[j] = c
    makespan = prefix_end[limit - 1] if limit > 0 else 0
    head = 0
    tail_q = 0
    for i in range(limit, n):
        op = by_start[i]
        d = 0
        for k in range(pred_ptr[op], pred_ptr[op + 1]):
            if mark[pred_idx[k]] == stamp:
                d += 1
        if pos[op] > 0 and mark[order[seg_off[mach[op]] + pos[op] - 1]] == stamp:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    while head < tail_q:
        op = queue[head]
        head += 1
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
        if duration > 0 and wp[m + 1] > wp[m]:
            lo, hi = wp[m], wp[m + 1]
            while lo < hi:  # bisect_right(window ends, t)
                mid = (lo + hi) // 2
                if we[mid] <= t:
                    lo = mid + 1
                else:
                    hi = mid
            k = lo
            while k < wp[m + 1] and ws[k] < t + duration:
                t = we[k]
                k += 1
        if fixed[op] >= 0:
            if t > fixed[op]:
                return IMPOSSIBLE, head
            t = fixed[op]
        finish = t + duration
        start[op] = t
        end[op] = finish
        if deadline[op] >= 0 and finish > deadline[op]:
            return IMPOSSIBLE, head
        if finish > makespan:
            makespan = finish
        j = job[op]
        left[j] -= 1
        if finish > comp[j]:
            comp[j] = finish
        if left[j] == 0 and has_due[j] != 0 and comp[j] > due[j]:
            tardiness += weight[j] * (comp[j] - due[j])
        if tardiness * tw + makespan * mw > bound:
            return PRUNED, head
        for k in range(succ_ptr[op], succ_ptr[op + 1]):
            nxt = succ_idx[k]
            if mark[nxt] == stamp:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    queue[tail_q] = nxt
                    tail_q += 1
        if p + 1 < cnt[m]:
            nxt = order[seg_off[m] + p + 1]
            if mark[nxt] == stamp:
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    queue[tail_q] = nxt
                    tail_q += 1
    if tail_q < n - limit:
        return CYCLE, head
    out[0] = tardiness
    out[1] = makespan
    return tardiness * tw + makespan * mw, head


@njit(cache=True)
def _clear(queued, cursor, waiting):  # type: ignore[no-untyped-def]
    """Empty the queue of `_propagate` when it stops early."""
    while waiting > 0:
        if queued[cursor] != 0:
            queued[cursor] = 0
            waiting -= 1
        cursor += 1


@njit(cache=True)
def _propagate(  # type: ignore[no-untyped-def]
    seeds, n_seeds, key_of_moved, moved, mach, dur, order, seg_off, cnt, pos,
    pred_ptr, pred_idx, succ_ptr, succ_idx, release, deadline, fixed, family, setup,
    has_setup, wp, ws, we, start, end, cur_start, cur_end, by_start, rank, mark, done,
    stamp, queued, changed,
):  # fmt: skip
    """Re-time only what a move changed: from the operations whose machine predecessor
    changed (`seeds`), in the current plan's start order (topological for its orders;
    `moved` at `key_of_moved`), re-computing an operation's start and passing the change
    on to its successors only when its times changed. Writes the new times into start /
    end and the re-timed operations into `changed`; returns their number, IMPOSSIBLE when
    a frozen operation or a deadline cannot be kept, or OUT_OF_ORDER when a changed
    operation's successor was already computed (the order was not topological for the
    new orders, perhaps cyclic: the caller re-times another way).

    Why a result is exact and acyclic: every operation is computed once, after each of
    its predecessors that changed (or the pass gives up), so all arcs hold in the new
    times; arcs that go forward in time with positive durations cannot close a cycle."""
    # queued[key] marks the operations waiting, by key (2 * rank + 2, `moved` at its
    # odd key); keys only grow while the pass goes on, so the next one is found by a
    # forward scan (cheaper than a heap: it spans at most 2n + 4 entries)
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
        if duration > 0 and wp[m + 1] > wp[m]:
            lo, hi = wp[m], wp[m + 1]
            while lo < hi:  # bisect_right(window ends, t)
                mid = (lo + hi) // 2
                if we[mid] <= t:
                    lo = mid + 1
                else:
                    hi = mid
            k = lo
            while k < wp[m + 1] and ws[k] < t + duration:
                t = we[k]
                k += 1
        if fixed[op] >= 0:
            if t > fixed[op]:
                _clear(queued, cursor, waiting)
                return IMPOSSIBLE
            t = fixed[op]
        finish = t + duration
        if deadline[op] >= 0 and finish > deadline[op]:
            _clear(queued, cursor, waiting)
            return IMPOSSIBLE
        if t == cur_start[op] and finish == cur_end[op]:
            continue
        start[op] = t
        end[op] = finish
        changed[n_changed] = op
        n_changed += 1
        for k in range(succ_ptr[op], succ_ptr[op + 1]):
            nxt = succ_idx[k]
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
        if p + 1 < cnt[m]:
            nxt = order[seg_off[m] + p + 1]
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
def _remove(order, seg_off, cnt, pos, op, m):  # type: ignore[no-untyped-def]
    base = seg_off[m]
    for k in range(pos[op], cnt[m] - 1):
        moved = order[base + k + 1]
        order[base + k] = moved
        pos[moved] = k
    cnt[m] -= 1


@njit(cache=True)
def _insert(order, seg_off, cnt, pos, op, m, at):  # type: ignore[no-untyped-def]
    base = seg_off[m]
    for k in range(cnt[m], at, -1):
        moved = order[base + k - 1]
        order[base + k] = moved
        pos[moved] = k
    order[base + at] = op
    pos[op] = at
    cnt[m] += 1


@njit(cache=True)
def _blocked_on_chain(  # type: ignore[no-untyped-def]
    j, job_ptr, job_ops, end, start, mach, order, seg_off, pos, release, pred_ptr, pred_idx,
    family, setup, has_setup,
):  # fmt: skip
    """A random operation on the critical chain of job j (back from its last operation
    through whichever predecessor, job or machine, fixes each start) that waits for the
    operation before it on its machine; -1 when there is none."""
    op = job_ops[job_ptr[j]]
    for k in range(job_ptr[j], job_ptr[j + 1]):
        if end[job_ops[k]] > end[op]:
            op = job_ops[k]
    chosen = -1
    seen = 0
    for _ in range(200):
        t = start[op]
        nxt = -1
        for k in range(pred_ptr[op], pred_ptr[op + 1]):
            if end[pred_idx[k]] == t:
                nxt = pred_idx[k]
                break
        if nxt < 0 and pos[op] > 0:
            m = mach[op]
            before = order[seg_off[m] + pos[op] - 1]
            ready = end[before]
            if has_setup[m] != 0:
                ready += setup[m, family[before], family[op]]
            if ready == t and t > release[op]:
                seen += 1
                if np.random.randint(0, seen) == 0:  # reservoir: uniform over the chain
                    chosen = op
                nxt = before
        if nxt < 0:
            break
        op = nxt
    return chosen


@njit(cache=True)
def _move(  # type: ignore[no-untyped-def]
    mach, dur, order, seg_off, cnt, pos, start, end, comp, movable, mode_ptr, mode_mach,
    mode_dur, job, due, has_due, weight, job_ptr, job_ops, reach, tw, release, pred_ptr,
    pred_idx, family, setup, has_setup,
):  # fmt: skip
    """Apply one random move to the candidate orders (deciding on the current plan's
    start / end / completion); the operation moved, or -1 when none was."""
    n_jobs = job_ptr.shape[0] - 1
    draw = np.random.random()
    if draw < 0.85 and tw > 0:
        total = 0
        for j in range(n_jobs):
            if has_due[j] != 0 and comp[j] > due[j]:
                total += weight[j] * (comp[j] - due[j])
        if total > 0:
            pick = int(np.random.random() * total)
            chosen = n_jobs - 1
            running = 0
            for j in range(n_jobs):
                if has_due[j] != 0 and comp[j] > due[j]:
                    running += weight[j] * (comp[j] - due[j])
                    if running > pick:
                        chosen = j
                        break
            size = job_ptr[chosen + 1] - job_ptr[chosen]
            op = job_ops[job_ptr[chosen] + np.random.randint(0, size)]
            if draw < CHAIN_SHARE:
                op = _blocked_on_chain(
                    chosen, job_ptr, job_ops, end, start, mach, order, seg_off, pos, release,
                    pred_ptr, pred_idx, family, setup, has_setup,
                )  # fmt: skip
                if op < 0:
                    return -1
            if movable[op] == 0:
                return -1
            m = mach[op]
            if draw < 0.6 or mode_ptr[op + 1] - mode_ptr[op] < 2:
                if pos[op] == 0:
                    return -1
                target = pos[op] - np.random.randint(1, min(pos[op], reach) + 1)
                _remove(order, seg_off, cnt, pos, op, m)
                _insert(order, seg_off, cnt, pos, op, m, target)
                return op
            k = mode_ptr[op] + np.random.randint(0, mode_ptr[op + 1] - mode_ptr[op])
            other = mode_mach[k]
            if other == m:
                return -1
            # on the other machine: before the first operation that starts after it,
            # then a few places earlier
            base = seg_off[other]
            lo, hi = 0, cnt[other]
            while lo < hi:
                mid = (lo + hi) // 2
                if start[order[base + mid]] <= start[op]:
                    lo = mid + 1
                else:
                    hi = mid
            target = lo - np.random.randint(0, min(lo, reach) + 1)
            _remove(order, seg_off, cnt, pos, op, m)
            _insert(order, seg_off, cnt, pos, op, other, target)
            mach[op] = other
            dur[op] = mode_dur[k]
            return op
    op = np.random.randint(0, mach.shape[0])
    if movable[op] == 0 or pos[op] == 0:
        return -1
    m = mach[op]
    before = order[seg_off[m] + pos[op] - 1]
    if movable[before] == 0:
        return -1
    target = pos[op] - 1
    _remove(order, seg_off, cnt, pos, op, m)
    _insert(order, seg_off, cnt, pos, op, m, target)
    return op


@njit(cache=True)
def _search(  # type: ignore[no-untyped-def]
    iterations, cur, cand, best, meta, recent, counters, work, inc, reach, tw, mw,
    pred_ptr, pred_idx, succ_ptr, succ_idx, release, deadline, fixed, family, setup,
    has_setup, wp, ws, we, job, due, has_due, weight, job_size, job_ptr, job_ops, movable,
    mode_ptr, mode_mach, mode_dur, seg_off,
):  # fmt: skip
    """Late-acceptance steps. cur / cand / best are int arrays of shape (7, n) holding
    machine, duration, order (flat), position, start, end and (first n_jobs) job
    completion; `cnt` of the orders lives in meta rows. meta[0] = [current value, best
    value, iteration]; meta[1] / meta[2] / meta[3] = per machine counts of cur / cand /
    best. work rows: pass scratch (0-2), marks (3), cur's operations by start (4), the
    running maximum of their ends (5), touched jobs (6), scratch (7-9), the rank of each
    operation in row 4 (10), job marks (11), queued keys (12), changed operations (13), done (14).
    inc = [cur's tardiness, cur's makespan, mark stamp, verify, mismatches, incremental
    allowed, out tardiness, out makespan]. counters = [candidates, rejected,
    improvements, operations re-timed, candidates evaluated by propagation].

    A candidate is evaluated by propagating the move's changes (`_propagate`) when the
    moved operation has a place in the current plan's start order that keeps it
    topological, else by re-timing every operation from the earliest one the move touched
    (`_evaluate_from`). With inc[3] set, every candidate is also evaluated from scratch,
    without pruning, and inc[4] counts disagreements (tests)."""
    late_n = recent.shape[0]
    n = job.shape[0]
    n_jobs = job_size.shape[0]
    indeg, queue, left, mark = work[0, :n], work[1, :n], work[2, :n_jobs], work[3, :n]
    by_start, prefix_end, touched = work[4, :n], work[5, :n], work[6, :n_jobs]
    rank, job_mark, changed = work[10, :n], work[11, :n_jobs], work[13, :n]
    queue_keys = work[12, : 2 * n + 4]
    done = work[14, :n]
    verify = inc[3] != 0
    seeds = np.empty(3, dtype=np.int64)
    for _ in range(iterations):
        # cand's machines, durations, orders and positions equal cur's here, and so do
        # its times and completions
        counters[0] += 1
        op = _move(
            cand[0, :n], cand[1, :n], cand[2], seg_off, meta[2], cand[3, :n], cur[4, :n],
            cur[5, :n], cur[6, :n_jobs], movable, mode_ptr, mode_mach, mode_dur, job, due,
            has_due, weight, job_ptr, job_ops, reach, tw, release, pred_ptr, pred_idx, family,
            setup, has_setup,
        )  # fmt: skip
        if op < 0:
            continue
        m_old, m_new = cur[0, op], cand[0, op]
        # the operations whose machine predecessor changes: op, the one after its old
        # place (y), the one after its new place (x)
        y = -1
        after = cur[3, op] + 1
        if after < meta[1, m_old]:
            y = cur[2, seg_off[m_old] + after]
        x = -1
        after = cand[3, op] + 1
        if after < meta[2, m_new]:
            x = cand[2, seg_off[m_new] + after]
        slot = meta[0, 2] % late_n
        threshold = max(meta[0, 0], recent[slot])
        inc[2] += 1
        stamp = inc[2]
        # op's place in the start order: after its new machine predecessor (its job
        # predecessors cannot change unless the new orders are cyclic), before its new
        # successors if it can (keys: 2 * rank + 2; op gets an odd one)
        lo_key = 0
        if cand[3, op] > 0:
            lo_key = 2 * rank[cand[2, seg_off[m_new] + cand[3, op] - 1]] + 2
        hi_key = 2 * n + 4
        if x >= 0:
            hi_key = 2 * rank[x] + 2
        for k in range(succ_ptr[op], succ_ptr[op + 1]):
            hi_key = min(hi_key, 2 * rank[succ_idx[k]] + 2)
        n_changed = OUT_OF_ORDER
        if inc[5] != 0:
            seeds[0] = op
            n_seeds = 1
            if x >= 0:
                seeds[n_seeds] = x
                n_seeds += 1
            if y >= 0:
                seeds[n_seeds] = y
                n_seeds += 1
            n_changed = _propagate(
                seeds, n_seeds, min(lo_key, hi_key - 2) + 1, op, cand[0, :n], cand[1, :n],
                cand[2], seg_off, meta[2], cand[3, :n], pred_ptr, pred_idx, succ_ptr,
                succ_idx, release, deadline, fixed, family, setup, has_setup, wp, ws, we,
                cand[4, :n], cand[5, :n], cur[4, :n], cur[5, :n], by_start, rank, mark,
                done, stamp, queue_keys, changed,
            )  # fmt: skip
        if n_changed >= 0:
            counters[4] += 1
            counters[3] += n_changed
            value = _rescore(
                changed, n_changed, cand[5, :n], cand[6, :n_jobs], cur[5, :n],
                cur[6, :n_jobs], job, job_ptr, job_ops, due, has_due, weight, job_mark,
                stamp, inc, tw, mw,
            )  # fmt: skip
            if value > threshold and not verify:
                value = PRUNED
        else:
            # the earliest start (in cur) of op, x and y: nothing before it changes
            first = cur[4, op]
            if x >= 0:
                first = min(first, cur[4, x])
            if y >= 0:
                first = min(first, cur[4, y])
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if cur[4, by_start[mid]] < first:
                    lo = mid + 1
                else:
                    hi = mid
            limit = lo
            bound = threshold
            if verify:
                bound = NO_BOUND
            inc[2] += 1
            value, _written = _evaluate_from(
                limit, cand[0, :n], cand[1, :n], cand[2], seg_off, meta[2], cand[3, :n],
                bound, tw, mw, pred_ptr, pred_idx, succ_ptr, succ_idx, release, deadline,
                fixed, family, setup, has_setup, wp, ws, we, job, due, has_due, weight,
                job_size, job_ptr, job_ops, cand[4, :n], cand[5, :n], cand[6, :n_jobs],
                cur[5, :n], cur[6, :n_jobs], by_start, prefix_end, inc[0], mark, inc[2],
                indeg, queue, left, touched, inc[6:8],
            )  # fmt: skip
            counters[3] += n - limit
            # restore or keep all of them (the propagation may have written some too)
            for i in range(limit, n):
                changed[i - limit] = by_start[i]
            n_changed = n - limit
        if verify:
            full = _evaluate(
                cand[0, :n], cand[1, :n], cand[2], seg_off, meta[2], cand[3, :n], NO_BOUND,
                tw, mw, pred_ptr, pred_idx, succ_ptr, succ_idx, release, deadline, fixed,
                family, setup, has_setup, wp, ws, we, job, due, has_due, weight, job_size,
                work[7, :n], work[8, :n], work[0, :n], work[1, :n], work[2, :n_jobs],
                work[9, :n_jobs],
            )  # fmt: skip
            same = (full < 0) == (value < 0)
            if same and value >= 0:
                same = full == value
                for v in range(n):
                    if work[7, v] != cand[4, v] or work[8, v] != cand[5, v]:
                        same = False
            if not same:
                inc[4] += 1
            if value > threshold:
                value = PRUNED
        if value < 0:
            counters[1] += 1
            _sync(cand, cur, meta[2], meta[1], seg_off, op, m_old, m_new)
            for i in range(n_changed):
                v = changed[i]
                cand[4, v] = cur[4, v]
                cand[5, v] = cur[5, v]
                cand[6, job[v]] = cur[6, job[v]]
        else:
            _sync(cur, cand, meta[1], meta[2], seg_off, op, m_old, m_new)
            for i in range(n_changed):
                v = changed[i]
                cur[4, v] = cand[4, v]
                cur[5, v] = cand[5, v]
                cur[6, job[v]] = cand[6, job[v]]
            inc[0] = inc[6]
            inc[1] = inc[7]
            if n_changed > 0:
                inc[2] += 1
                _resort(
                    by_start, prefix_end, rank, cur[4, :n], cur[5, :n], changed, n_changed,
                    mark, inc[2], work[7, :n], work[8, :n],
                )  # fmt: skip
            meta[0, 0] = value
            if value < meta[0, 1]:
                meta[0, 1] = value
                best[:, :] = cur
                meta[3, :] = meta[1, :]
                counters[2] += 1
        recent[slot] = meta[0, 0]
        meta[0, 2] += 1


@njit(cache=True)
def _rescore(  # type: ignore[no-untyped-def]
    changed, n_changed, end, comp, cur_end, cur_comp, job, job_ptr, job_ops, due, has_due,
    weight, job_mark, stamp, inc, tw, mw,
):  # fmt: skip
    """The objective after re-timing `changed` (new ends in `end`, cur's in `cur_end`):
    the jobs they belong to get their completions re-computed (into `comp`) and their
    tardiness replaced; the makespan is re-computed when an operation that ended last
    ended earlier. Writes inc[6] / inc[7] (tardiness, makespan)."""
    tardiness = inc[0]
    makespan = inc[1]
    rescan = False
    for i in range(n_changed):
        op = changed[i]
        if end[op] > makespan:
            makespan = end[op]
        elif cur_end[op] == inc[1] and end[op] < cur_end[op]:
            rescan = True
        j = job[op]
        if job_mark[j] == stamp:
            continue
        job_mark[j] = stamp
        c = 0
        for k in range(job_ptr[j], job_ptr[j + 1]):
            e = end[job_ops[k]]
            if e > c:
                c = e
        comp[j] = c
        if has_due[j] != 0:
            if cur_comp[j] > due[j]:
                tardiness -= weight[j] * (cur_comp[j] - due[j])
            if c > due[j]:
                tardiness += weight[j] * (c - due[j])
    if rescan and mw != 0:
        makespan = 0
        for op in range(end.shape[0]):
            if end[op] > makespan:
                makespan = end[op]
    inc[6] = tardiness
    inc[7] = makespan
    return tardiness * tw + makespan * mw


@njit(cache=True)
def _resort(  # type: ignore[no-untyped-def]
    by_start, prefix_end, rank, start, end, changed, n_changed, mark, stamp, scratch, moved,
):  # fmt: skip
    """Keep `by_start` sorted by start (its operations' ranks in `rank`, the running
    maximum of their ends in `prefix_end`) after the operations in `changed` were
    re-timed: the others keep their order; the changed ones, sorted, are merged in."""
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


@njit(cache=True)
def _sync(dst, src, dst_cnt, src_cnt, seg_off, op, m_old, m_new):  # type: ignore[no-untyped-def]
    """Copy what a move of `op` between machines m_old and m_new changed from src to dst
    (machine, duration, the two machines' orders and positions, their counts)."""
    dst[0, op] = src[0, op]
    dst[1, op] = src[1, op]
    for m in (m_old, m_new):
        base = seg_off[m]
        count = src_cnt[m]
        for k in range(count):
            moved = src[2, base + k]
            dst[2, base + k] = moved
            dst[3, moved] = k
        dst_cnt[m] = count


@njit(cache=True)
def _seed(seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)


class OrderSearch:
    """Machine-order local search for one problem and objective (see the module doc).
    `scale` is the lexicographic objective's factor (must exceed any makespan)."""

    def __init__(self, problem: Problem, objective: Objective, scale: int) -> None:
        self.problem = problem
        n = problem.n_ops
        preds, succs = problem.predecessors(), problem.successors()
        self.pred_ptr, self.pred_idx = csr(preds)
        self.succ_ptr, self.succ_idx = csr(succs)
        self.release = np.array([problem.release_of(op) for op in range(n)], dtype=np.int64)
        self.deadline = np.array(
            [-1 if op.deadline is None else op.deadline for op in problem.operations],
            dtype=np.int64,
        )
        frozen = problem.frozen_by_op()
        self.fixed = np.array(
            [frozen[op].start if op in frozen else -1 for op in range(n)], dtype=np.int64
        )
        self.movable = np.array([op not in frozen for op in range(n)], dtype=np.int64)
        names = sorted({op.family for op in problem.operations})
        ids = {name: k for k, name in enumerate(names)}
        self.family = np.array([ids[op.family] for op in problem.operations], dtype=np.int64)
        n_machines = len(problem.machines)
        self.setup = np.zeros((n_machines, len(names), len(names)), dtype=np.int64)
        self.has_setup = np.zeros(n_machines, dtype=np.int64)
        for m, machine in enumerate(problem.machines):
            if machine.has_setups:
                self.has_setup[m] = 1
                for a, fa in enumerate(names):
                    for b, fb in enumerate(names):
                        self.setup[m, a, b] = machine.setup(fa, fb)
        self.win_ptr, self.win_start = csr(
            [[w.start for w in m.unavailable] for m in problem.machines]
        )
        _, self.win_end = csr([[w.end for w in m.unavailable] for m in problem.machines])
        self.job = np.array([op.job for op in problem.operations], dtype=np.int64)
        self.due = np.array([job.due or 0 for job in problem.jobs], dtype=np.int64)
        self.has_due = np.array([job.due is not None for job in problem.jobs], dtype=np.int64)
        self.weight = np.array([job.weight for job in problem.jobs], dtype=np.int64)
        job_ops = problem.job_ops()
        self.job_size = np.array([len(ops) for ops in job_ops], dtype=np.int64)
        self.job_ptr, self.job_ops = csr(job_ops)
        modes = [[(m.machine, m.duration) for m in op.modes] for op in problem.operations]
        self.mode_ptr, self.mode_mach = csr([[m for m, _ in ms] for ms in modes])
        _, self.mode_dur = csr([[d for _, d in ms] for ms in modes])
        self.positive = all(d > 0 for ms in modes for _, d in ms)
        capacity = [0] * n_machines
        for op in problem.operations:
            for mode in op.modes:
                capacity[mode.machine] += 1
        for item in problem.frozen:
            capacity[item.machine] += 1
        self.seg_off = np.zeros(n_machines, dtype=np.int64)
        total = 0
        for m in range(n_machines):
            self.seg_off[m] = total
            total += capacity[m]
        self.width = max(n, total, len(problem.jobs), 1)
        if objective is Objective.MAKESPAN:
            self.tw, self.mw = 0, 1
        elif objective is Objective.WEIGHTED_TARDINESS:
            self.tw, self.mw = 1, 0
        else:
            self.tw, self.mw = scale, 1

    def _static(self) -> tuple[object, ...]:
        return (
            self.pred_ptr, self.pred_idx, self.succ_ptr, self.succ_idx, self.release,
            self.deadline, self.fixed, self.family, self.setup, self.has_setup, self.win_ptr,
            self.win_start, self.win_end, self.job, self.due, self.has_due, self.weight,
            self.job_size,
        )  # fmt: skip

    def _arrays(self, plan: Sequence[Assignment]) -> tuple[np.ndarray, np.ndarray]:
        """(solution rows, per-machine counts) of a plan."""
        n_machines = len(self.problem.machines)
        rows = np.zeros((7, self.width), dtype=np.int64)
        counts = np.zeros(max(3, n_machines), dtype=np.int64)
        for a in sorted(plan, key=lambda a: (a.start, a.end, a.op)):
            rows[0, a.op] = a.machine
            rows[1, a.op] = a.end - a.start
            rows[2, self.seg_off[a.machine] + counts[a.machine]] = a.op
            rows[3, a.op] = counts[a.machine]
            rows[4, a.op], rows[5, a.op] = a.start, a.end
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
        n = self.problem.n_ops
        work = np.zeros((3, self.width), dtype=np.int64)
        return int(
            _evaluate(  # type: ignore[call-arg]
                rows[0, :n],
                rows[1, :n],
                rows[2],
                self.seg_off,
                counts,
                rows[3, :n],
                bound,
                self.tw,
                self.mw,
                *self._static(),
                rows[4, :n],
                rows[5, :n],
                work[0],
                work[1],
                work[2, : len(self.problem.jobs)],
                rows[6, : len(self.problem.jobs)],
            )
        )

    def _plan(self, rows: np.ndarray) -> list[Assignment]:
        return [
            Assignment(op, int(rows[0, op]), int(rows[4, op]), int(rows[5, op]))
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
        n_jobs = len(self.problem.jobs)
        rows, counts = self._arrays(plan)
        value = self._evaluate(rows, counts, NO_BOUND)
        self.mismatches = 0
        self.retimed = 0
        self.propagated = 0
        if value < 0 or n < 2:  # orders that do not give back a plan: leave it as it is
            return list(plan), value, (0, 0, 0)
        cur = np.zeros((7, self.width), dtype=np.int64)
        cur[:, :] = rows
        cand, best = cur.copy(), cur.copy()
        meta = np.zeros((4, max(3, counts.shape[0])), dtype=np.int64)
        meta[0, 0] = meta[0, 1] = value
        meta[1, : counts.shape[0]] = counts
        meta[2, :] = meta[1, :]
        meta[3, :] = meta[1, :]
        recent = np.full(late_acceptance or LATE_ACCEPTANCE, value, dtype=np.int64)
        counters = np.zeros(5, dtype=np.int64)
        work = np.zeros((15, 2 * self.width + 4), dtype=np.int64)
        order = np.argsort(cur[4, :n], kind="stable")
        work[4, :n] = order
        work[5, :n] = np.maximum.accumulate(cur[5, :n][order])
        work[10, order] = np.arange(n)
        inc = np.zeros(8, dtype=np.int64)
        comp = cur[6, :n_jobs]
        late = (self.has_due != 0) & (comp > self.due)
        inc[0] = int((self.weight * (comp - self.due))[late].sum())
        inc[1] = int(cur[5, :n].max())
        inc[3] = int(verify)
        # propagation needs the start order to be topological: no zero durations
        inc[5] = int(self.positive)
        reach = max(2, min(50, n // 40))
        _seed(seed & 0xFFFFFFFF)
        while True:
            _search(  # type: ignore[call-arg]
                CHUNK, cur, cand, best, meta, recent, counters, work, inc, reach, self.tw,
                self.mw, *self._static(), self.job_ptr, self.job_ops, self.movable,
                self.mode_ptr, self.mode_mach, self.mode_dur, self.seg_off,
            )  # fmt: skip
            if time.perf_counter() >= deadline:
                break
        self.mismatches = int(inc[4])
        self.retimed = int(counters[3])
        self.propagated = int(counters[4])
        return (
            self._plan(best),
            int(meta[0, 1]),
            (int(counters[0]), int(counters[1]), int(counters[2])),
        )


NO_BOUND = 2**62


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
    to this module) or load them from the cache, once per process; the seconds taken."""
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
