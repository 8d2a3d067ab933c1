"""Independent feasibility checker: re-derives every rule of `model` from the plan alone.

It shares no code with the solvers (only the problem dataclasses), so a solver bug cannot
hide behind a checker that makes the same mistake. Used by tests and by the benchmark.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from microfactory.planning.model import Assignment, Problem


def check_plan(problem: Problem, assignments: Sequence[Assignment]) -> list[str]:
    """Every violated rule, one readable line each; an empty list means feasible."""
    errors: list[str] = []
    by_op: dict[int, Assignment] = {}
    for a in assignments:
        if a.op in by_op:
            errors.append(f"op {a.op}: assigned twice")
        elif not 0 <= a.op < len(problem.operations):
            errors.append(f"op {a.op}: unknown operation")
        else:
            by_op[a.op] = a
    for index in range(len(problem.operations)):
        if index not in by_op:
            errors.append(f"op {index}: not scheduled")
    for a in by_op.values():
        errors.extend(_check_mode_and_release(problem, a))
    errors.extend(_check_precedences(problem, by_op))
    errors.extend(_check_machines(problem, list(by_op.values())))
    errors.extend(_check_frozen(problem, by_op))
    errors.extend(_check_pins(problem, by_op))
    errors.extend(_check_crew(problem, by_op))
    return errors


def _check_mode_and_release(problem: Problem, a: Assignment) -> list[str]:
    errors: list[str] = []
    op = problem.operations[a.op]
    durations = {mode.machine: mode.duration for mode in op.modes}
    if a.machine not in durations:
        errors.append(f"op {a.op}: machine {a.machine} is not one of its modes")
    elif a.end - a.start != durations[a.machine]:
        errors.append(
            f"op {a.op}: runs {a.end - a.start} on machine {a.machine}, "
            f"needs {durations[a.machine]}"
        )
    release = max(op.release, problem.jobs[op.job].release)
    if a.start < release:
        errors.append(f"op {a.op}: starts at {a.start} before its release {release}")
    if a.start < 0:
        errors.append(f"op {a.op}: starts before the plan origin")
    if op.deadline is not None and a.end > op.deadline:
        errors.append(f"op {a.op}: ends at {a.end} after its deadline {op.deadline}")
    return errors


def _check_precedences(problem: Problem, by_op: dict[int, Assignment]) -> list[str]:
    errors: list[str] = []
    for before, after in problem.precedences:
        if before in by_op and after in by_op and by_op[after].start < by_op[before].end:
            errors.append(
                f"precedence {before}->{after}: op {after} starts at {by_op[after].start} "
                f"before op {before} ends at {by_op[before].end}"
            )
    return errors


def _check_machines(problem: Problem, assignments: list[Assignment]) -> list[str]:
    errors: list[str] = []
    for m, machine in enumerate(problem.machines):
        on_machine = sorted(
            (a for a in assignments if a.machine == m), key=lambda a: (a.start, a.end, a.op)
        )
        for first, second in itertools.pairwise(on_machine):
            fam_a = problem.operations[first.op].family
            fam_b = problem.operations[second.op].family
            needed = first.end + machine.setups.get((fam_a, fam_b), 0)
            if second.start < first.end:
                errors.append(f"machine {m}: ops {first.op} and {second.op} overlap")
            elif second.start < needed:
                errors.append(
                    f"machine {m}: op {second.op} starts at {second.start}, setup after op "
                    f"{first.op} needs it to start at {needed} or later"
                )
        for a in on_machine:
            for window in machine.unavailable:
                if a.start < window.end and window.start < a.end:
                    errors.append(
                        f"machine {m}: op {a.op} [{a.start},{a.end}) overlaps unavailability "
                        f"[{window.start},{window.end})"
                    )
    return errors


def _check_crew(problem: Problem, by_op: dict[int, Assignment]) -> list[str]:
    """Each crew need has one qualified operator, on shift for every busy segment, and no
    operator is loaded above 100 percent at any time."""
    errors: list[str] = []
    busy: dict[int, list[tuple[int, int, int, int]]] = {}
    for a in sorted(by_op.values(), key=lambda a: a.op):
        crew = problem.operations[a.op].crew
        if crew is None:
            continue
        who = a.operator
        if who is None or not 0 <= who < len(problem.operators):
            errors.append(f"op {a.op}: needs an operator with skill {crew.skill!r}, has {who}")
            continue
        person = problem.operators[who]
        if crew.skill not in person.skills:
            errors.append(f"op {a.op}: operator {who} lacks skill {crew.skill!r}")
        for lo, hi in crew.segments(a.end - a.start):
            start, end = a.start + lo, a.start + hi
            busy.setdefault(who, []).append((start, end, crew.load, a.op))
            for window in person.unavailable:
                if start < window.end and window.start < end:
                    errors.append(
                        f"operator {who}: op {a.op} needs them in [{start},{end}), off shift "
                        f"[{window.start},{window.end})"
                    )
    for who, items in busy.items():
        events = sorted(
            [(start, 1, load, op) for start, _, load, op in items]
            + [(end, 0, load, op) for _, end, load, op in items]
        )
        load_now = 0
        running: set[int] = set()
        for _, kind, load, op in events:  # ends sort before starts at the same time
            if kind == 0:
                load_now -= load
                running.discard(op)
                continue
            load_now += load
            running.add(op)
            if load_now > 100:
                others = ", ".join(str(o) for o in sorted(running - {op}))
                errors.append(f"operator {who}: op {op} overlaps op(s) {others} (load {load_now})")
    for item in problem.frozen:
        kept = by_op.get(item.op)
        if kept is not None and item.operator is not None and kept.operator != item.operator:
            errors.append(
                f"op {item.op}: frozen with operator {item.operator}, has {kept.operator}"
            )
    return errors


def _check_frozen(problem: Problem, by_op: dict[int, Assignment]) -> list[str]:
    errors: list[str] = []
    for item in problem.frozen:
        a = by_op.get(item.op)
        if a is not None and (a.machine != item.machine or a.start != item.start):
            errors.append(
                f"op {item.op}: frozen at machine {item.machine} start {item.start}, "
                f"planned at machine {a.machine} start {a.start}"
            )
    return errors


def _check_pins(problem: Problem, by_op: dict[int, Assignment]) -> list[str]:
    """A planner's pins, read from `problem.pins` (not from the modes and frozen operations
    the problem derives from them)."""
    errors: list[str] = []
    for pin in problem.pins:
        a = by_op.get(pin.op)
        if a is None:
            continue
        if a.machine != pin.machine:
            errors.append(
                f"op {pin.op}: pinned to machine {pin.machine}, planned on machine {a.machine}"
            )
        if pin.start is not None and a.start != pin.start:
            errors.append(f"op {pin.op}: pinned to start {pin.start}, planned at {a.start}")
    return errors
