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
    # fields read once: a field read in a loop costs a reference count
    sol_pos = sol.pos
    sol_cnt = sol.cnt
    sol_order = sol.order
    base = seg_off[m]
    for k in range(sol_pos[op], sol_cnt[m] - 1):
        moved = sol_order[base + k + 1]
        sol_order[base + k] = moved
        sol_pos[moved] = k
    sol_cnt[m] -= 1


@njit(cache=True)
def _insert(sol, seg_off, op, m, at):  # type: ignore[no-untyped-def]
    # fields read once: a field read in a loop costs a reference count
    sol_cnt = sol.cnt
    sol_order = sol.order
    sol_pos = sol.pos
    base = seg_off[m]
    for k in range(sol_cnt[m], at, -1):
        moved = sol_order[base + k - 1]
        sol_order[base + k] = moved
        sol_pos[moved] = k
    sol_order[base + at] = op
    sol_pos[op] = at
    sol_cnt[m] += 1


@njit(cache=True)
def _blocked_on_chain(inst, cand, cur, j):  # type: ignore[no-untyped-def]
    """A random operation on the critical chain of job j in the current plan (back from
    its last operation through whichever predecessor, job or machine, fixes each start)
    that waits for the operation before it on its machine; -1 when there is none."""
    # fields read once: a field read in a loop costs a reference count
    cur_start = cur.start
    cur_end = cur.end
    inst_job_ops = inst.job_ops
    inst_job_ptr = inst.job_ptr
    inst_pred_ptr = inst.pred_ptr
    inst_pred_idx = inst.pred_idx
    cand_pos = cand.pos
    cand_mach = cand.mach
    cand_order = cand.order
    inst_seg_off = inst.seg_off
    inst_has_setup = inst.has_setup
    inst_setup = inst.setup
    inst_family = inst.family
    inst_release = inst.release
    start, end = cur_start, cur_end
    op = inst_job_ops[inst_job_ptr[j]]
    for k in range(inst_job_ptr[j], inst_job_ptr[j + 1]):
        if end[inst_job_ops[k]] > end[op]:
            op = inst_job_ops[k]
    chosen = -1
    seen = 0
    for _ in range(200):
        t = start[op]
        nxt = -1
        for k in range(inst_pred_ptr[op], inst_pred_ptr[op + 1]):
            if end[inst_pred_idx[k]] == t:
                nxt = inst_pred_idx[k]
                break
        if nxt < 0 and cand_pos[op] > 0:
            m = cand_mach[op]
            before = cand_order[inst_seg_off[m] + cand_pos[op] - 1]
            ready = end[before]
            if inst_has_setup[m] != 0:
                ready += inst_setup[m, inst_family[before], inst_family[op]]
            if ready == t and t > inst_release[op]:
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
    # fields read once: a field read in a loop costs a reference count
    inst_job_ptr = inst.job_ptr
    inst_has_due = inst.has_due
    inst_due = inst.due
    inst_weight = inst.weight
    n_jobs = inst_job_ptr.shape[0] - 1
    total = 0
    for j in range(n_jobs):
        if inst_has_due[j] != 0 and comp[j] > inst_due[j]:
            total += inst_weight[j] * (comp[j] - inst_due[j])
    if total <= 0:
        return -1
    pick = int(np.random.random() * total)
    chosen = n_jobs - 1
    running = 0
    for j in range(n_jobs):
        if inst_has_due[j] != 0 and comp[j] > inst_due[j]:
            running += inst_weight[j] * (comp[j] - inst_due[j])
            if running > pick:
                chosen = j
                break
    return chosen


@njit(cache=True)
def move(inst, cand, cur, reach):  # type: ignore[no-untyped-def]
    """Apply one random move to cand's orders (equal to cur's on entry), deciding on
    cur's times; the operation moved, or -1 when none was."""
    # fields read once: a field read in a loop costs a reference count
    inst_tw = inst.tw
    cur_comp = cur.comp
    inst_job_ptr = inst.job_ptr
    inst_job_ops = inst.job_ops
    inst_movable = inst.movable
    inst_mode_ptr = inst.mode_ptr
    cand_mach = cand.mach
    cand_pos = cand.pos
    cand_order = cand.order
    inst_seg_off = inst.seg_off
    draw = np.random.random()
    if draw < LATE_SHARE and inst_tw > 0:
        chosen = _late_job(inst, cur_comp)
        if chosen >= 0:
            size = inst_job_ptr[chosen + 1] - inst_job_ptr[chosen]
            op = inst_job_ops[inst_job_ptr[chosen] + np.random.randint(0, size)]
            if draw < CHAIN_SHARE:
                op = _blocked_on_chain(inst, cand, cur, chosen)
                if op < 0:
                    return -1
            if inst_movable[op] == 0:
                return -1
            if draw < EARLIER_SHARE or inst_mode_ptr[op + 1] - inst_mode_ptr[op] < 2:
                return _earlier(inst, cand, op, reach)
            return _other_machine(inst, cand, cur, op, reach)
    op = np.random.randint(0, cand_mach.shape[0])
    if inst_movable[op] == 0 or cand_pos[op] == 0:
        return -1
    m = cand_mach[op]
    before = cand_order[inst_seg_off[m] + cand_pos[op] - 1]
    if inst_movable[before] == 0:
        return -1
    target = cand_pos[op] - 1  # swapped with the one before it
    _remove(cand, inst_seg_off, op, m)
    _insert(cand, inst_seg_off, op, m, target)
    return op


@njit(cache=True)
def _earlier(inst, cand, op, reach):  # type: ignore[no-untyped-def]
    """op a few places (at most `reach`) earlier on its machine."""
    # fields read once: a field read in a loop costs a reference count
    cand_pos = cand.pos
    cand_mach = cand.mach
    inst_seg_off = inst.seg_off
    p = cand_pos[op]
    if p == 0:
        return -1
    target = p - np.random.randint(1, min(p, reach) + 1)
    m = cand_mach[op]
    _remove(cand, inst_seg_off, op, m)
    _insert(cand, inst_seg_off, op, m, target)
    return op


@njit(cache=True)
def _other_machine(inst, cand, cur, op, reach):  # type: ignore[no-untyped-def]
    """op onto another machine that can run it, before the first operation there that
    starts after it (in cur), then a few places earlier."""
    # fields read once: a field read in a loop costs a reference count
    inst_mode_ptr = inst.mode_ptr
    inst_mode_mach = inst.mode_mach
    cand_mach = cand.mach
    inst_seg_off = inst.seg_off
    cand_cnt = cand.cnt
    cur_start = cur.start
    cand_order = cand.order
    cand_dur = cand.dur
    inst_mode_dur = inst.mode_dur
    k = inst_mode_ptr[op] + np.random.randint(0, inst_mode_ptr[op + 1] - inst_mode_ptr[op])
    other = inst_mode_mach[k]
    m = cand_mach[op]
    if other == m:
        return -1
    base = inst_seg_off[other]
    lo, hi = 0, cand_cnt[other]
    while lo < hi:
        mid = (lo + hi) // 2
        if cur_start[cand_order[base + mid]] <= cur_start[op]:
            lo = mid + 1
        else:
            hi = mid
    target = lo - np.random.randint(0, min(lo, reach) + 1)
    _remove(cand, inst_seg_off, op, m)
    _insert(cand, inst_seg_off, op, other, target)
    cand_mach[op] = other
    cand_dur[op] = inst_mode_dur[k]
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
