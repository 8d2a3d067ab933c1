"""The job-sequence decoder and its late-acceptance search, compiled with numba.

`sequence.SequenceDecoder` is the readable reference: this module decodes a job sequence
into exactly the same plan (the tests compare them on random instances), with the state
held in one flat integer vector so that a checkpoint is a slice copy and the whole
late-acceptance loop runs without the interpreter. Measured on the 2,000-operation factory
(see benchmarks/schedule/RESULTS.md): a full decode in ~0.3 ms instead of 8.5 ms.

State vector layout (offsets in `Layout`): tardiness, makespan, highest placed rank,
number of ready operations; per machine the number of placed operations; per operation
the earliest start and the number of unplaced predecessors (-1 once placed); the ready
operations (heap keys while decoding); per job the unplaced operations and the
completion; per machine a segment of sorted starts, ends and setup families.

Checkpoints live in a pool of rows; a decoded sequence owns a list of rows (its
checkpoints, in decoding order), so a candidate that resumes from checkpoint k shares
rows 0..k with the current sequence and only writes new ones.
"""

from __future__ import annotations

import time
from typing import NamedTuple, Protocol

import numpy as np
from numba import njit

from microfactory.planning.kernels import after_windows
from microfactory.planning.model import Assignment, Problem

# fixed state slots
TARD, MAKESPAN, MAXRANK, NREADY = 0, 1, 2, 3
# indices into the `lay` array
L_M, L_N, L_J, L_CNT, L_EST, L_MISS, L_HEAP, L_LEFT, L_COMP, L_SEGS, L_SEGE, L_SEGF, L_LEN = range(
    13
)
POOL_EXTRA = 8  # rows beyond two sequences' worth of checkpoints


class Compiled(NamedTuple):
    """The problem as flat arrays, built from a `SequenceDecoder`; the kernels take it as
    one argument (numba compiles a named tuple of arrays as a struct)."""

    lay: np.ndarray
    seg_off: np.ndarray
    mode_ptr: np.ndarray
    mode_dur: np.ndarray
    mode_mach: np.ndarray
    family: np.ndarray
    job: np.ndarray
    tail: np.ndarray
    succ_ptr: np.ndarray
    succ_idx: np.ndarray
    setup: np.ndarray
    has_setup: np.ndarray
    win_ptr: np.ndarray
    win_start: np.ndarray
    win_end: np.ndarray
    due: np.ndarray
    has_due: np.ndarray
    weight: np.ndarray
    initial: np.ndarray
    initial_plan: np.ndarray
    key_base: int  # heap key = (rank * (tail_max + 1) + tail_max - tail) * n + op
    tail_max: int

    @property
    def n(self) -> int:
        return int(self.lay[L_N])


def key_fits(n_ops: int, n_jobs: int, tail_max: int) -> bool:
    """Whether heap keys stay far below 2**63 (always on realistic shops)."""
    return (n_jobs + 1) * (tail_max + 2) * (n_ops + 1) < 2**62


class DecoderState(Protocol):
    """What `compile_problem` reads of the reference decoder's initial state
    (`sequence._State`)."""

    starts: list[list[int]]
    ends: list[list[int]]
    families: list[list[int]]
    est: list[int]
    missing: list[int]
    ready: list[int]
    machine: list[int]
    start: list[int]
    end: list[int]
    left: list[int]
    completion: list[int]
    tardiness: int
    makespan: int
    max_rank: int


class DecoderSource(Protocol):
    """What this module reads of the reference decoder (`sequence.SequenceDecoder`);
    a protocol, so that this module does not import `sequence` (which imports it)."""

    problem: Problem
    modes: list[list[tuple[int, int]]]
    family: list[int]
    setup_table: list[list[list[int]] | None]
    job: list[int]
    succ: list[list[int]]
    tail: list[int]
    window_starts: list[list[int]]
    window_ends: list[list[int]]
    due: list[int | None]
    weight: list[int]
    factors: tuple[int, int]
    every: int

    @property
    def initial(self) -> DecoderState: ...


def compile_problem(decoder: DecoderSource) -> Compiled:
    """Flat arrays of a `sequence.SequenceDecoder`."""
    p = decoder.problem
    n, n_machines, n_jobs = p.n_ops, len(p.machines), len(p.jobs)
    capacity = [0] * n_machines
    for operation in p.operations:
        for mode in operation.modes:
            capacity[mode.machine] += 1
    for item in p.frozen:
        capacity[item.machine] += 1
    seg_off = np.zeros(n_machines, dtype=np.int64)
    total = 0
    for m in range(n_machines):
        seg_off[m] = total
        total += capacity[m]
    cnt = 4
    est = cnt + n_machines
    miss = est + n
    heap = miss + n
    left = heap + n
    comp = left + n_jobs
    segs = comp + n_jobs
    sege = segs + total
    segf = sege + total
    length = segf + total
    lay = np.array(
        [n_machines, n, n_jobs, cnt, est, miss, heap, left, comp, segs, sege, segf, length],
        dtype=np.int64,
    )
    mode_ptr = np.zeros(n + 1, dtype=np.int64)
    durations: list[int] = []
    machines: list[int] = []
    for op, modes in enumerate(decoder.modes):
        for duration, machine in modes:
            durations.append(duration)
            machines.append(machine)
        mode_ptr[op + 1] = len(durations)
    succ_ptr = np.zeros(n + 1, dtype=np.int64)
    succ_idx: list[int] = []
    for op, nexts in enumerate(decoder.succ):
        succ_idx.extend(nexts)
        succ_ptr[op + 1] = len(succ_idx)
    families = max(decoder.family, default=0) + 1
    setup = np.zeros((n_machines, families, families), dtype=np.int64)
    has_setup = np.zeros(n_machines, dtype=np.int64)
    for m, table in enumerate(decoder.setup_table):
        if table is not None:
            has_setup[m] = 1
            setup[m] = np.array(table, dtype=np.int64)
    win_ptr = np.zeros(n_machines + 1, dtype=np.int64)
    win_start: list[int] = []
    win_end: list[int] = []
    for m in range(n_machines):
        win_start.extend(decoder.window_starts[m])
        win_end.extend(decoder.window_ends[m])
        win_ptr[m + 1] = len(win_start)
    s = decoder.initial
    state = np.zeros(length, dtype=np.int64)
    state[TARD], state[MAKESPAN], state[MAXRANK] = s.tardiness, s.makespan, s.max_rank
    state[NREADY] = len(s.ready)
    plan = np.zeros((n, 3), dtype=np.int64)
    for m in range(n_machines):
        k = len(s.starts[m])
        state[cnt + m] = k
        o = int(seg_off[m])
        state[segs + o : segs + o + k] = s.starts[m]
        state[sege + o : sege + o + k] = s.ends[m]
        state[segf + o : segf + o + k] = s.families[m]
    for op in range(n):
        state[est + op] = s.est[op]
        placed = s.machine[op] >= 0
        state[miss + op] = -1 if placed else s.missing[op]
        if placed:
            plan[op] = (s.machine[op], s.start[op], s.end[op])
    state[heap : heap + len(s.ready)] = s.ready  # ops; re-keyed when decoding starts
    state[left : left + n_jobs] = s.left
    state[comp : comp + n_jobs] = s.completion
    tail_max = max(decoder.tail, default=0)
    return Compiled(
        lay=lay,
        seg_off=seg_off,
        mode_ptr=mode_ptr,
        mode_dur=np.array(durations, dtype=np.int64),
        mode_mach=np.array(machines, dtype=np.int64),
        family=np.array(decoder.family, dtype=np.int64),
        job=np.array(decoder.job, dtype=np.int64),
        tail=np.array(decoder.tail, dtype=np.int64),
        succ_ptr=succ_ptr,
        succ_idx=np.array(succ_idx, dtype=np.int64),
        setup=setup,
        has_setup=has_setup,
        win_ptr=win_ptr,
        win_start=np.array(win_start, dtype=np.int64),
        win_end=np.array(win_end, dtype=np.int64),
        due=np.array([0 if d is None else d for d in decoder.due], dtype=np.int64),
        has_due=np.array([d is not None for d in decoder.due], dtype=np.int64),
        weight=np.array(decoder.weight, dtype=np.int64),
        initial=state,
        initial_plan=plan,
        key_base=(tail_max + 1) * max(1, n),
        tail_max=tail_max,
    )


# -- the compiled kernels --------------------------------------------------------------------


@njit(cache=True)
def _fit(st, lay, seg_off, m, est, duration, family, latest, setup, has_setup, wp, ws, we):  # type: ignore[no-untyped-def]
    """The earliest start >= est in a gap of machine m (see SequenceDecoder._fit);
    -1 when that start would be after `latest` (>= 0; -1 means no limit). Takes arrays,
    not `Compiled`: called per operation and mode, where reading a named tuple's field
    costs a reference count each time."""
    count = st[lay[L_CNT] + m]
    base = seg_off[m]
    s0 = lay[L_SEGS] + base
    e0 = lay[L_SEGE] + base
    f0 = lay[L_SEGF] + base
    lo, hi = 0, count
    while lo < hi:  # bisect_left(starts, est)
        mid = (lo + hi) // 2
        if st[s0 + mid] < est:
            lo = mid + 1
        else:
            hi = mid
    index = lo - 1 if lo > 0 else 0
    with_setup = has_setup[m] != 0
    while True:
        while 0 < index < count:
            ready = st[e0 + index - 1]
            if ready < est:
                ready = est
            if ready + duration <= st[s0 + index]:
                break
            index += 1
        t = est
        if index > 0:
            ready = st[e0 + index - 1]
            if with_setup:
                ready += setup[m, st[f0 + index - 1], family]
            if ready > t:
                t = ready
        t = after_windows(wp, ws, we, m, t, duration)
        if latest >= 0 and t > latest:
            return -1
        if index == count:
            return t
        after = t + duration
        if with_setup:
            after += setup[m, family, st[f0 + index]]
        if after <= st[s0 + index]:
            return t
        index += 1


@njit(cache=True)
def _place(st, plan, lay, seg_off, op, m, start, end, family, job, sp, si, due, has_due, weight):  # type: ignore[no-untyped-def]
    """Place op on machine m at [start, end): into the machine's sorted segment, the
    plan, the objective and its successors' earliest starts (arrays, as `_fit`)."""
    count = st[lay[L_CNT] + m]
    base = seg_off[m]
    s0 = lay[L_SEGS] + base
    e0 = lay[L_SEGE] + base
    f0 = lay[L_SEGF] + base
    lo, hi = 0, count
    while lo < hi:  # bisect_right(starts, start)
        mid = (lo + hi) // 2
        if st[s0 + mid] <= start:
            lo = mid + 1
        else:
            hi = mid
    pos = lo
    while pos > 0 and st[s0 + pos - 1] == start and st[e0 + pos - 1] > end:
        pos -= 1
    for k in range(count, pos, -1):
        st[s0 + k] = st[s0 + k - 1]
        st[e0 + k] = st[e0 + k - 1]
        st[f0 + k] = st[f0 + k - 1]
    st[s0 + pos] = start
    st[e0 + pos] = end
    st[f0 + pos] = family[op]
    st[lay[L_CNT] + m] = count + 1
    plan[op, 0] = m
    plan[op, 1] = start
    plan[op, 2] = end
    st[lay[L_MISS] + op] = -1
    if end > st[MAKESPAN]:
        st[MAKESPAN] = end
    j = job[op]
    left = lay[L_LEFT] + j
    comp = lay[L_COMP] + j
    st[left] -= 1
    if end > st[comp]:
        st[comp] = end
    if st[left] == 0 and has_due[j] != 0:
        late = st[comp] - due[j]
        if late > 0:
            st[TARD] += weight[j] * late
    miss, est = lay[L_MISS], lay[L_EST]
    for k in range(sp[op], sp[op + 1]):
        nxt = si[k]
        st[miss + nxt] -= 1
        if end > st[est + nxt]:
            st[est + nxt] = end


@njit(cache=True)
def _sift_down(st, h, size, pos):  # type: ignore[no-untyped-def]
    item = st[h + pos]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and st[h + child + 1] < st[h + child]:
            child += 1
        if st[h + child] >= item:
            break
        st[h + pos] = st[h + child]
        pos = child
    st[h + pos] = item


@njit(cache=True)
def _push(st, h, size, key):  # type: ignore[no-untyped-def]
    pos = size
    while pos > 0:
        parent = (pos - 1) // 2
        if st[h + parent] <= key:
            break
        st[h + pos] = st[h + parent]
        pos = parent
    st[h + pos] = key


@njit(cache=True)
def _copy_state(src, dst, c):  # type: ignore[no-untyped-def]
    """dst = src, copying only the used part of each machine segment."""
    lay, seg_off = c.lay, c.seg_off
    dst[: lay[L_SEGS]] = src[: lay[L_SEGS]]
    for m in range(lay[L_M]):
        count = src[lay[L_CNT] + m]
        for region in (L_SEGS, L_SEGE, L_SEGF):
            o = lay[region] + seg_off[m]
            dst[o : o + count] = src[o : o + count]


@njit(cache=True)
def _run(st, plan, rank, bound, tw, mw, every, pool, used, rows, nrows, c):  # type: ignore[no-untyped-def]
    """Decode from the state in `st` (its ready operations as ops or keys) to the end;
    checkpoints go to free pool rows appended to rows[nrows:]. Returns (value or -1 when
    the partial objective exceeded `bound`, new number of rows)."""
    # the fields as locals, read once: a field read inside the loops costs a reference count
    lay, seg_off, mp, md, mm = c.lay, c.seg_off, c.mode_ptr, c.mode_dur, c.mode_mach
    family, job, tail, sp, si = c.family, c.job, c.tail, c.succ_ptr, c.succ_idx
    setup, has_setup, wp, ws, we = c.setup, c.has_setup, c.win_ptr, c.win_start, c.win_end
    due, has_due, weight, key_base, tail_max = c.due, c.has_due, c.weight, c.key_base, c.tail_max
    n = lay[L_N]
    h = lay[L_HEAP]
    size = st[NREADY]
    for k in range(size):
        op = st[h + k] % n
        st[h + k] = (rank[job[op]] * (tail_max + 1) + tail_max - tail[op]) * n + op
    for k in range(size // 2 - 1, -1, -1):
        _sift_down(st, h, size, k)
    mark = (st[MAXRANK] // every + 1) * every
    est0 = lay[L_EST]
    miss = lay[L_MISS]
    placed = 0
    while size > 0:
        top = st[h]
        r = top // key_base
        if r >= mark:
            if placed > 0 and nrows < rows.shape[0]:  # (the resumed state is one already)
                row = -1
                for k in range(used.shape[0]):
                    if used[k] == 0:
                        row = k
                        break
                if row >= 0:
                    st[NREADY] = size
                    used[row] = 1
                    _copy_state(st, pool[row], c)
                    rows[nrows] = row
                    nrows += 1
            mark = (r // every + 1) * every
        op = top % n
        size -= 1
        if size > 0:
            st[h] = st[h + size]
            _sift_down(st, h, size, 0)
        if r > st[MAXRANK]:
            st[MAXRANK] = r
        placed += 1
        # the mode that finishes first, then starts first, then the lowest machine
        best_end, best_start, best_m = 0, 0, -1
        est = st[est0 + op]
        for k in range(mp[op], mp[op + 1]):
            d = md[k]
            m = mm[k]
            if best_m >= 0 and est + d > best_end:
                break
            latest = best_end - d if best_m >= 0 else -1
            s = _fit(st, lay, seg_off, m, est, d, family[op], latest, setup, has_setup, wp, ws, we)
            if s < 0:
                continue
            e = s + d
            if (
                best_m < 0
                or e < best_end
                or (e == best_end and (s < best_start or (s == best_start and m < best_m)))
            ):
                best_end, best_start, best_m = e, s, m
        _place(
            st, plan, lay, seg_off, op, best_m, best_start, best_end, family, job, sp, si,
            due, has_due, weight,
        )  # fmt: skip
        if st[TARD] * tw + st[MAKESPAN] * mw > bound:
            st[NREADY] = size
            return -1, nrows
        for k in range(sp[op], sp[op + 1]):
            nxt = si[k]
            if st[miss + nxt] == 0:
                key = (rank[job[nxt]] * (tail_max + 1) + tail_max - tail[nxt]) * n + nxt
                _push(st, h, size, key)
                size += 1
    st[NREADY] = 0
    return st[TARD] * tw + st[MAKESPAN] * mw, nrows


@njit(cache=True)
def _usable(pool, rows, nrows, first):  # type: ignore[no-untyped-def]
    """How many of the checkpoints `rows[:nrows]` a candidate that differs from position
    `first` on may use: those taken before any job at `first` or later was placed."""
    k = 0
    while k < nrows and pool[rows[k], MAXRANK] < first:
        k += 1
    return k


@njit(cache=True)
def _seed(seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)


@njit(cache=True)
def _move(candidate, rank, st, c, tw, reach):  # type: ignore[no-untyped-def]
    """Change `candidate` (a copy of the current sequence, whose ranks are `rank` and final
    state `st`) into a neighbour, as sequence._move does: a late job forward (drawn by its
    weighted tardiness), two nearby jobs swapped, or a job back. Returns the first position
    that differs."""
    lay, due, has_due, weight = c.lay, c.due, c.has_due, c.weight
    n = candidate.shape[0]
    draw = np.random.random()
    total = 0
    if tw > 0 and draw < 0.7:
        comp = lay[L_COMP]
        for j in range(n):
            if has_due[j] != 0 and st[comp + j] > due[j]:
                total += weight[j] * (st[comp + j] - due[j])
    if draw < 0.7 and total > 0:
        pick = int(np.random.random() * total)
        chosen = n - 1
        running = 0
        comp = lay[L_COMP]
        for j in range(n):
            if has_due[j] != 0 and st[comp + j] > due[j]:
                running += weight[j] * (st[comp + j] - due[j])
                if running > pick:
                    chosen = j
                    break
        k = rank[chosen]
        if k > 0:
            target = k - np.random.randint(1, min(k, reach) + 1)
            moved = candidate[k]
            for p in range(k, target, -1):
                candidate[p] = candidate[p - 1]
            candidate[target] = moved
            return target
        draw = 0.8  # the first job cannot move forward: swap instead
    if draw < 0.9:
        k = np.random.randint(0, n - 1)
        other = min(n - 1, k + np.random.randint(1, min(10, reach) + 1))
        moved = candidate[k]
        candidate[k] = candidate[other]
        candidate[other] = moved
        return k
    k = np.random.randint(0, n - 1)
    target = min(n - 1, k + np.random.randint(1, reach + 1))
    moved = candidate[k]
    for p in range(k, target):
        candidate[p] = candidate[p + 1]
    candidate[target] = moved
    return k


@njit(cache=True)
def _descend(  # type: ignore[no-untyped-def]
    iterations, seq, rank, states, plans, rows, cand_rows, meta, pool, used, best_seq, recent,
    counters, reach, tw, mw, every, c,
):  # fmt: skip
    """`iterations` steps of late-acceptance hill climbing (see sequence.descend).
    meta = [checkpoint rows of the current sequence, its value, best value, iteration,
    which of the two state/plan buffers is current]; counters = [candidates, pruned,
    improvements]."""
    n_jobs = seq.shape[0]
    late_n = recent.shape[0]
    candidate = np.empty_like(seq)
    cand_rank = np.empty_like(rank)
    for _ in range(iterations):
        which = meta[4]
        cur = states[which]
        cand = states[1 - which]
        candidate[:] = seq
        first = _move(candidate, rank, cur, c, tw, reach)
        for p in range(n_jobs):
            cand_rank[candidate[p]] = p
        counters[0] += 1
        nrows = meta[0]
        k = _usable(pool, rows, nrows, first)
        if k > 0:
            _copy_state(pool[rows[k - 1]], cand, c)
        else:
            _copy_state(c.initial, cand, c)
        plans[1 - which][:, :] = plans[which]
        cand_rows[:k] = rows[:k]
        slot = meta[3] % late_n
        threshold = max(meta[1], recent[slot])
        value, new_rows = _run(
            cand, plans[1 - which], cand_rank, threshold, tw, mw, every, pool, used, cand_rows,
            k, c,
        )  # fmt: skip
        if value < 0:
            counters[1] += 1
            for r in range(k, new_rows):
                used[cand_rows[r]] = 0
        else:
            for r in range(k, nrows):
                used[rows[r]] = 0
            rows[:new_rows] = cand_rows[:new_rows]
            meta[0] = new_rows
            meta[1] = value
            meta[4] = 1 - which
            seq[:] = candidate
            rank[:] = cand_rank
            if value < meta[2]:
                meta[2] = value
                best_seq[:] = candidate
                counters[2] += 1
        recent[slot] = meta[1]
        meta[3] += 1


NO_BOUND = 2**62
CHUNK = 64  # candidates per call into the compiled loop (the clock is checked between calls)


class FastDecoder:
    """Compiled decoding and search for one `SequenceDecoder`'s problem and objective."""

    def __init__(self, decoder: DecoderSource) -> None:
        self.c = compile_problem(decoder)
        self.every = int(decoder.every)
        tw, mw = decoder.factors
        self.tw, self.mw = int(tw), int(mw)
        n_jobs = int(self.c.lay[L_J])
        per_decode = n_jobs // self.every + 2
        self.rows_cap = per_decode + 1
        self.pool = np.zeros((2 * per_decode + POOL_EXTRA, int(self.c.lay[L_LEN])), np.int64)
        self.used = np.zeros(self.pool.shape[0], dtype=np.int64)

    def decode(
        self, rank: list[int] | np.ndarray, bound: int | None = None
    ) -> tuple[int | None, np.ndarray, np.ndarray]:
        """(value, or None when pruned by `bound`; plan rows (machine, start, end) per
        operation; final state) of the sequence given as job -> position."""
        state = self.c.initial.copy()
        plan = self.c.initial_plan.copy()
        rows = np.zeros(self.rows_cap, dtype=np.int64)
        value, nrows = _run(
            state, plan, np.asarray(rank, dtype=np.int64),
            NO_BOUND if bound is None else bound, self.tw, self.mw, self.every, self.pool,
            self.used, rows, 0, self.c,
        )  # fmt: skip
        self.used[rows[:nrows]] = 0
        return (None if value < 0 else int(value)), plan, state

    def decode_after(
        self, rank: list[int], candidate: list[int], first: int
    ) -> tuple[int, np.ndarray, int]:
        """Decode `rank` with checkpoints, then `candidate` (the same ranks before
        position `first`) from the last usable checkpoint, as the search does: (value,
        plan rows, how many checkpoints it resumed after). For tests."""
        state = self.c.initial.copy()
        plan = self.c.initial_plan.copy()
        rows = np.zeros(self.rows_cap, dtype=np.int64)
        _, nrows = _run(
            state, plan, np.asarray(rank, dtype=np.int64), NO_BOUND, self.tw, self.mw,
            self.every, self.pool, self.used, rows, 0, self.c,
        )  # fmt: skip
        k = int(_usable(self.pool, rows, nrows, first))
        resumed = self.c.initial.copy() if k == 0 else self.pool[rows[k - 1]].copy()
        more = np.zeros(self.rows_cap, dtype=np.int64)
        more[:k] = rows[:k]
        value, total = _run(
            resumed, plan, np.asarray(candidate, dtype=np.int64), NO_BOUND, self.tw, self.mw,
            self.every, self.pool, self.used, more, k, self.c,
        )  # fmt: skip
        self.used[rows[:nrows]] = 0
        self.used[more[k:total]] = 0
        return int(value), plan, k

    def plan(self, rank: list[int] | np.ndarray) -> list[Assignment]:
        _, rows, _ = self.decode(rank)
        return [Assignment(op, int(m), int(s), int(e)) for op, (m, s, e) in enumerate(rows)]

    def descend(
        self,
        sequence: list[int],
        deadline: float,
        seed: int,
        late_acceptance: int,
        on_improvement: object = None,
    ) -> tuple[list[int], int, tuple[int, int, int]]:
        """Late-acceptance hill climbing from `sequence` until `deadline` (perf_counter);
        (best sequence, its value, (candidates, pruned, improvements)).
        `on_improvement(value)` is called after each chunk that improved the best."""
        n_jobs = len(sequence)
        seq = np.array(sequence, dtype=np.int64)
        rank = np.empty(n_jobs, dtype=np.int64)
        rank[seq] = np.arange(n_jobs)
        states = np.zeros((2, self.pool.shape[1]), dtype=np.int64)
        plans = np.zeros((2, *self.c.initial_plan.shape), dtype=np.int64)
        states[0] = self.c.initial
        plans[0] = self.c.initial_plan
        self.used[:] = 0
        rows = np.zeros(self.rows_cap, dtype=np.int64)
        cand_rows = np.zeros(self.rows_cap, dtype=np.int64)
        value, nrows = _run(
            states[0], plans[0], rank, NO_BOUND, self.tw, self.mw, self.every, self.pool,
            self.used, rows, 0, self.c,
        )  # fmt: skip
        meta = np.array([nrows, value, value, 0, 0], dtype=np.int64)
        best_seq = seq.copy()
        recent = np.full(late_acceptance, value, dtype=np.int64)
        counters = np.zeros(3, dtype=np.int64)
        reach = max(2, n_jobs // 16)
        _seed(seed & 0xFFFFFFFF)
        while True:  # at least one chunk
            before = int(meta[2])
            _descend(
                CHUNK, seq, rank, states, plans, rows, cand_rows, meta, self.pool, self.used,
                best_seq, recent, counters, reach, self.tw, self.mw, self.every, self.c,
            )  # fmt: skip
            if meta[2] < before and callable(on_improvement):
                on_improvement(int(meta[2]))
            if time.perf_counter() >= deadline:
                break
        return (
            [int(j) for j in best_seq],
            int(meta[2]),
            (int(counters[0]), int(counters[1]), int(counters[2])),
        )
