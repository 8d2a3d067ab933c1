"""What the numba kernels share: the warm-up registry, compressed rows, the calendar step,
and the forward pass over a disjunctive graph whose machine orders are linked lists (`heads`
over a `JobGraph`) with its backward twin `tails`, which `tabu`, `twt_search` and
`makespan_search` use.

Warm-up: each module with compiled kernels (`sequence` with `fastseq`, `reorder`, `tabu`,
`twt_search`, `makespan_search`)
exercises them once on a tiny problem so that numba compiles them (the first time on a
machine: about 10 s each, then cached next to the module) or loads them from the cache
(well under a second). A search calls its module's `warm()` before its clock starts, so
that neither its own time nor its worker processes (which load the cache) are charged
with compiling. `warm_once` remembers, per process, which groups are warm (one registry
instead of a module global per module); `warm_all()` in `planning.warmup` warms every group.

numba's cache is keyed on each compiled function's own source file: after editing a
kernel that kernels in other modules call (`after_windows` here, which `fastseq` and
`reorder.timing` call; `heads`, which `tabu` calls), delete the `__pycache__` folders of
`planning` and `planning/reorder` (or touch the callers' files),
else a caller may load a cached copy compiled with the old callee. An installed package
gets new files, so this concerns a working copy only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from numba import njit

from microfactory.planning.model import Assignment, Problem

CYCLE = -1  # what `heads` returns when the machine orders and precedences are cyclic

_seconds: dict[str, float] = {}


def warm_once(group: str, exercise: Callable[[], object]) -> float:
    """Run `exercise` the first time `group` is asked for in this process; the seconds
    it took (0.0 when the group was already warm)."""
    if group in _seconds:
        return 0.0
    began = time.perf_counter()
    exercise()
    _seconds[group] = time.perf_counter() - began
    return _seconds[group]


def warm_groups() -> dict[str, float]:
    """The groups warmed in this process and the seconds each took."""
    return dict(_seconds)


def csr(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Compressed rows of int lists: (pointers, flat values); row k is
    values[pointers[k]:pointers[k + 1]]."""
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    flat: list[int] = []
    for k, items in enumerate(lists):
        flat.extend(items)
        ptr[k + 1] = len(flat)
    return ptr, np.array(flat, dtype=np.int64)


@njit(cache=True)
def after_windows(win_ptr, win_start, win_end, m, t, duration):  # type: ignore[no-untyped-def]
    """The earliest start >= t of an operation lasting `duration` on machine m that
    overlaps none of the machine's calendar windows (sorted and disjoint, in compressed
    rows: win_start / win_end[win_ptr[m]:win_ptr[m + 1]]); t itself for a zero duration.
    The reference in Python: `sequence.SequenceDecoder._fit`."""
    lo, hi = win_ptr[m], win_ptr[m + 1]
    if duration <= 0 or hi == lo:
        return t
    last = hi
    while lo < hi:  # bisect_right(window ends, t)
        mid = (lo + hi) // 2
        if win_end[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    k = lo
    while k < last and win_start[k] < t + duration:
        t = win_end[k]
        k += 1
    return t


class JobGraph(NamedTuple):
    """The precedences between operations (compressed rows, see `csr`) and their releases:
    the part of a disjunctive graph that machine orders do not change."""

    pred_ptr: np.ndarray  # operation k's job predecessors: pred_idx[pred_ptr[k]:pred_ptr[k + 1]]
    pred_idx: np.ndarray
    succ_ptr: np.ndarray  # its job successors, the same way
    succ_idx: np.ndarray
    release: np.ndarray  # per operation: earliest start


def job_graph(problem: Problem) -> JobGraph:
    """The `JobGraph` of a problem."""
    pred_ptr, pred_idx = csr(problem.predecessors())
    succ_ptr, succ_idx = csr(problem.successors())
    release = [problem.release_of(op) for op in range(problem.n_ops)]
    return JobGraph(pred_ptr, pred_idx, succ_ptr, succ_idx, np.array(release, dtype=np.int64))


@njit(cache=True, nogil=True)  # nogil: twt_search runs its kernels in threads
def heads(  # type: ignore[no-untyped-def]
    graph: JobGraph,
    dur: np.ndarray,
    mprev: np.ndarray,
    mnext: np.ndarray,
    head: np.ndarray,
    indeg: np.ndarray,
    queue: np.ndarray,
):
    """Forward pass over the job precedences and the machine orders (doubly linked:
    mprev / mnext per operation, -1 at the ends), in topological order: fills head
    (earliest starts) and queue (the order); returns the makespan, or CYCLE when the
    orders close a cycle. indeg is scratch."""
    n = dur.shape[0]
    # local names for the graph's fields (fastseq found reads inside hot loops slower;
    # reorder's kernels, whose helpers LLVM inlines, did not: see RESULTS.md)
    pred_ptr, pred_idx, release = graph.pred_ptr, graph.pred_idx, graph.release
    succ_ptr, succ_idx = graph.succ_ptr, graph.succ_idx
    tail_q = 0
    for op in range(n):
        d = pred_ptr[op + 1] - pred_ptr[op]
        if mprev[op] >= 0:
            d += 1
        indeg[op] = d
        if d == 0:
            queue[tail_q] = op
            tail_q += 1
    h = 0
    makespan = 0
    while h < tail_q:
        op = queue[h]
        h += 1
        # the earliest start: after its release, its job predecessors and its machine
        # predecessor (written out: a call here, even inlined, cost ~10 % of tabu search)
        t = release[op]
        for k in range(pred_ptr[op], pred_ptr[op + 1]):
            e = head[pred_idx[k]] + dur[pred_idx[k]]
            if e > t:
                t = e
        before = mprev[op]
        if before >= 0:
            e = head[before] + dur[before]
            if e > t:
                t = e
        head[op] = t
        if t + dur[op] > makespan:
            makespan = t + dur[op]
        for k in range(succ_ptr[op], succ_ptr[op + 1]):
            nxt = succ_idx[k]
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
        nxt = mnext[op]
        if nxt >= 0:
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue[tail_q] = nxt
                tail_q += 1
    if tail_q < n:
        return CYCLE
    return makespan


@njit(cache=True, nogil=True)
def tails(graph, dur, mnext, queue, tail):  # type: ignore[no-untyped-def]
    """Backward pass over the topological order `queue` left by `heads`: fills tail (the
    longest path from each operation's end to the end of the plan, its own duration not
    included)."""
    n = dur.shape[0]
    succ_ptr, succ_idx = graph.succ_ptr, graph.succ_idx
    for i in range(n - 1, -1, -1):
        op = queue[i]
        t = 0
        for k in range(succ_ptr[op], succ_ptr[op + 1]):
            s = succ_idx[k]
            e = dur[s] + tail[s]
            if e > t:
                t = e
        s = mnext[op]
        if s >= 0:
            e = dur[s] + tail[s]
            if e > t:
                t = e
        tail[op] = t


@njit(cache=True, nogil=True)
def rand(meta, bound):  # type: ignore[no-untyped-def]
    """xorshift64 in meta[7]; an integer in [0, bound)."""
    x = meta[7]
    x ^= (x << 13) & 0x7FFFFFFFFFFFFFFF
    x ^= x >> 7
    x ^= (x << 17) & 0x7FFFFFFFFFFFFFFF
    x &= 0x7FFFFFFFFFFFFFFF
    if x == 0:
        x = 88172645463325252
    meta[7] = x
    return x % bound


@njit(cache=True, nogil=True)
def move(mprev, mnext, x, y, after):  # type: ignore[no-untyped-def]
    """Take x out of its machine order and put it right after (or before) y (on y's
    machine); x's old predecessor and successor (to undo it)."""
    p, q = mprev[x], mnext[x]
    if p >= 0:
        mnext[p] = q
    if q >= 0:
        mprev[q] = p
    if after:
        a, b = y, mnext[y]
    else:
        a, b = mprev[y], y
    mprev[x] = a
    mnext[x] = b
    if a >= 0:
        mnext[a] = x
    if b >= 0:
        mprev[b] = x
    return p, q


@njit(cache=True, nogil=True)
def detach(mprev, mnext, x):  # type: ignore[no-untyped-def]
    """Take x out of its machine order, alone (a machine of its own: the flexible search
    moves x to a machine that runs nothing else); its old predecessor and successor."""
    p, q = mprev[x], mnext[x]
    if p >= 0:
        mnext[p] = q
    if q >= 0:
        mprev[q] = p
    mprev[x] = -1
    mnext[x] = -1
    return p, q


@njit(cache=True, nogil=True)
def undo(mprev, mnext, x, p, q):  # type: ignore[no-untyped-def]
    """Put x back between p and q (alone when both are -1)."""
    if p >= 0:
        move(mprev, mnext, x, p, True)
    elif q >= 0:
        move(mprev, mnext, x, q, False)
    else:
        detach(mprev, mnext, x)


def machine_orders(
    plan: Sequence[Assignment], machine_of: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Machine predecessor / successor per operation (-1 at the ends), in the plan's start
    order; machine_of[op] is the operation's machine."""
    n = len(machine_of)
    mprev = np.full(n, -1, dtype=np.int64)
    mnext = np.full(n, -1, dtype=np.int64)
    last: dict[int, int] = {}
    for a in sorted(plan, key=lambda a: (a.start, a.end, a.op)):
        before = last.get(machine_of[a.op], -1)
        mprev[a.op] = before
        if before >= 0:
            mnext[before] = a.op
        last[machine_of[a.op]] = a.op
    return mprev, mnext
