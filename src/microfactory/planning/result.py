"""What every solver returns: a status, the objective, the best bound, the time, the plan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from microfactory.planning.model import Assignment, Objective, Problem


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIMEOUT_NO_SOLUTION = "timeout_no_solution"


@dataclass(frozen=True)
class ScheduleResult:
    """`objective` and `bound` are in the units of the requested objective (for the
    lexicographic objective: weighted tardiness * (horizon + 1) + makespan, see `cpsat`);
    `makespan` and `weighted_tardiness` are always filled when there is a plan.
    `assignments` is sorted by operation index and covers every operation; `history` holds
    (seconds, objective) of each improvement found by the large-neighbourhood search.
    `worker_failures` counts the pools of search worker processes that broke (a worker
    crashed or could not start; each is logged, and the search went on in-process)."""

    status: Status
    objective: int | None
    bound: int | None
    seconds: float
    assignments: tuple[Assignment, ...] = ()
    reason: str = ""
    solver: str = ""
    makespan: int | None = None
    weighted_tardiness: int | None = None
    history: tuple[tuple[float, int], ...] = field(default=())
    worker_failures: int = 0

    @property
    def has_plan(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.FEASIBLE)


def makespan_of(assignments: Iterable[Assignment]) -> int:
    return max((a.end for a in assignments), default=0)


def weighted_tardiness_of(problem: Problem, assignments: Sequence[Assignment]) -> int:
    """Sum over jobs of weight * max(0, completion - due)."""
    completion = [0] * len(problem.jobs)
    for a in assignments:
        owner = problem.operations[a.op].job
        completion[owner] = max(completion[owner], a.end)
    total = 0
    for index, job in enumerate(problem.jobs):
        if job.due is not None:
            total += job.weight * max(0, completion[index] - job.due)
    return total


def objective_value(
    problem: Problem, assignments: Sequence[Assignment], objective: Objective, scale: int
) -> int:
    """The primary objective of a plan (without a stability term). `scale` is the factor
    of the lexicographic objective (must exceed any makespan considered)."""
    if objective is Objective.MAKESPAN:
        return makespan_of(assignments)
    tardiness = weighted_tardiness_of(problem, assignments)
    if objective is Objective.WEIGHTED_TARDINESS:
        return tardiness
    return tardiness * scale + makespan_of(assignments)
