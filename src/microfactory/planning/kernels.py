"""The numba kernels' warm-up, in one place.

Each module with compiled kernels (`sequence` with `fastseq`, `reorder`, `tabu`) exercises
them once on a tiny problem so that numba compiles them (the first time on a machine:
about 10 s each, then cached next to the module) or loads them from the cache (well under
a second). A search calls its module's `warm()` before its clock starts, so that neither
its own time nor its worker processes (which load the cache) are charged with compiling.
`warm_once` remembers, per process, which groups are warm (one registry instead of a
module global per module); `warm_all()` in `planning.warmup` warms every group.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

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


_broken: dict[str, int] = {}
_log = logging.getLogger("microfactory.planning")


def note_broken_pool(where: str, error: BaseException) -> None:
    """A pool of search worker processes broke (a worker crashed or could not start, e.g.
    a caller's script without the `if __name__ == "__main__":` guard that spawned
    processes need). The search goes on in this process; this logs a warning and counts
    it, so that a crashed worker is never silent."""
    _broken[where] = _broken.get(where, 0) + 1
    _log.warning(
        "%s: a worker process failed (%s); searching on in this process (%d so far)",
        where,
        error or type(error).__name__,
        _broken[where],
    )


def broken_pools() -> dict[str, int]:
    """How many times each search's worker pool broke in this process."""
    return dict(_broken)
