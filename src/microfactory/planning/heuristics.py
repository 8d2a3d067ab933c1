"""Dispatching heuristics: an instant plan, and the hint for CP-SAT.

Serial schedule generation: repeatedly take the ready operation (all predecessors placed)
with the best priority and place it, on the mode that finishes first, in the earliest gap
of that machine's timeline that respects setups (with both neighbours) and unavailability.
Frozen operations are placed first, where they are. Operations that need a person also
wait for a qualified operator on shift (`crew.CrewBoard`), and are attended by the first one
free.

Whatever the rule, two things come first: an operation that must end before a frozen or
pinned operation starts (its latest end, earliest first), so the serial scheme does not give
its slot away, then the operations of rush jobs (`rush_first`).

Rules: SPT (shortest processing time), EDD (earliest due date), ATC (apparent tardiness
cost, Vepsalainen & Morton 1987) and MWKR (most work remaining: longest tail first, good for
makespan).
"""

from __future__ import annotations

import bisect
import heapq
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from microfactory.planning.crew import CrewBoard
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Machine,
    Problem,
    topological_order,
)
from microfactory.planning.result import (
    ScheduleResult,
    Status,
    makespan_of,
    weighted_tardiness_of,
)

RULES = ("gt", "mwkr", "edd", "atc", "spt")
DYNAMIC_RULES = frozenset({"atc", "gt"})  # re-evaluated every step: slow on large shops
ATC_K = 2.0


class _Timeline:
    """Operations placed on one machine, sorted by start: (start, end, family)."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.items: list[tuple[int, int, str]] = []
        self.windows = [(w.start, w.end) for w in machine.unavailable]

    def _skip_windows(self, t: int, duration: int) -> int:
        if duration == 0:
            return t
        for start, end in self.windows:
            if end <= t:
                continue
            if start >= t + duration:
                break
            t = end
        return t

    def earliest_fit(self, est: int, duration: int, family: str) -> int:
        setup = self.machine.setup
        items = self.items
        first = max(0, bisect.bisect_left(items, (est, -1, "")) - 1)
        for index in range(first, len(items) + 1):
            lo = est
            if index > 0:
                prev = items[index - 1]
                lo = max(lo, prev[1] + setup(prev[2], family))
            t = self._skip_windows(lo, duration)
            if index == len(items):
                return t
            nxt = items[index]
            if t + duration + setup(family, nxt[2]) <= nxt[0]:
                return t
        raise AssertionError("unreachable: the last gap is unbounded")

    def place(self, start: int, end: int, family: str) -> None:
        bisect.insort(self.items, (start, end, family))

    def remove(self, start: int, end: int, family: str) -> None:
        self.items.remove((start, end, family))


def _fit(
    timeline: _Timeline,
    board: CrewBoard | None,
    op: int,
    est: int,
    duration: int,
    family: str,
    prefer: int | None = None,
) -> tuple[int, int | None]:
    """(start, operator): the earliest start >= est on the machine's timeline at which a
    qualified operator is free too (alternating until both agree)."""
    t = est
    while True:
        t = timeline.earliest_fit(t, duration, family)
        if board is None:
            return t, None
        later, who = board.earliest(op, duration, t, prefer)
        if later == t:
            return t, who
        t = later


def _board(problem: Problem) -> CrewBoard | None:
    return CrewBoard(problem) if problem.has_crew else None


def tails(problem: Problem) -> list[int]:
    """Longest path (min durations) from each operation to the end, including itself."""
    order = topological_order(problem.n_ops, problem.precedences) or []
    succ = problem.successors()
    tail = [0] * problem.n_ops
    for op in reversed(order):
        after = max((tail[s] for s in succ[op]), default=0)
        tail[op] = problem.operations[op].min_duration + after
    return tail


def _priority(problem: Problem, rule: str, tail: list[int]) -> Callable[[int, int], float]:
    ops, jobs = problem.operations, problem.jobs
    pbar = max(1.0, sum(op.min_duration for op in ops) / max(1, len(ops)))
    big = float(10**12)

    def due(op: int) -> float:
        value = jobs[ops[op].job].due
        return big if value is None else float(value)

    if rule == "spt":
        return lambda op, t: ops[op].min_duration - 1e-6 * tail[op]
    if rule in ("mwkr", "gt"):
        return lambda op, t: -float(tail[op])
    if rule == "edd":
        return lambda op, t: due(op) - 1e-6 * tail[op]
    if rule == "atc":

        def atc(op: int, t: int) -> float:
            p = max(1, ops[op].min_duration)
            weight = jobs[ops[op].job].weight
            slack = max(0.0, due(op) - tail[op] - t)
            return -(weight / p) * math.exp(-slack / (ATC_K * pbar)) - 1e-9 * tail[op]

        return atc
    raise ValueError(f"unknown dispatching rule {rule!r} (known: {', '.join(RULES)})")


def latest_ends(problem: Problem) -> list[float]:
    """Per operation, the latest end that still lets every frozen (or start-pinned)
    operation after it start on time (minimum durations in between); inf when none follows."""
    order = topological_order(problem.n_ops, problem.precedences) or []
    frozen = problem.frozen_by_op()
    succ = problem.successors()
    latest = [math.inf] * problem.n_ops
    for op in reversed(order):
        for s in succ[op]:
            if s in frozen:
                bound = float(frozen[s].start)
            else:
                bound = latest[s] - problem.operations[s].min_duration
            latest[op] = min(latest[op], bound)
    return latest


def _ranked(problem: Problem, key: Callable[[int, int], float]) -> Callable[[int, int], Any]:
    """The rule's priority behind two that come first: an operation that must end before
    a frozen one starts (earliest latest end first), then a rush job's operations."""
    latest = latest_ends(problem)
    rush = [False] * problem.n_ops
    for op in problem.rush_ops():
        rush[op] = True
    if all(math.isinf(x) for x in latest) and not any(rush):
        return key
    return lambda op, t: (latest[op], 0 if rush[op] else 1, key(op, t))


def rush_first(problem: Problem) -> Problem:
    """Rush jobs ahead of everything that can move: their operations are placed by the
    serial scheme before any other movable operation (after frozen and pinned ones and what
    must precede those), each where it finishes first, and then kept there (frozen) for
    whichever solver plans the rest. Returns `problem` itself when no rush operation is
    left to place."""
    frozen = problem.frozen_by_op()
    rush = [op for op in problem.rush_ops() if op not in frozen]
    if not rush:
        return problem
    plan = dispatch(problem, "mwkr")
    if plan is None:
        return problem
    kept = set(rush) | set(frozen)
    for before, after in problem.precedences:
        if before in kept and after in kept and plan[after].start < plan[before].end:
            return problem  # the serial scheme could not keep a frozen operation's order
    placed = tuple(FrozenOp(op, plan[op].machine, plan[op].start, plan[op].operator) for op in rush)
    return replace(problem, frozen=problem.frozen + placed)


def dispatch(problem: Problem, rule: str = "mwkr") -> list[Assignment] | None:
    """A complete plan by one rule, or None when an operation has no mode, nobody qualified
    is free at a frozen (or start-pinned) operation's start, or the rule could not place an
    operation before the frozen operation after it: a serial scheme has no look-ahead, and
    a plan that breaks the routing or a person's one-thing-at-a-time is no plan."""
    if problem.ops_without_modes() or problem.ops_without_crew():
        return None
    key = _ranked(problem, _priority(problem, rule, tails(problem)))
    timelines = [_Timeline(machine) for machine in problem.machines]
    board = _board(problem)
    placed = _place_frozen(problem, timelines, board)
    if placed is None:
        return None
    preds, succ = problem.predecessors(), problem.successors()
    missing = [sum(1 for p in preds[op] if p not in placed) for op in range(problem.n_ops)]
    ready = {op for op in range(problem.n_ops) if missing[op] == 0 and op not in placed}
    est = {op: problem.release_of(op) for op in range(problem.n_ops)}
    for op in placed:
        for s in succ[op]:
            est[s] = max(est[s], placed[op].end)
    dynamic = rule in DYNAMIC_RULES
    heap = [(key(o, 0), o) for o in ready]
    heapq.heapify(heap)
    while ready:
        if rule == "gt":
            op, best = _giffler_thompson_pick(problem, ready, est, timelines, key, board)
        else:
            if dynamic:
                now = min(est[o] for o in ready)
                op = min(ready, key=lambda o: (key(o, now), o))
            else:
                op = heapq.heappop(heap)[1]
            best = _best_mode(problem, op, est[op], timelines, board)
        ready.discard(op)
        operation = problem.operations[op]
        end, start, machine, who = best
        placed[op] = Assignment(op, machine, start, end, who)
        timelines[machine].place(start, end, operation.family)
        if board is not None:
            board.place(op, who, start, end - start)
        for s in succ[op]:
            est[s] = max(est[s], end)
            missing[s] -= 1
            if missing[s] == 0 and s not in placed:
                ready.add(s)
                if not dynamic:
                    heapq.heappush(heap, (key(s, 0), s))
    if not keeps_frozen_order(problem, placed):
        return None
    return [placed[op] for op in range(problem.n_ops)]


def keeps_frozen_order(problem: Problem, placed: Mapping[int, Assignment]) -> bool:
    """False when an operation ends after a frozen (or start-pinned) successor starts. The
    serial schemes place frozen operations first and give what must precede them priority,
    but a busy machine or an operator off shift can still push a predecessor past them."""
    frozen = problem.frozen_by_op()
    return all(
        placed[before].end <= placed[after].start
        for before, after in problem.precedences
        if after in frozen
    )


def _place_frozen(
    problem: Problem, timelines: list[_Timeline], board: CrewBoard | None
) -> dict[int, Assignment] | None:
    """Frozen (and start-pinned) operations where they are, with their operator as given,
    else someone qualified who is free at their start: those with an operator first, then
    the scarcest skill first, each taking the least versatile person free (`free_at`).
    None when nobody is free for one: it cannot wait, and a plan where a person does two
    things at once is no plan."""
    placed: dict[int, Assignment] = {}
    items = problem.frozen
    if board is not None:
        items = tuple(
            sorted(
                items,
                key=lambda i: (i.operator is None, board.scarcity(i.op), i.start, i.op),
            )
        )
    for item in items:
        fixed = problem.operations[item.op]
        end = item.start + (fixed.duration_on(item.machine) or 0)
        who = item.operator
        if board is not None and fixed.crew is not None and who is None:
            free = board.free_at(item.op, end - item.start, item.start)
            if not free:
                return None
            who = free[0]
        placed[item.op] = Assignment(item.op, item.machine, item.start, end, who)
        timelines[item.machine].place(item.start, end, fixed.family)
        if board is not None:
            board.place(item.op, who, item.start, end - item.start)
    return placed


def _best_mode(
    problem: Problem,
    op: int,
    est: int,
    timelines: list[_Timeline],
    board: CrewBoard | None = None,
) -> tuple[int, int, int, int | None]:
    """(end, start, machine, operator) of the mode that finishes first."""
    operation = problem.operations[op]
    best: tuple[int, int, int, int | None] | None = None
    for mode in operation.modes:
        start, who = _fit(timelines[mode.machine], board, op, est, mode.duration, operation.family)
        candidate = (start + mode.duration, start, mode.machine, who)
        if best is None or candidate[:3] < best[:3]:
            best = candidate
    assert best is not None
    return best


def _giffler_thompson_pick(
    problem: Problem,
    ready: set[int],
    est: Mapping[int, int],
    timelines: list[_Timeline],
    key: Callable[[int, int], Any],
    board: CrewBoard | None = None,
) -> tuple[int, tuple[int, int, int, int | None]]:
    """Active-schedule step (Giffler & Thompson 1960): the ready operation that can finish
    first fixes a machine and a time c*; among the ready operations that could start on
    that machine before c*, the rule's priority (most work remaining) chooses; it is placed
    at the first time the machine and a qualified person are free."""
    # the conflict set is read off the machines alone; only the chosen operation waits for
    # a person too (with a crew, asking every ready operation for one each step cost 4x)
    options = {op: _best_mode(problem, op, est[op], timelines) for op in ready}
    first = min(options, key=lambda op: (options[op][:3], op))
    finish, _, machine, _ = options[first]
    conflict = [
        op
        for op in ready
        if problem.operations[op].duration_on(machine) is not None
        and timelines[machine].earliest_fit(
            est[op], problem.operations[op].duration_on(machine) or 0, problem.operations[op].family
        )
        < finish
    ]
    chosen = min(conflict or [first], key=lambda op: (key(op, 0), op))
    duration = problem.operations[chosen].duration_on(machine) or 0
    start, who = _fit(
        timelines[machine], board, chosen, est[chosen], duration, problem.operations[chosen].family
    )
    return chosen, (start + duration, start, machine, who)


def solve_dispatch(problem: Problem, rule: str = "mwkr") -> ScheduleResult:
    """One rule as a solver (status feasible: a heuristic proves nothing)."""
    began = time.perf_counter()
    missing = problem.ops_without_modes()
    if missing:
        return ScheduleResult(
            status=Status.INFEASIBLE,
            objective=None,
            bound=None,
            seconds=time.perf_counter() - began,
            reason=f"operation {missing[0]} has no machine that can run it",
            solver=f"dispatch-{rule}",
        )
    plan = dispatch(problem, rule)
    if plan is None:
        return ScheduleResult(
            status=Status.TIMEOUT_NO_SOLUTION,
            objective=None,
            bound=None,
            seconds=time.perf_counter() - began,
            reason=f"rule {rule} could not keep the frozen and pinned operations' routing",
            solver=f"dispatch-{rule}",
        )
    makespan = makespan_of(plan)
    return ScheduleResult(
        status=Status.FEASIBLE,
        objective=makespan,
        bound=None,
        seconds=time.perf_counter() - began,
        assignments=tuple(plan),
        solver=f"dispatch-{rule}",
        makespan=makespan,
        weighted_tardiness=weighted_tardiness_of(problem, plan),
    )


def repair(
    problem: Problem, previous: Mapping[int, Assignment], *, reserve: bool = True
) -> list[Assignment] | None:
    """Repair a previous plan for a changed problem, moving as little as possible.

    With `reserve`, every previous slot starts out reserved for its operation (fewest
    moves); without, displaced operations take the earliest gap (less lateness, more
    moves). Operations are re-placed in
    the order of their previous start (new operations last, longest tail first): one keeps
    its machine and start when that is still feasible; otherwise its reservation is given up
    and it goes to the mode that finishes first without taking anyone else's reserved slot,
    so a displaced operation fills real gaps instead of pushing others. Frozen operations
    stay where they are; None when an operation could not be placed before a frozen one
    after it (`keeps_frozen_order`)."""
    if problem.ops_without_modes() or problem.ops_without_crew():
        return None
    tail = tails(problem)
    timelines = [_Timeline(machine) for machine in problem.machines]
    board = _board(problem)
    placed = _place_frozen(problem, timelines, board)
    if placed is None:
        return None
    reserved: dict[int, tuple[int, int, int, str]] = {}
    for op, kept in previous.items() if reserve else ():
        if 0 <= op < problem.n_ops and op not in placed and kept.machine < len(timelines):
            family = problem.operations[op].family
            reserved[op] = (kept.machine, kept.start, kept.end, family)
            timelines[kept.machine].place(kept.start, kept.end, family)
    preds, succ = problem.predecessors(), problem.successors()
    missing = [sum(1 for p in preds[op] if p not in placed) for op in range(problem.n_ops)]
    est = [problem.release_of(op) for op in range(problem.n_ops)]
    for op in placed:
        for s in succ[op]:
            est[s] = max(est[s], placed[op].end)
    never = 10**18
    heap = [
        (previous[op].start if op in previous else never, -tail[op], op)
        for op in range(problem.n_ops)
        if missing[op] == 0 and op not in placed
    ]
    heapq.heapify(heap)
    while heap:
        _, _, op = heapq.heappop(heap)
        operation = problem.operations[op]
        choice: tuple[int, int, int, int | None] | None = None
        if op in reserved:
            machine, start, end, family = reserved.pop(op)
            timelines[machine].remove(start, end, family)
        before = previous.get(op)
        if before is not None and operation.duration_on(before.machine) is not None:
            timeline = timelines[before.machine]
            duration = operation.duration_on(before.machine) or 0
            start, who = _fit(
                timeline,
                board,
                op,
                max(est[op], before.start),
                duration,
                operation.family,
                before.operator,
            )
            if start == before.start:
                choice = (start + duration, start, before.machine, who)
        if choice is None:
            choice = _best_mode(problem, op, est[op], timelines, board)
        end, start, machine, who = choice
        placed[op] = Assignment(op, machine, start, end, who)
        timelines[machine].place(start, end, operation.family)
        if board is not None:
            board.place(op, who, start, end - start)
        for s in succ[op]:
            est[s] = max(est[s], end)
            missing[s] -= 1
            if missing[s] == 0 and s not in placed:
                key = previous[s].start if s in previous else never
                heapq.heappush(heap, (key, -tail[s], s))
    if len(placed) != problem.n_ops or not keeps_frozen_order(problem, placed):
        return None
    return [placed[op] for op in range(problem.n_ops)]
