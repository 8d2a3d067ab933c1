"""Parallel rounds (`rounds.parallel_rounds`) in real spawned processes: the best result
of a round is every worker's next start, and a crashed worker is logged, counted and
survived, from the single helper up to `solve`'s result."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from microfactory.planning.rounds import Rounds, WorkerFailures, parallel_rounds

ROUNDS = Rounds(round_seconds=0.5, stop_below=0.2, send_back=0.1)


def _halve(start: int, seconds: float, seed: int) -> tuple[int, int, tuple[int, ...]]:
    """A worker's round: half its start (both the value and what it found), one step."""
    return start // 2, start // 2, (1,)


def _die(start: int, seconds: float, seed: int) -> tuple[int, int, tuple[int, ...]]:
    """A worker that crashes its process (not an exception: the process is gone)."""
    os._exit(3)


def test_each_round_starts_from_the_best_result_of_the_one_before() -> None:
    failures = WorkerFailures()
    outcome = parallel_rounds(
        _halve, [1000, 800], 800, 800, time.perf_counter() + 10.0, 0, ROUNDS, "test", failures
    )
    # round 0 gives 500 and 400 (both better than 800); every later round halves the best
    assert outcome.value == outcome.best < 400
    assert [value for _, value in outcome.improvements[:3]] == [500, 400, 200]
    assert outcome.counts[0] >= 6  # two workers, at least three rounds
    assert not outcome.broken
    assert failures.count == 0


def test_a_crashed_worker_is_logged_counted_and_the_best_so_far_returned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = WorkerFailures()
    with caplog.at_level(logging.WARNING, logger="microfactory.planning"):
        outcome = parallel_rounds(
            _die, [7, 7], 7, 7, time.perf_counter() + 2.0, 0, ROUNDS, "test search", failures
        )
    assert outcome.broken
    assert (outcome.best, outcome.value) == (7, 7)
    assert failures.count == 1
    assert failures.reasons[0].startswith("test search: ")
    assert "test search: a worker process failed" in caplog.text


@pytest.mark.parametrize(
    "seconds",
    [
        0.0,  # no time per round
        -1.0,  # negative
    ],
)
def test_rounds_refuse_a_round_length_that_is_not_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="round_seconds must be positive"):
        Rounds(round_seconds=seconds, stop_below=0.2, send_back=0.1)


# Spawned workers import the caller's main module first (as `__mp_main__`): this one ends
# every worker process there, as a worker killed by the system would end.
DYING_WORKERS = textwrap.dedent(
    """
    import os

    if __name__ == "__mp_main__":
        os._exit(1)

    from microfactory.planning.checker import check_plan
    from microfactory.planning.generator import generate_factory
    from microfactory.planning.model import Objective
    from microfactory.planning.search_settings import SearchSettings
    from microfactory.planning.solver import solve
    from microfactory.planning.warmup import warm_all

    warm_all()  # as a service does at start: loading the kernels takes none of the time
    problem = generate_factory(seed=0, target_ops=120)
    settings = SearchSettings(
        monolithic_max_ops=0,
        sequence_parallel_min_seconds=0.1,
        reorder_parallel_min_seconds=0.1,
        sequence_round_seconds=0.5,
        reorder_round_seconds=0.5,
    )
    result = solve(problem, Objective.WEIGHTED_TARDINESS, 6.0, 2, settings=settings)
    print("RESULT", result.worker_failures, result.solver, check_plan(problem, result.assignments))
    """
)


def test_solve_reports_crashed_workers_in_its_result(tmp_path: Path) -> None:
    script = tmp_path / "dying_workers.py"
    script.write_text(DYING_WORKERS)
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT"))
    _, failures, solver, errors = line.split(" ", 3)
    assert int(failures) == 2  # the job-sequence and the machine-order search's pools
    assert solver == "sequence+reorder+lns"  # both went on in this process
    assert errors == "[]"  # and the plan is feasible
    assert "job-sequence search: a worker process failed" in run.stderr
    assert "machine-order search: a worker process failed" in run.stderr
