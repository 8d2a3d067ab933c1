"""The machine-order search's moves, compiled: each changes a candidate's machine orders
(`Solution` order / pos / cnt, and mach / dur when an operation changes machine),
deciding on the current plan's times. See the package doc for the mix of moves."""

from __future__ import annotations

import numpy as np
from numba import njit

CHAIN_SHARE = 0.3  # of moves: on a late job's critical chain (0.5 measured worse)
LATE_SHARE = 0.85  # of moves: an operation of a late job (below CHAIN_SHARE: on its chain)
EARLIER_SHARE = 0.6  # of moves: such an operation earlier on its machine (above: elsewhere)


@njit(cache=True)
def _remove(sol, seg_off, op, m):  # type: ignore[no-untyped-def]
    base = seg_off[m]
    for k in range(sol.pos[op], sol.cnt[m] - 1):
        moved = sol.order[base + k + 1]
        sol.order[base + k] = moved
        sol.pos[moved] = k
    sol.cnt[m] -= 1


@njit(cache=True)
def _insert(sol, seg_off, op, m, at):  # type: ignore[no-untyped-def]
    base = seg_off[m]
    for k in range(sol.cnt[m], at, -1):
        moved = sol.order[base + k - 1]
        sol.order[base + k] = moved
        sol.pos[moved] = k
    sol.order[base + at] = op
    sol.pos[op] = at
    sol.cnt[m] += 1


@njit(cache=True)
def _blocked_on_chain(inst, cand, cur, j):  # type: ignore[no-untyped-def]
    """A random operation on the critical chain of job j in the current plan (back from
    its last operation through whichever predecessor, job or machine, fixes each start)
    that waits for the operation before it on its machine; -1 when there is none."""
    start, end = cur.start, cur.end
    op = inst.job_ops[inst.job_ptr[j]]
    for k in range(inst.job_ptr[j], inst.job_ptr[j + 1]):
        if end[inst.job_ops[k]] > end[op]:
            op = inst.job_ops[k]
    chosen = -1
    seen = 0
    for _ in range(200):
        t = start[op]
        nxt = -1
        for k in range(inst.pred_ptr[op], inst.pred_ptr[op + 1]):
            if end[inst.pred_idx[k]] == t:
                nxt = inst.pred_idx[k]
                break
        if nxt < 0 and cand.pos[op] > 0:
            m = cand.mach[op]
            before = cand.order[inst.seg_off[m] + cand.pos[op] - 1]
            ready = end[before]
            if inst.has_setup[m] != 0:
                ready += inst.setup[m, inst.family[before], inst.family[op]]
            if ready == t and t > inst.release[op]:
                seen += 1
                if np.random.randint(0, seen) == 0:  # reservoir: uniform over the chain
                    chosen = op
                nxt = before
        if nxt < 0:
            break
        op = nxt
    return chosen


@njit(cache=True)
def _late_job(inst, comp):  # type: ignore[no-untyped-def]
    """A late job drawn by its weighted tardiness (completions `comp`); -1 when no job is
    late."""
    n_jobs = inst.job_ptr.shape[0] - 1
    total = 0
    for j in range(n_jobs):
        if inst.has_due[j] != 0 and comp[j] > inst.due[j]:
            total += inst.weight[j] * (comp[j] - inst.due[j])
    if total <= 0:
        return -1
    pick = int(np.random.random() * total)
    chosen = n_jobs - 1
    running = 0
    for j in range(n_jobs):
        if inst.has_due[j] != 0 and comp[j] > inst.due[j]:
            running += inst.weight[j] * (comp[j] - inst.due[j])
            if running > pick:
                chosen = j
                break
    return chosen


@njit(cache=True)
def move(inst, cand, cur, reach):  # type: ignore[no-untyped-def]
    """Apply one random move to cand's orders (equal to cur's on entry), deciding on
    cur's times; the operation moved, or -1 when none was."""
    draw = np.random.random()
    if draw < LATE_SHARE and inst.tw > 0:
        chosen = _late_job(inst, cur.comp)
        if chosen >= 0:
            size = inst.job_ptr[chosen + 1] - inst.job_ptr[chosen]
            op = inst.job_ops[inst.job_ptr[chosen] + np.random.randint(0, size)]
            if draw < CHAIN_SHARE:
                op = _blocked_on_chain(inst, cand, cur, chosen)
                if op < 0:
                    return -1
            if inst.movable[op] == 0:
                return -1
            if draw < EARLIER_SHARE or inst.mode_ptr[op + 1] - inst.mode_ptr[op] < 2:
                return _earlier(inst, cand, op, reach)
            return _other_machine(inst, cand, cur, op, reach)
    op = np.random.randint(0, cand.mach.shape[0])
    if inst.movable[op] == 0 or cand.pos[op] == 0:
        return -1
    m = cand.mach[op]
    before = cand.order[inst.seg_off[m] + cand.pos[op] - 1]
    if inst.movable[before] == 0:
        return -1
    target = cand.pos[op] - 1  # swapped with the one before it
    _remove(cand, inst.seg_off, op, m)
    _insert(cand, inst.seg_off, op, m, target)
    return op


@njit(cache=True)
def _earlier(inst, cand, op, reach):  # type: ignore[no-untyped-def]
    """op a few places (at most `reach`) earlier on its machine."""
    p = cand.pos[op]
    if p == 0:
        return -1
    target = p - np.random.randint(1, min(p, reach) + 1)
    m = cand.mach[op]
    _remove(cand, inst.seg_off, op, m)
    _insert(cand, inst.seg_off, op, m, target)
    return op


@njit(cache=True)
def _other_machine(inst, cand, cur, op, reach):  # type: ignore[no-untyped-def]
    """op onto another machine that can run it, before the first operation there that
    starts after it (in cur), then a few places earlier."""
    k = inst.mode_ptr[op] + np.random.randint(0, inst.mode_ptr[op + 1] - inst.mode_ptr[op])
    other = inst.mode_mach[k]
    m = cand.mach[op]
    if other == m:
        return -1
    base = inst.seg_off[other]
    lo, hi = 0, cand.cnt[other]
    while lo < hi:
        mid = (lo + hi) // 2
        if cur.start[cand.order[base + mid]] <= cur.start[op]:
            lo = mid + 1
        else:
            hi = mid
    target = lo - np.random.randint(0, min(lo, reach) + 1)
    _remove(cand, inst.seg_off, op, m)
    _insert(cand, inst.seg_off, op, other, target)
    cand.mach[op] = other
    cand.dur[op] = inst.mode_dur[k]
    return op


@njit(cache=True)
def sync(dst, src, seg_off, op, m_old, m_new):  # type: ignore[no-untyped-def]
    """Copy what a move of `op` between machines m_old and m_new changed from src to dst
    (its machine and duration, the two machines' orders, positions and counts)."""
    dst.mach[op] = src.mach[op]
    dst.dur[op] = src.dur[op]
    for m in (m_old, m_new):
        base = seg_off[m]
        count = src.cnt[m]
        for k in range(count):
            moved = src.order[base + k]
            dst.order[base + k] = moved
            dst.pos[moved] = k
        dst.cnt[m] = count
