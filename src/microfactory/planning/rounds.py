"""Parallel rounds: how the job-sequence and machine-order searches use several processes,
and what happens when one of those processes crashes.

Each round, `workers` spawned processes (safe in threaded servers) search for a few
seconds, each with its own seed; the best result of the round is the start of every
worker in the next one (in the first round each worker may have its own start). A result
not worse than the best so far replaces it, so that the rounds walk plateaus.

A pool breaks when a worker process crashes or cannot start (e.g. a caller's script
without the `if __name__ == "__main__":` guard that spawned processes need). That is never
silent: `WorkerFailures.note` logs a warning naming the search and the error and counts
it, `solve` reports the count in `ScheduleResult.worker_failures`, and the rounds return
the best found so far, from which the caller searches on in its own process.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_log = logging.getLogger("microfactory.planning")

S = TypeVar("S")
SEED_STEP = 7919  # seeds of worker w in round r: seed + SEED_STEP * (r * workers + w)


@dataclass
class WorkerFailures:
    """The worker pools that broke during one solve, each logged and counted."""

    count: int = 0
    reasons: list[str] = field(default_factory=list)

    def note(self, where: str, error: BaseException) -> None:
        """Log a warning that `where`'s pool broke with `error`, and count it."""
        self.count += 1
        reason = str(error) or type(error).__name__
        self.reasons.append(f"{where}: {reason}")
        _log.warning(
            "%s: a worker process failed (%s); searching on in this process (%d so far)",
            where,
            reason,
            self.count,
        )


@dataclass(frozen=True)
class Rounds:
    """How a search cuts its time into rounds: a round lasts `round_seconds` (the last
    one takes what is left when that is under two rounds), or `share` of the time left
    when that is longer; no round starts with `stop_below` seconds or less left; a
    worker stops `send_back` seconds before its round ends to send its result back."""

    round_seconds: float
    stop_below: float
    send_back: float
    share: float = 0.0

    def __post_init__(self) -> None:
        if self.round_seconds <= 0:
            raise ValueError(f"round_seconds must be positive, got {self.round_seconds}")

    def seconds(self, left: float) -> float:
        """The length of the next round with `left` seconds left."""
        if left < 2 * self.round_seconds:
            return left
        return max(self.round_seconds, left * self.share)


@dataclass
class RoundsResult(Generic[S]):
    """The best start found and its value, the workers' step counters summed, the
    (perf_counter time, value) of each result that beat the best so far, and whether the
    pool broke (then the rounds stopped early)."""

    best: S
    value: int
    counts: list[int]
    improvements: list[tuple[float, int]]
    broken: bool = False


def parallel_rounds(
    task: Callable[[S, float, int], tuple[int, S, tuple[int, ...]]],
    first: Sequence[S],
    best: S,
    best_value: int,
    deadline: float,
    seed: int,
    rounds: Rounds,
    where: str,
    failures: WorkerFailures,
) -> RoundsResult[S]:
    """Rounds of `len(first)` worker processes until `deadline` (perf_counter). In round 0
    worker w searches from `first[w]`, later all from the best so far (at first `best`,
    whose value is `best_value`). `task(start, seconds, seed)` runs in a worker and returns
    (value, what it found, step counters); a negative value is no result. A broken pool
    is noted in `failures` as `where`, and the best so far is returned."""
    workers = len(first)
    counts: list[int] = []
    improvements: list[tuple[float, int]] = []
    context = multiprocessing.get_context("spawn")
    round_no = 0
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            while (left := deadline - time.perf_counter()) > rounds.stop_below:
                seconds = rounds.seconds(left) - rounds.send_back
                futures = [
                    pool.submit(
                        task,
                        first[w] if round_no == 0 else best,
                        seconds,
                        seed + SEED_STEP * (round_no * workers + w),
                    )
                    for w in range(workers)
                ]
                round_no += 1
                for future in futures:
                    value, found, steps = future.result()
                    counts = [a + b for a, b in zip(counts or [0] * len(steps), steps, strict=True)]
                    if 0 <= value < best_value:
                        improvements.append((time.perf_counter(), value))
                    if 0 <= value <= best_value:
                        best, best_value = found, value
    except BrokenProcessPool as error:
        failures.note(where, error)
        return RoundsResult(best, best_value, counts, improvements, broken=True)
    return RoundsResult(best, best_value, counts, improvements)
