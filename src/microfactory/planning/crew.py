"""Operators' timelines for the constructive heuristics (dispatch, repair, staffing).

A `CrewBoard` holds, per operator, the busy segments placed so far (start, end, load) and
the windows off shift. `earliest(op, duration, t)` answers the earliest start >= t at which
some qualified operator can attend the operation's segments (`Crew.segments`), and who:
every failed try moves t by a shift that no feasible start can be below (the end of a
blocking window or of the earliest-ending segment that overloads the operator), so the
search jumps from conflict to conflict instead of stepping minute by minute. A segment at
a full load (the common case) is placed by bisection in the person's fully free spans
(off shift and every placed segment taken out); shared loads go through the conflicts.

`staff(problem, plan)` turns any plan that ignores operators into one that respects them:
operations are re-timed in the order of their planned start, each on its planned machine
after its machine predecessor and its job predecessors, at the first time a qualified
operator is free. Solvers that know nothing of people (the numba kernels) go through it.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence

from microfactory.planning.model import Assignment, Problem, topological_order

UNBOUNDED = 1 << 62


class CrewBoard:
    """Busy segments and shifts per operator; see the module docstring."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        by_skill: dict[str, list[int]] = {}
        self.qualified: list[list[int]] = []
        for op in problem.operations:
            if op.crew is None:
                self.qualified.append([])
                continue
            skill = op.crew.skill
            if skill not in by_skill:
                by_skill[skill] = [
                    k for k, person in enumerate(problem.operators) if skill in person.skills
                ]
            self.qualified.append(by_skill[skill])
        self.items: list[list[tuple[int, int, int]]] = [[] for _ in problem.operators]
        self.longest = [0] * len(problem.operators)
        self.windows = [[(w.start, w.end) for w in p.unavailable] for p in problem.operators]
        self.window_starts = [[w[0] for w in ws] for ws in self.windows]
        # fully free time per person (off shift and every placed segment taken out): a
        # full-load segment needs one free span, found by bisection instead of conflicts
        self.free: list[list[tuple[int, int]]] = []
        for windows in self.windows:
            spans, cursor = [], 0
            for w_start, w_end in windows:
                if w_start > cursor:
                    spans.append((cursor, w_start))
                cursor = max(cursor, w_end)
            spans.append((cursor, UNBOUNDED))
            self.free.append(spans)
        self.free_starts = [[span[0] for span in spans] for spans in self.free]

    def _free_shift(self, who: int, start: int, length: int) -> int:
        """The shift of [start, start + length) to the first fully free span that holds it."""
        spans = self.free[who]
        k = max(0, bisect.bisect_right(self.free_starts[who], start) - 1)
        while k < len(spans):
            lo, hi = spans[k]
            at = max(lo, start)
            if at + length <= hi:
                return at - start
            k += 1
        raise AssertionError("unreachable: the last free span is unbounded")

    def _take(self, who: int, start: int, end: int) -> None:
        """Remove [start, end) from the person's free spans."""
        spans = self.free[who]
        k = max(0, bisect.bisect_right(self.free_starts[who], start) - 1)
        pieces: list[tuple[int, int]] = []
        last = k
        while last < len(spans) and spans[last][0] < end:
            lo, hi = spans[last]
            if hi > start:
                if lo < start:
                    pieces.append((lo, start))
                if end < hi:
                    pieces.append((end, hi))
            else:
                pieces.append((lo, hi))
            last += 1
        spans[k:last] = pieces
        self.free_starts[who][k:last] = [span[0] for span in pieces]

    def _shift(self, who: int, start: int, end: int, load: int) -> int:
        """0 when [start, end) at `load` fits operator `who`; otherwise a positive shift of
        the segment that every feasible later placement needs at least."""
        need = 0
        windows = self.windows[who]
        k = max(0, bisect.bisect_right(self.window_starts[who], start) - 1)
        while k < len(windows) and windows[k][0] < end:
            _, w_end = windows[k]
            if w_end > start:
                need = max(need, w_end - start)
            k += 1
        items = self.items[who]
        overlapping: list[tuple[int, int, int]] = []
        for k in range(bisect.bisect_left(items, (start - self.longest[who], -1, -1)), len(items)):
            item = items[k]
            if item[0] >= end:
                break
            if item[1] > start:
                overlapping.append(item)
        if overlapping and need == 0:
            if load == 100 and all(item[2] == 100 for item in overlapping):
                return overlapping[0][1] - start  # full loads never overlap: the first ends first
            need = self._overload_shift(overlapping, start, end, load)
        return need

    @staticmethod
    def _overload_shift(
        overlapping: list[tuple[int, int, int]], start: int, end: int, load: int
    ) -> int:
        """The first time in [start, end) where the load exceeds 100 fixes the shift: the
        segment must start after the earliest end among the segments running then."""
        events = sorted(
            [(max(s, start), 1, used, e) for s, e, used in overlapping]
            + [(e, 0, used, e) for _, e, used in overlapping if e < end]
        )
        total = load
        active: list[int] = []
        for _, kind, item_load, item_end in events:
            if kind == 0:
                total -= item_load
                active.remove(item_end)
                continue
            total += item_load
            active.append(item_end)
            if total > 100:
                return min(active) - start
        return 0

    def earliest(
        self, op: int, duration: int, t: int, prefer: int | None = None
    ) -> tuple[int, int | None]:
        """(earliest start >= t, operator) for operation `op` running `duration`; operator
        None when the operation needs nobody. `prefer` is tried first."""
        crew = self.problem.operations[op].crew
        if crew is None:
            return t, None
        people = self.qualified[op]
        if not people:
            raise ValueError(f"operation {op} needs skill {crew.skill!r} and nobody has it")
        if prefer is not None and prefer in people:
            people = [prefer] + [k for k in people if k != prefer]
        segments = crew.segments(duration)
        if not segments:
            return t, people[0]
        full = crew.load == 100
        best: tuple[int, int] | None = None
        for who in people:  # each person's earliest start, exactly; stop at the best so far
            start = t
            while best is None or start < best[0]:
                need = 0
                for lo, hi in segments:
                    if full:
                        shift = self._free_shift(who, start + lo, hi - lo)
                    else:
                        shift = self._shift(who, start + lo, start + hi, crew.load)
                    need = max(need, shift)
                if need == 0:
                    best = (start, who)
                    break
                start += need
        assert best is not None
        return best

    def free_at(self, op: int, duration: int, start: int, prefer: int | None = None) -> list[int]:
        """The qualified people who can attend `op` starting exactly at `start` (a frozen or
        start-pinned operation cannot wait for one): `prefer` first if free, then the least
        versatile, so that someone with a rarer skill stays free for work only they can do;
        [] when nobody can, or the operation needs nobody."""
        crew = self.problem.operations[op].crew
        if crew is None:
            return []
        segments = crew.segments(duration)
        full = crew.load == 100

        def fits(who: int) -> bool:
            for lo, hi in segments:
                if full:
                    shift = self._free_shift(who, start + lo, hi - lo)
                else:
                    shift = self._shift(who, start + lo, start + hi, crew.load)
                if shift:
                    return False
            return True

        people = self.problem.operators
        free = sorted(
            (who for who in self.qualified[op] if fits(who)),
            key=lambda who: (who != prefer, len(people[who].skills), who),
        )
        return free

    def scarcity(self, op: int) -> int:
        """How many people could attend `op` (0 when it needs nobody): frozen operations are
        staffed scarcest first."""
        return len(self.qualified[op]) if self.problem.operations[op].crew is not None else 0

    def place(self, op: int, who: int | None, start: int, duration: int) -> None:
        crew = self.problem.operations[op].crew
        if crew is None or who is None:
            return
        for lo, hi in crew.segments(duration):
            bisect.insort(self.items[who], (start + lo, start + hi, crew.load))
            self.longest[who] = max(self.longest[who], hi - lo)
            self._take(who, start + lo, start + hi)


def staff(problem: Problem, plan: Sequence[Assignment]) -> list[Assignment]:
    """`plan` made to respect the operators (see the module docstring): machines and the
    order on each machine kept, starts moved later where a person or a predecessor is late.
    Frozen operations stay where they are (their operator, if given, is kept)."""
    board = CrewBoard(problem)
    by_op = {a.op: a for a in plan}
    frozen = problem.frozen_by_op()
    placed: dict[int, Assignment] = {}
    # those with their operator first, then the scarcest skill first: a frozen operation
    # cannot wait, so it takes someone free at its start, and the least versatile one
    for op, item in sorted(
        frozen.items(),
        key=lambda kv: (kv[1].operator is None, board.scarcity(kv[0]), kv[1].start, kv[0]),
    ):
        a = by_op[op]
        duration = a.end - a.start
        who = item.operator
        if who is None and problem.operations[op].crew is not None:
            free = board.free_at(op, duration, item.start, a.operator)
            # nobody free at its start: the first to be free (the checker reports the plan)
            who = free[0] if free else board.earliest(op, duration, item.start, a.operator)[1]
        placed[op] = Assignment(op, item.machine, item.start, item.start + duration, who)
        board.place(op, who, item.start, duration)
    order = sorted(plan, key=lambda a: (a.start, a.end, a.op))
    previous_on_machine: dict[int, int] = {}
    last: dict[int, int] = {}
    for a in order:
        if a.machine in last:
            previous_on_machine[a.op] = last[a.machine]
        last[a.machine] = a.op
    preds = problem.predecessors()
    topological = topological_order(problem.n_ops, problem.precedences) or []
    rank = {op: k for k, op in enumerate(topological)}
    machine_ready = _MachineClock(problem)
    # an operation is placed once its job and machine predecessors are: in start order,
    # which is a topological order of both (the plan was feasible without operators)
    heap = [(a.start, a.end, rank.get(a.op, 0), a.op) for a in order if a.op not in placed]
    heapq.heapify(heap)
    for fixed in placed.values():
        machine_ready.note(fixed)
    while heap:
        *_, op = heapq.heappop(heap)
        a = by_op[op]
        operation = problem.operations[op]
        duration = a.end - a.start
        est = max([problem.release_of(op), a.start] + [placed[p].end for p in preds[op]])
        before = previous_on_machine.get(op)
        if before is not None and before in placed:
            prior = placed[before]
            setup = problem.machines[a.machine].setup(
                problem.operations[before].family, operation.family
            )
            est = max(est, prior.end + setup)
        t = est
        while True:
            t = machine_ready.skip_windows(a.machine, t, duration, op)
            t2, who = board.earliest(op, duration, t, a.operator)
            if t2 == t:
                break
            t = t2
        placed[op] = Assignment(op, a.machine, t, t + duration, who)
        board.place(op, who, t, duration)
        machine_ready.note(placed[op])
    return [placed[op] for op in sorted(placed)]


class _MachineClock:
    """Calendar windows and frozen operations of each machine, for `staff`."""

    def __init__(self, problem: Problem) -> None:
        self.windows = [[(w.start, w.end) for w in m.unavailable] for m in problem.machines]
        self.fixed: list[list[tuple[int, int, int]]] = [[] for _ in problem.machines]
        self.frozen = problem.frozen_by_op()

    def note(self, a: Assignment) -> None:
        if a.op in self.frozen:
            bisect.insort(self.fixed[a.machine], (a.start, a.end, a.op))

    def skip_windows(self, machine: int, t: int, duration: int, op: int) -> int:
        """The first start >= t that overlaps no window and no frozen operation."""
        if duration == 0:
            return t
        blockers = sorted(
            self.windows[machine] + [(s, e) for s, e, o in self.fixed[machine] if o != op]
        )
        for start, end in blockers:
            if end <= t:
                continue
            if start >= t + duration:
                break
            t = end
        return t
