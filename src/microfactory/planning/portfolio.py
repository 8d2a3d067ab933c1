"""The multi-start search both job-shop tabu searches (`twt_search`, `makespan_search`)
run in threads: a queue of start orders, then restarts from an elite of the best plans.

From one plan a tabu search ends in the same basin whatever the seed, and which start
escapes it differs by instance (RESULTS.md, "Ninth session"). So the workers take runs of
a fixed number of steps from one shared queue: the given start plans, then (when the
search can draw them) a few random plans, then (for `Budget.fresh_share` of the time)
the start plans again in turn with a new seed each, then restarts from one of the
`elite` best plans found so far (the best one half of the time) with a new seed each.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# a plan as the searches hold it: (mprev, mnext), machine predecessor / successor per
# operation, and for a flexible shop also each operation's machine and duration
State = tuple[np.ndarray, ...]
# one run: (state, deadline, seed, target, steps) -> (best state, its value)
Run = Callable[[State, float, int, int, int], tuple[State, int]]


@dataclass(frozen=True, slots=True)
class Budget:
    """Steps of a run from a start plan and from an elite plan; elite size; random starts;
    the share of the time in which runs start afresh from the start plans (in turn, each
    with a new seed) before the restarts from the elite."""

    start_steps: int
    elite_steps: int
    elite: int = 4
    random_starts: int = 0
    fresh_share: float = 0.0


class ElitePortfolio:
    """The shared state of the multi-start search: the queue of start states (and all of
    them, for the fresh runs), the elite (value, insertion count, state; best first) and
    the runs' counters."""

    def __init__(
        self,
        run: Run,
        budget: Budget,
        target: int,
        seed: int,
        random_orders: Callable[[random.Random], State] | None = None,
    ) -> None:
        self.run = run
        self.budget = budget
        self.target = target
        self.seed = seed
        self.random_orders = random_orders
        self.queue: list[State] = []
        self.starts: list[State] = []
        self.fresh_until = 0.0
        self.fresh = 0  # runs afresh from the start plans so far
        self.random_left = budget.random_starts if random_orders else 0
        self.elite: list[tuple[int, int, State]] = []
        self.runs = 0
        self.lock = threading.Lock()

    def add_start(self, state: State) -> None:
        """Queue a start plan unless the same state is queued already."""
        if not any(_same(state, other) for other in self.queue):
            self.queue.append(state)
            self.starts.append(state)

    def offer(self, state: State, value: int) -> None:
        with self.lock:
            for other in self.elite:
                if other[0] == value and _same(other[2], state):
                    return
            self.elite.append((value, self.runs, state))
            self.elite.sort(key=lambda e: (e[0], e[1]))
            del self.elite[self.budget.elite :]

    def best(self) -> State:
        return self.elite[0][2]

    def _next(self, rng: random.Random) -> tuple[State, int, int] | None:
        with self.lock:
            if self.elite and self.elite[0][0] <= self.target:
                return None
            self.runs += 1
            if self.queue:
                return self.queue.pop(0), self.budget.start_steps, self.runs
            if self.random_left > 0 and self.random_orders is not None:
                self.random_left -= 1
                return self.random_orders(rng), self.budget.start_steps, self.runs
            if self.starts and time.perf_counter() < self.fresh_until:
                self.fresh += 1
                start = self.starts[(self.fresh - 1) % len(self.starts)]
                return start, self.budget.start_steps, self.runs
            pick = 0 if self.runs % 4 < 2 else rng.randrange(len(self.elite))
            return self.elite[pick][2], self.budget.elite_steps, self.runs

    def work(self, worker: int, deadline: float) -> None:
        """Take runs until `deadline` (perf_counter) or the target."""
        rng = random.Random(self.seed * 1009 + worker)
        while time.perf_counter() < deadline:
            start = self._next(rng)
            if start is None:
                return
            state, steps, run = start
            seed = self.seed + 7919 * worker + 104729 * run
            best, value = self.run(state, deadline, seed, self.target, steps)
            self.offer(best, value)

    def search(self, deadline: float, threads: int) -> State:
        """Run `threads` workers (here when one) until `deadline`; the best state. The
        first queued start must have been offered (the elite is never empty)."""
        now = time.perf_counter()
        self.fresh_until = now + self.budget.fresh_share * max(0.0, deadline - now)
        if threads <= 1:
            self.work(0, deadline)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for future in [pool.submit(self.work, k, deadline) for k in range(threads)]:
                    future.result()
        return self.best()

    def search_from(
        self,
        starts: Iterable[State],
        value_of: Callable[[State], int],
        deadline: float,
        threads: int,
    ) -> State | None:
        """Queue the start states whose `value_of` is not negative (acyclic), seed the
        elite with the first one, and `search`; the best state, or None when no start
        was acyclic."""
        for state in starts:
            if value_of(state) >= 0:
                self.add_start(state)
        if not self.queue:
            return None
        first = self.queue[0]
        self.offer(first, value_of(first))
        return self.search(deadline, threads)


def _same(one: State, other: State) -> bool:
    """Whether two states are the same plan (mnext decides the machine orders, the rest
    the machines)."""
    return all(np.array_equal(a, b) for a, b in zip(one[1:], other[1:], strict=True))
