"""The moves of the machine-order search: how a candidate's orders are changed.

`move` draws one (see the package doc for the mix): an operation of a late job a few
places earlier on its machine, or onto another machine that can run it near the same
time; an operation on a late job's critical chain that waits for its machine; a random
operation swapped with the one before it. `remove` / `insert` edit one machine's order;
`sync` copies what a move changed from one plan to another (to undo or keep it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from microfactory.planning.reorder.arrays import DURATION, MACHINE, ORDER, POSITION, Instance, Plan

CHAIN_SHARE = 0.3  # of moves: on a late job's critical chain (0.5 measured worse)


@njit(cache=True)
def remove(plan: Plan, seg_off: np.ndarray, op: int, m: int) -> None:
    """Take `op` out of machine m's order."""
    base = seg_off[m]
    for k in range(plan.pos[op], plan.cnt[m] - 1):
        moved = plan.order[base + k + 1]
        plan.order[base + k] = moved
        plan.pos[moved] = k
    plan.cnt[m] -= 1


@njit(cache=True)
def insert(plan: Plan, seg_off: np.ndarray, op: int, m: int, at: int) -> None:
    """Put `op` at place `at` of machine m's order."""
    base = seg_off[m]
    for k in range(plan.cnt[m], at, -1):
        moved = plan.order[base + k - 1]
        plan.order[base + k] = moved
        plan.pos[moved] = k
    plan.order[base + at] = op
    plan.pos[op] = at
    plan.cnt[m] += 1


@njit(cache=True)
def blocked_on_chain(inst: Instance, cur: Plan, j: int) -> int:
    """A random operation on the critical chain of job j in `cur` (back from its last
    operation through whichever predecessor, job or machine, fixes each start) that waits
    for the operation before it on its machine; -1 when there is none."""
    job_ptr, job_ops, end = inst.job_ptr, inst.job_ops, cur.end
    op = job_ops[job_ptr[j]]
    for k in range(job_ptr[j], job_ptr[j + 1]):
        if end[job_ops[k]] > end[op]:
            op = job_ops[k]
    chosen = -1
    seen = 0
    for _ in range(200):
        t = cur.start[op]
        nxt = -1
        for k in range(inst.pred_ptr[op], inst.pred_ptr[op + 1]):
            if end[inst.pred_idx[k]] == t:
                nxt = inst.pred_idx[k]
                break
        if nxt < 0 and cur.pos[op] > 0:
            m = cur.mach[op]
            before = cur.order[inst.seg_off[m] + cur.pos[op] - 1]
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
def move(inst: Instance, cand: Plan, cur: Plan, reach: int) -> int:
    """Apply one random move to the candidate's orders (deciding on the current plan's
    times and completions, which cand's equal); the operation moved, or -1 when none
    was."""
    n_jobs = inst.job_ptr.shape[0] - 1
    comp, due, has_due, weight = cur.comp, inst.due, inst.has_due, inst.weight
    draw = np.random.random()
    if draw < 0.85 and inst.tw > 0:
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
            size = inst.job_ptr[chosen + 1] - inst.job_ptr[chosen]
            op = inst.job_ops[inst.job_ptr[chosen] + np.random.randint(0, size)]
            if draw < CHAIN_SHARE:
                op = blocked_on_chain(inst, cur, chosen)
                if op < 0:
                    return -1
            if inst.movable[op] == 0:
                return -1
            m = cand.mach[op]
            if draw < 0.6 or inst.mode_ptr[op + 1] - inst.mode_ptr[op] < 2:
                if cand.pos[op] == 0:
                    return -1
                target = cand.pos[op] - np.random.randint(1, min(cand.pos[op], reach) + 1)
                remove(cand, inst.seg_off, op, m)
                insert(cand, inst.seg_off, op, m, target)
                return op  # type: ignore[no-any-return]
            k = inst.mode_ptr[op] + np.random.randint(0, inst.mode_ptr[op + 1] - inst.mode_ptr[op])
            other = inst.mode_mach[k]
            if other == m:
                return -1
            # on the other machine: before the first operation that starts after it,
            # then a few places earlier
            base = inst.seg_off[other]
            lo, hi = 0, cand.cnt[other]
            while lo < hi:
                mid = (lo + hi) // 2
                if cur.start[cand.order[base + mid]] <= cur.start[op]:
                    lo = mid + 1
                else:
                    hi = mid
            target = lo - np.random.randint(0, min(lo, reach) + 1)
            remove(cand, inst.seg_off, op, m)
            insert(cand, inst.seg_off, op, other, target)
            cand.mach[op] = other
            cand.dur[op] = inst.mode_dur[k]
            return op  # type: ignore[no-any-return]
    op = np.random.randint(0, cand.mach.shape[0])
    if inst.movable[op] == 0 or cand.pos[op] == 0:
        return -1
    m = cand.mach[op]
    before = cand.order[inst.seg_off[m] + cand.pos[op] - 1]
    if inst.movable[before] == 0:
        return -1
    target = cand.pos[op] - 1
    remove(cand, inst.seg_off, op, m)
    insert(cand, inst.seg_off, op, m, target)
    return op


@njit(cache=True)
def sync(
    dst: np.ndarray,
    src: np.ndarray,
    dst_cnt: np.ndarray,
    src_cnt: np.ndarray,
    seg_off: np.ndarray,
    op: int,
    m_old: int,
    m_new: int,
) -> None:
    """Copy what a move of `op` between machines m_old and m_new changed from the plan
    rows src to dst (machine, duration, the two machines' orders and positions, their
    counts)."""
    dst[MACHINE, op] = src[MACHINE, op]
    dst[DURATION, op] = src[DURATION, op]
    for m in (m_old, m_new):
        base = seg_off[m]
        count = src_cnt[m]
        for k in range(count):
            moved = src[ORDER, base + k]
            dst[ORDER, base + k] = moved
            dst[POSITION, moved] = k
        dst_cnt[m] = count
