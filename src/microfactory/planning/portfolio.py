"""The multi-start search both job-shop tabu searches (`twt_search`, `makespan_search`)
run in threads: a queue of start orders, then restarts from an elite of the best plans.

From one plan a tabu search ends in the same basin whatever the seed, and which start
escapes it differs by instance (RESULTS.md, "Ninth session"). So the workers take runs of
a fixed number of steps from one shared queue: the given start plans, then (when the
search can draw them) a few random plans, then restarts from one of the `elite` best
plans found so far (the best one half of the time) with a new seed each.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

Orders = tuple[np.ndarray, np.ndarray]  # (mprev, mnext): machine predecessor / successor
# one run: (mprev, mnext, deadline, seed, target, steps) -> (best mprev, best mnext, value)
Run = Callable[[np.ndarray, np.ndarray, float, int, int, int], tuple[np.ndarray, np.ndarray, int]]


@dataclass(frozen=True, slots=True)
class Budget:
    """Steps of a run from a start plan and from an elite plan; elite size; random starts."""

    start_steps: int
    elite_steps: int
    elite: int = 4
    random_starts: int = 0


class ElitePortfolio:
    """The shared state of the multi-start search: the queue of start orders, the elite
    (value, insertion count, mprev, mnext; best first) and the runs' counter."""

    def __init__(
        self,
        run: Run,
        budget: Budget,
        target: int,
        seed: int,
        random_orders: Callable[[random.Random], Orders] | None = None,
    ) -> None:
        self.run = run
        self.budget = budget
        self.target = target
        self.seed = seed
        self.random_orders = random_orders
        self.queue: list[Orders] = []
        self.random_left = budget.random_starts if random_orders else 0
        self.elite: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self.runs = 0
        self.lock = threading.Lock()

    def add_start(self, mprev: np.ndarray, mnext: np.ndarray) -> None:
        """Queue a start plan unless the same orders are queued already."""
        if not any(np.array_equal(mnext, other) for _, other in self.queue):
            self.queue.append((mprev, mnext))

    def offer(self, mprev: np.ndarray, mnext: np.ndarray, value: int) -> None:
        with self.lock:
            for other in self.elite:
                if other[0] == value and np.array_equal(other[3], mnext):
                    return
            self.elite.append((value, self.runs, mprev, mnext))
            self.elite.sort(key=lambda e: (e[0], e[1]))
            del self.elite[self.budget.elite :]

    def best(self) -> Orders:
        _, _, mprev, mnext = self.elite[0]
        return mprev, mnext

    def _next(self, rng: random.Random) -> tuple[np.ndarray, np.ndarray, int, int] | None:
        with self.lock:
            if self.elite and self.elite[0][0] <= self.target:
                return None
            self.runs += 1
            if self.queue:
                mprev, mnext = self.queue.pop(0)
                return mprev, mnext, self.budget.start_steps, self.runs
            if self.random_left > 0 and self.random_orders is not None:
                self.random_left -= 1
                mprev, mnext = self.random_orders(rng)
                return mprev, mnext, self.budget.start_steps, self.runs
            pick = 0 if self.runs % 4 < 2 else rng.randrange(len(self.elite))
            _, _, mprev, mnext = self.elite[pick]
            return mprev, mnext, self.budget.elite_steps, self.runs

    def work(self, worker: int, deadline: float) -> None:
        """Take runs until `deadline` (perf_counter) or the target."""
        rng = random.Random(self.seed * 1009 + worker)
        while time.perf_counter() < deadline:
            start = self._next(rng)
            if start is None:
                return
            mprev, mnext, steps, run = start
            seed = self.seed + 7919 * worker + 104729 * run
            best_prev, best_next, value = self.run(mprev, mnext, deadline, seed, self.target, steps)
            self.offer(best_prev, best_next, value)

    def search(self, deadline: float, threads: int) -> Orders:
        """Run `threads` workers (here when one) until `deadline`; the best orders. The
        first queued start must have been offered (the elite is never empty)."""
        if threads <= 1:
            self.work(0, deadline)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for future in [pool.submit(self.work, k, deadline) for k in range(threads)]:
                    future.result()
        return self.best()

    def search_from(
        self,
        starts: Iterable[Orders],
        value_of: Callable[[np.ndarray, np.ndarray], int],
        deadline: float,
        threads: int,
    ) -> Orders | None:
        """Queue the start orders whose `value_of` is not negative (acyclic), seed the
        elite with the first one, and `search`; the best orders, or None when no start
        was acyclic."""
        for mprev, mnext in starts:
            if value_of(mprev, mnext) >= 0:
                self.add_start(mprev, mnext)
        if not self.queue:
            return None
        first = self.queue[0]
        self.offer(first[0], first[1], value_of(*first))
        return self.search(deadline, threads)
