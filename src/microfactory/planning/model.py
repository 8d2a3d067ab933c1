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
* a frozen operation keeps its machine and start (it is running or done);
* a pinned operation (a planner's decision) runs on its pin's machine and, when the pin
  has a start, starts then: on construction the problem keeps only the pinned machine's
  mode and adds a start pin to the frozen operations, so every solver respects pins by
  respecting modes and frozen operations, and the checker verifies the pins themselves;
* a rush job is planned ahead of every operation that can move (see
  `heuristics.rush_first`).
* an operation with a crew need (`Crew`) has exactly one operator with its skill, who is
  busy during the need's segments (the whole run, or setup at the start and unload at the
  end of an unattended run) at the need's load (percent of a person); an operator's loads
  never add up to more than 100 at any time, and no segment overlaps the operator's
  unavailability windows (off shift, leave).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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


class Attendance(StrEnum):
    """When an operation needs its operator: `run` the whole run; `setup` only for setup at
    the start and unload at the end (a machine that runs unattended, e.g. a printer);
    `share` the whole run at `Crew.share` percent of a person (one person minds several
    machines)."""

    RUN = "run"
    SETUP = "setup"
    SHARE = "share"


@dataclass(frozen=True, slots=True)
class Crew:
    """The person an operation needs: one operator with `skill`, during the segments given by
    `attendance` (`setup` and `unload` in time units for `Attendance.SETUP`), at `share`
    percent for `Attendance.SHARE` (100 otherwise)."""

    skill: str
    attendance: Attendance = Attendance.RUN
    setup: int = 0
    unload: int = 0
    share: int = 100

    def __post_init__(self) -> None:
        if not self.skill:
            raise ValueError("a crew need names its skill")
        if self.setup < 0 or self.unload < 0:
            raise ValueError("crew setup and unload must be >= 0")
        if not 1 <= self.share <= 100:
            raise ValueError("crew share must be between 1 and 100 percent")
        if self.attendance is Attendance.SETUP and self.setup + self.unload == 0:
            raise ValueError("an unattended run needs a setup or an unload time for its crew")
        if self.attendance is not Attendance.SHARE and self.share != 100:
            raise ValueError("a crew share below 100 needs attendance 'share'")

    @property
    def load(self) -> int:
        return self.share if self.attendance is Attendance.SHARE else 100

    def segments(self, duration: int) -> tuple[tuple[int, int], ...]:
        """[from, to) offsets from the operation's start during which the operator is busy,
        for a run of `duration`; setup and unload that fill the run mean the whole run."""
        if duration <= 0:
            return ()
        if self.attendance is not Attendance.SETUP or self.setup + self.unload >= duration:
            return ((0, duration),)
        parts: list[tuple[int, int]] = []
        if self.setup > 0:
            parts.append((0, self.setup))
        if self.unload > 0:
            parts.append((duration - self.unload, duration))
        return tuple(parts)


@dataclass(frozen=True, slots=True)
class Operation:
    """One step of a job. `family` groups operations that share a setup state (colour,
    material, fixture); `release` is the earliest start of this operation; `deadline`, if
    set, the latest end (a hard limit, used by the LNS sub-problems); `crew`, if set, the
    operator it needs (see `Crew`)."""

    job: int
    modes: tuple[Mode, ...]
    name: str = ""
    family: str = ""
    release: int = 0
    deadline: int | None = None
    crew: Crew | None = None

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
    rush: bool = False

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


def _sorted_windows(windows: tuple[Window, ...], owner: str) -> tuple[Window, ...]:
    ordered = sorted(windows, key=lambda w: w.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"{owner} unavailability windows must not overlap")
    return tuple(ordered)


@dataclass(frozen=True, slots=True)
class Operator:
    """A person: the `skills` that qualify them for crew needs, and the windows in which
    they cannot work (off shift, breaks, leave)."""

    name: str = ""
    skills: frozenset[str] = frozenset()
    unavailable: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "unavailable", _sorted_windows(self.unavailable, "operator"))


@dataclass(frozen=True, slots=True)
class FrozenOp:
    """An operation that keeps its machine and start (running or done), and its operator
    when one is given."""

    op: int
    machine: int
    start: int
    operator: int | None = None


@dataclass(frozen=True, slots=True)
class Pin:
    """A planner's decision: operation `op` runs on `machine` and, when `start` is set,
    starts at `start`."""

    op: int
    machine: int
    start: int | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.start < 0:
            raise ValueError(f"pinned operation {self.op} must start at >= 0")


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where and when one operation runs, and who attends it (None: nobody needed)."""

    op: int
    machine: int
    start: int
    end: int
    operator: int | None = None


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
    pins: tuple[Pin, ...] = ()
    operators: tuple[Operator, ...] = ()

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
        self._apply_pins()
        self._validate_frozen()

    def _apply_pins(self) -> None:
        """Keep only a pinned operation's pinned mode; a pin with a start freezes it. A pin
        that contradicts a frozen (running) operation is an error: the caller drops it."""
        if not self.pins:
            return
        operations = list(self.operations)
        frozen = self.frozen_by_op()
        seen: set[int] = set()
        for pin in self.pins:
            if not 0 <= pin.op < len(operations):
                raise ValueError(f"pinned operation {pin.op} is unknown")
            if pin.op in seen:
                raise ValueError(f"operation {pin.op} is pinned twice")
            seen.add(pin.op)
            op = operations[pin.op]
            duration = op.duration_on(pin.machine)
            if duration is None:
                raise ValueError(
                    f"operation {op.name or pin.op} is pinned to machine {pin.machine}, "
                    "which cannot run it"
                )
            if len(op.modes) > 1:
                operations[pin.op] = replace(op, modes=(Mode(pin.machine, duration),))
            held = frozen.get(pin.op)
            if held is not None:
                if held.machine != pin.machine or (
                    pin.start is not None and held.start != pin.start
                ):
                    raise ValueError(
                        f"operation {op.name or pin.op} is pinned where it is not running"
                    )
            elif pin.start is not None:
                frozen[pin.op] = FrozenOp(pin.op, pin.machine, pin.start)
        object.__setattr__(self, "operations", tuple(operations))
        object.__setattr__(self, "frozen", tuple(frozen.values()))

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
            if item.operator is not None and not self.qualified(item.op, item.operator):
                raise ValueError(f"frozen operation {item.op} has an unqualified operator")
            for window in self.machines[item.machine].unavailable:
                if item.start < window.end and window.start < end:
                    what = "pinned" if item.op in self.pinned_ops() else "frozen"
                    raise ValueError(
                        f"{what} operation {self.operations[item.op].name or item.op} "
                        f"[{item.start}, {end}) overlaps an unavailability window "
                        f"[{window.start}, {window.end}) of machine "
                        f"{self.machines[item.machine].name or item.machine}"
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

    def pinned_ops(self) -> set[int]:
        return {pin.op for pin in self.pins}

    def rush_ops(self) -> list[int]:
        """Operations of rush jobs and everything they wait for (a part assembled into a
        rush job is rush too), in index order."""
        rush = {i for i, op in enumerate(self.operations) if self.jobs[op.job].rush}
        if not rush:
            return []
        preds = self.predecessors()
        stack = list(rush)
        while stack:
            for p in preds[stack.pop()]:
                if p not in rush:
                    rush.add(p)
                    stack.append(p)
        return sorted(rush)

    def frozen_by_op(self) -> dict[int, FrozenOp]:
        return {item.op: item for item in self.frozen}

    def ops_without_modes(self) -> list[int]:
        return [index for index, op in enumerate(self.operations) if not op.modes]

    def qualified(self, op: int, operator: int) -> bool:
        """Whether `operator` may attend operation `op` (which must need a crew)."""
        crew = self.operations[op].crew
        return (
            crew is not None
            and 0 <= operator < len(self.operators)
            and crew.skill in self.operators[operator].skills
        )

    def ops_without_crew(self) -> list[int]:
        """Operations that need a skill no operator has."""
        skills = set().union(*(o.skills for o in self.operators)) if self.operators else set()
        return [
            index
            for index, op in enumerate(self.operations)
            if op.crew is not None and op.crew.skill not in skills
        ]

    @property
    def has_crew(self) -> bool:
        return any(op.crew is not None for op in self.operations)

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
