"""The pure scheduling problem: a flexible job shop with due dates, setups, calendars and
frozen operations, in integer time units counted from a plan origin (0).

Operations are indexed 0..n-1 and machines 0..m-1; names are kept for the caller (the
planning service maps them back to work-order operations). Every object checks its own
invariants on construction and raises `ValueError` naming the broken rule; the cross-object
rules live in `Problem.__post_init__`.

Semantics (shared by the solvers and the independent checker):
* an operation runs on exactly one of its modes (machine, duration), without preemption;
* precedence (a, b): b starts no earlier than a ends;
* an operation starts no earlier than its own release and its job's release;
* two operations never overlap on a machine; when b directly follows a on machine m,
  b starts no earlier than end(a) + setup_m(family(a), family(b));
* an operation never overlaps an unavailability window of its machine (shifts, breaks,
  maintenance, breakdowns); a setup may take place during a window;
* a frozen operation keeps its machine and start (it is running or done).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Mode:
    """One way to run an operation: on `machine` for `duration` time units."""

    machine: int
    duration: int

    def __post_init__(self) -> None:
        if self.machine < 0:
            raise ValueError("mode machine index must be >= 0")
        if self.duration < 0:
            raise ValueError("mode duration must be >= 0")


@dataclass(frozen=True, slots=True)
class Operation:
    """One step of a job. `family` groups operations that share a setup state (colour,
    material, fixture); `release` is the earliest start of this operation; `deadline`, if
    set, the latest end (a hard limit, used by the LNS sub-problems)."""

    job: int
    modes: tuple[Mode, ...]
    name: str = ""
    family: str = ""
    release: int = 0
    deadline: int | None = None

    def __post_init__(self) -> None:
        if self.job < 0:
            raise ValueError("operation job index must be >= 0")
        if self.release < 0:
            raise ValueError("operation release must be >= 0")
        if self.deadline is not None and self.deadline < self.release + self.min_duration:
            raise ValueError("operation deadline must leave room after its release")
        machines = [mode.machine for mode in self.modes]
        if len(set(machines)) != len(machines):
            raise ValueError("an operation has at most one mode per machine")

    def duration_on(self, machine: int) -> int | None:
        for mode in self.modes:
            if mode.machine == machine:
                return mode.duration
        return None

    @property
    def min_duration(self) -> int:
        return min((mode.duration for mode in self.modes), default=0)


@dataclass(frozen=True, slots=True)
class Job:
    """A job (work order): release, optional due date and a tardiness weight."""

    name: str = ""
    release: int = 0
    due: int | None = None
    weight: int = 1

    def __post_init__(self) -> None:
        if self.release < 0:
            raise ValueError("job release must be >= 0")
        if self.weight < 0:
            raise ValueError("job weight must be >= 0")
        if self.due is not None and self.due < 0:
            raise ValueError("job due date must be >= 0")


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open interval [start, end) during which a machine cannot run operations."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError("window start must be >= 0")
        if self.end <= self.start:
            raise ValueError("window end must be after window start")


def merge_windows(windows: Sequence[Window]) -> tuple[Window, ...]:
    """The union of `windows` as disjoint windows sorted by start (touching ones joined):
    a machine's own windows plus the ones a re-plan or a sub-problem adds."""
    merged: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if merged and w.start <= merged[-1].end:
            merged[-1] = Window(merged[-1].start, max(merged[-1].end, w.end))
        else:
            merged.append(w)
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class Machine:
    """A resource. `setups[(from_family, to_family)]` is the changeover time when an
    operation of `to_family` directly follows one of `from_family` (missing pairs: 0)."""

    name: str = ""
    unavailable: tuple[Window, ...] = ()
    setups: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ordered = sorted(self.unavailable, key=lambda w: w.start)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError("machine unavailability windows must not overlap")
        object.__setattr__(self, "unavailable", tuple(ordered))
        for (src, dst), value in self.setups.items():
            if value < 0:
                raise ValueError(f"setup time {src!r}->{dst!r} must be >= 0")

    def setup(self, src: str, dst: str) -> int:
        return self.setups.get((src, dst), 0)

    @property
    def has_setups(self) -> bool:
        return any(value > 0 for value in self.setups.values())


@dataclass(frozen=True, slots=True)
class FrozenOp:
    """An operation that keeps its machine and start (running or done)."""

    op: int
    machine: int
    start: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where and when one operation runs."""

    op: int
    machine: int
    start: int
    end: int


class Objective(StrEnum):
    MAKESPAN = "makespan"
    WEIGHTED_TARDINESS = "weighted_tardiness"
    TARDINESS_THEN_MAKESPAN = "tardiness_then_makespan"


@dataclass(frozen=True)
class Problem:
    """The aggregate. `precedences` are (before, after) operation index pairs and must form
    a DAG. Operations without modes are allowed here (the solvers report them as
    infeasible with a reason) so that an impossible shop is a result, not a crash."""

    machines: tuple[Machine, ...]
    jobs: tuple[Job, ...]
    operations: tuple[Operation, ...]
    precedences: tuple[tuple[int, int], ...] = ()
    frozen: tuple[FrozenOp, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        n_ops, n_machines, n_jobs = len(self.operations), len(self.machines), len(self.jobs)
        for index, op in enumerate(self.operations):
            if op.job >= n_jobs:
                raise ValueError(f"operation {index} refers to unknown job {op.job}")
            for mode in op.modes:
                if mode.machine >= n_machines:
                    raise ValueError(f"operation {index} refers to unknown machine {mode.machine}")
        for before, after in self.precedences:
            if not (0 <= before < n_ops and 0 <= after < n_ops):
                raise ValueError(f"precedence ({before}, {after}) refers to unknown operation")
            if before == after:
                raise ValueError(f"precedence ({before}, {after}) links an operation to itself")
        if topological_order(n_ops, self.precedences) is None:
            raise ValueError("precedences must form a DAG (a cycle was found)")
        self._validate_frozen()

    def _validate_frozen(self) -> None:
        seen: set[int] = set()
        for item in self.frozen:
            if not 0 <= item.op < len(self.operations):
                raise ValueError(f"frozen operation {item.op} is unknown")
            if item.op in seen:
                raise ValueError(f"operation {item.op} is frozen twice")
            seen.add(item.op)
            duration = self.operations[item.op].duration_on(item.machine)
            if duration is None:
                raise ValueError(f"frozen operation {item.op} is on a machine it has no mode for")
            if item.start < 0:
                raise ValueError(f"frozen operation {item.op} must start at >= 0")
            end = item.start + duration
            for window in self.machines[item.machine].unavailable:
                if item.start < window.end and window.start < end:
                    raise ValueError(
                        f"frozen operation {item.op} overlaps an unavailability window"
                    )

    # -- derived views -------------------------------------------------------------------

    @property
    def n_ops(self) -> int:
        return len(self.operations)

    def release_of(self, op: int) -> int:
        operation = self.operations[op]
        return max(operation.release, self.jobs[operation.job].release)

    def job_ops(self) -> list[list[int]]:
        """Operation indices per job, in index order."""
        result: list[list[int]] = [[] for _ in self.jobs]
        for index, op in enumerate(self.operations):
            result[op.job].append(index)
        return result

    def predecessors(self) -> list[list[int]]:
        result: list[list[int]] = [[] for _ in self.operations]
        for before, after in self.precedences:
            result[after].append(before)
        return result

    def successors(self) -> list[list[int]]:
        result: list[list[int]] = [[] for _ in self.operations]
        for before, after in self.precedences:
            result[before].append(after)
        return result

    def frozen_by_op(self) -> dict[int, FrozenOp]:
        return {item.op: item for item in self.frozen}

    def ops_without_modes(self) -> list[int]:
        return [index for index, op in enumerate(self.operations) if not op.modes]

    @property
    def has_setups(self) -> bool:
        return any(machine.has_setups for machine in self.machines)

    @property
    def has_due_dates(self) -> bool:
        return any(job.due is not None for job in self.jobs)


def topological_order(n: int, edges: Sequence[tuple[int, int]]) -> list[int] | None:
    """Kahn's algorithm; None when the graph has a cycle."""
    indegree = [0] * n
    out: list[list[int]] = [[] for _ in range(n)]
    for before, after in edges:
        out[before].append(after)
        indegree[after] += 1
    stack = [node for node in range(n) if indegree[node] == 0]
    order: list[int] = []
    while stack:
        node = stack.pop()
        order.append(node)
        for nxt in out[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                stack.append(nxt)
    return order if len(order) == n else None


def chain_precedences(job_ops: Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """Routing chains: each operation of a job follows the previous one."""
    pairs: list[tuple[int, int]] = []
    for ops in job_ops:
        pairs.extend(itertools.pairwise(ops))
    return tuple(pairs)
