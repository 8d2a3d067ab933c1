"""The multi-start portfolio both job-shop tabu searches run: the start plans first, then
(for `Budget.fresh_share` of the time) the start plans again with new seeds, then
restarts from the elite. A run here is a function that records what it was given."""

from __future__ import annotations

import time

import numpy as np

from microfactory.planning.portfolio import Budget, ElitePortfolio, State


def _recording_portfolio(fresh_share: float, runs: int) -> tuple[ElitePortfolio, list]:
    """A portfolio whose run records (state id, steps, seed) and, after `runs` runs,
    reaches the target so the search ends without looking at the clock."""
    seen: list[tuple[int, int, int]] = []

    def run(state: State, until: float, seed: int, goal: int, steps: int) -> tuple[State, int]:
        seen.append((int(state[0][0]), steps, seed))
        # each run finds a new plan one better than its start (value = 100 - runs so far)
        found = (np.array([100 + len(seen)]), np.array([len(seen)]))
        return found, goal if len(seen) >= runs else 100 - len(seen)

    portfolio = ElitePortfolio(run, Budget(10, 20, elite=2, fresh_share=fresh_share), 0, 5)
    return portfolio, seen


def _starts() -> list[State]:
    return [(np.array([1]), np.array([-1])), (np.array([2]), np.array([-2]))]


def test_fresh_runs_repeat_the_start_plans_in_turn_with_new_seeds() -> None:
    portfolio, seen = _recording_portfolio(1.0, runs=6)
    portfolio.search_from(_starts(), lambda state: 100, time.perf_counter() + 60, 1)
    assert [s[0] for s in seen] == [1, 2, 1, 2, 1, 2]  # the two queued, then in turn
    assert all(s[1] == 10 for s in seen)  # every run the start plans' steps
    assert len({s[2] for s in seen}) == 6  # each with its own seed


def test_without_fresh_runs_the_elite_follows_the_start_plans() -> None:
    portfolio, seen = _recording_portfolio(0.0, runs=5)
    portfolio.search_from(_starts(), lambda state: 100, time.perf_counter() + 60, 1)
    assert [s[0] for s in seen[:2]] == [1, 2]
    assert [s[1] for s in seen] == [10, 10, 20, 20, 20]
    assert all(s[0] > 100 for s in seen[2:])  # found plans, not the starts


def test_the_search_ends_at_the_deadline_with_the_best_plan() -> None:
    portfolio, seen = _recording_portfolio(1.0, runs=10**9)
    best = portfolio.search_from(_starts(), lambda state: 100, time.perf_counter() + 0.2, 2)
    assert best is not None
    assert portfolio.elite[0][0] == min(100 - k for k in range(1, len(seen) + 1))
