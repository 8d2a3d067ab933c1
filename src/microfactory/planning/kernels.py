"""What the numba kernels share: the warm-up registry, compressed rows and the calendar step.

Warm-up: each module with compiled kernels (`sequence` with `fastseq`, `reorder`, `tabu`)
exercises them once on a tiny problem so that numba compiles them (the first time on a
machine: about 10 s each, then cached next to the module) or loads them from the cache
(well under a second). A search calls its module's `warm()` before its clock starts, so
that neither its own time nor its worker processes (which load the cache) are charged
with compiling. `warm_once` remembers, per process, which groups are warm (one registry
instead of a module global per module); `warm_all()` in `planning.warmup` warms every group.

numba's cache is keyed on each compiled function's own source file: after editing a
kernel that kernels in other modules call (`after_windows` here, which `fastseq`
calls), delete the `__pycache__` folders of `planning` (or touch the callers' files),
else a caller may load a cached copy compiled with the old callee. An installed package
gets new files, so this concerns a working copy only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from numba import njit

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
