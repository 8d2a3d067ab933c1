"""A seeded generator of realistic factory instances (for benchmarks and tests).

The default is the benchmark instance: about 2,000 operations on 20 machines, in minutes:
6 printers (24/7, material changeovers), 4 CNC mills (fixture setups), 3 lasers,
3 finishing stations, 2 assembly benches, 2 inspection stations; everything but the
printers works two shifts (06:00-22:00) on weekdays. Jobs arrive over the first week with
due dates from their work content and a slack factor, weights 1-3 (rush orders 5).
Routings: print or laser, optional machining, finishing, optional assembly (which waits for
a second printed part: an assembly merge), inspection.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace

from microfactory.planning.model import (
    Attendance,
    Crew,
    Job,
    Machine,
    Mode,
    Operation,
    Operator,
    Problem,
    Window,
)

DAY = 24 * 60
MATERIALS = ("PLA", "PETG", "ABS", "PA12")
FIXTURES = ("vise", "plate", "jig")


@dataclass(frozen=True)
class _Group:
    kind: str
    count: int
    shifts: bool


GROUPS = (
    _Group("printer", 6, False),
    _Group("cnc", 4, True),
    _Group("laser", 3, True),
    _Group("finish", 3, True),
    _Group("assembly", 2, True),
    _Group("inspect", 2, True),
)
DURATIONS = {
    "printer": (60, 240),
    "cnc": (20, 120),
    "laser": (10, 60),
    "finish": (15, 75),
    "assembly": (20, 60),
    "inspect": (10, 30),
}


def shift_windows(days: int) -> tuple[Window, ...]:
    """Nights (22:00-06:00) and weekends (Sat 00:00 - Mon 06:00) over `days` days from a
    Monday 00:00 origin."""
    windows: list[Window] = [Window(0, 6 * 60)]
    for day in range(days):
        base = day * DAY
        weekday = day % 7
        if weekday == 4:  # Friday 22:00 -> Monday 06:00
            windows.append(Window(base + 22 * 60, base + 3 * DAY + 6 * 60))
        elif weekday in (5, 6):
            continue
        else:
            windows.append(Window(base + 22 * 60, base + DAY + 6 * 60))
    return tuple(windows)


def _machines(days: int, rng: random.Random) -> tuple[list[Machine], dict[str, list[int]]]:
    machines: list[Machine] = []
    groups: dict[str, list[int]] = {}
    for group in GROUPS:
        for k in range(group.count):
            setups: dict[tuple[str, str], int] = {}
            families = (
                MATERIALS if group.kind == "printer" else FIXTURES if group.kind == "cnc" else ()
            )
            for src in families:
                for dst in families:
                    if src != dst:
                        setups[(src, dst)] = rng.randint(15, 45) if group.kind == "printer" else 15
            windows = shift_windows(days) if group.shifts else ()
            groups.setdefault(group.kind, []).append(len(machines))
            machines.append(
                Machine(name=f"{group.kind}-{k + 1}", unavailable=windows, setups=setups)
            )
    return machines, groups


def generate_factory(
    seed: int = 0, target_ops: int = 2000, days: int = 28, release_days: float = 7.0
) -> Problem:
    """A factory instance with about `target_ops` operations (reproducible from `seed`)."""
    rng = random.Random(seed)
    machines, groups = _machines(days, rng)
    operations: list[Operation] = []
    precedences: list[tuple[int, int]] = []
    jobs: list[Job] = []

    def add(job: int, kind: str, family: str = "") -> int:
        lo, hi = DURATIONS[kind]
        base = rng.randint(lo, hi)
        eligible = groups[kind]
        chosen = rng.sample(eligible, k=min(len(eligible), rng.randint(1, 3)))
        modes = tuple(Mode(m, max(1, round(base * rng.uniform(0.85, 1.2)))) for m in sorted(chosen))
        operations.append(
            Operation(job=job, modes=modes, name=f"J{job}-{kind}{len(operations)}", family=family)
        )
        return len(operations) - 1

    while len(operations) < target_ops:
        j = len(jobs)
        first = len(operations)
        route: list[int] = []
        if rng.random() < 0.75:
            route.append(add(j, "printer", rng.choice(MATERIALS)))
        else:
            route.append(add(j, "laser"))
        if rng.random() < 0.5:
            route.append(add(j, "cnc", rng.choice(FIXTURES)))
        route.append(add(j, "finish"))
        precedences.extend(itertools.pairwise(route))
        if rng.random() < 0.3:
            second = add(j, "printer", rng.choice(MATERIALS))
            assembly = add(j, "assembly")
            precedences.extend([(route[-1], assembly), (second, assembly)])
            route.append(assembly)
        inspect = add(j, "inspect")
        precedences.append((route[-1], inspect))
        work = sum(operations[i].min_duration for i in range(first, len(operations)))
        release = rng.randint(0, int(release_days * DAY))
        rush = rng.random() < 0.05
        slack = rng.uniform(2.0, 6.0) if not rush else 1.5
        due = release + int(work * slack) + rng.randint(1, 4) * DAY
        jobs.append(
            Job(name=f"J{j}", release=release, due=due, weight=5 if rush else rng.randint(1, 3))
        )
    return Problem(
        machines=tuple(machines),
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=tuple(precedences),
        name=f"factory{target_ops}-s{seed}",
    )


# -- operators --------------------------------------------------------------------------------

CREW_NEEDS = {
    "printer": Crew("print", Attendance.SETUP, setup=15),
    "cnc": Crew("cnc"),
    "laser": Crew("laser", Attendance.SHARE, share=50),
    "finish": Crew("finish"),
    "assembly": Crew("assembly"),
    "inspect": Crew("inspect"),
}
SKILL_SETS = (
    ("print", "finish"),
    ("cnc", "finish"),
    ("laser", "assembly"),
    ("inspect", "finish", "print"),
    ("cnc", "laser"),
    ("assembly", "inspect"),
)


def shift_off_windows(days: int, first_hour: int, last_hour: int) -> tuple[Window, ...]:
    """The windows outside one shift [first_hour, last_hour) on weekdays over `days` days
    from a Monday 00:00 origin (after `days`, the person counts as available)."""
    windows: list[Window] = []
    cursor = 0
    for day in range(days):
        if day % 7 in (5, 6):
            continue
        start, end = day * DAY + first_hour * 60, day * DAY + last_hour * 60
        if start > cursor:
            windows.append(Window(cursor, start))
        cursor = end
    if cursor < days * DAY:
        windows.append(Window(cursor, days * DAY))
    return tuple(windows)


def with_operators(problem: Problem, people: int = 16, days: int = 28) -> Problem:
    """`problem` from `generate_factory` with a crew: `people` operators, half on the early
    shift (06:00-14:00) and half on the late one (14:00-22:00) on weekdays, skills from
    SKILL_SETS in turn; every operation needs the crew of its machine kind (CREW_NEEDS:
    printers only for setup, lasers at half a person, the rest the whole run)."""
    operators = tuple(
        Operator(
            name=f"P{k + 1}",
            skills=frozenset(SKILL_SETS[k % len(SKILL_SETS)]),
            unavailable=shift_off_windows(days, *((6, 14) if k % 2 == 0 else (14, 22))),
        )
        for k in range(people)
    )
    kinds = [machine.name.rsplit("-", 1)[0] for machine in problem.machines]
    operations = tuple(
        replace(op, crew=CREW_NEEDS.get(kinds[op.modes[0].machine])) if op.modes else op
        for op in problem.operations
    )
    return replace(problem, operations=operations, operators=operators, name=f"{problem.name}-crew")
