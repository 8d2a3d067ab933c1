"""Job-sequence local search: fast improvement of due-date plans on large instances.

A plan is decoded from a job sequence: operations are placed one at a time, the ready
operation (all predecessors placed) of the job earliest in the sequence first, each
inserted into the earliest gap of the mode that finishes first (setups with both
neighbours, calendar windows, releases), as the serial dispatching rules do. With
precedences inside jobs only, jobs are placed one after another.

The search moves jobs in the sequence (a late job forward, drawn by its weighted
tardiness; two nearby jobs swapped; a job back) and accepts by late acceptance: a candidate
not worse than the current sequence or than the current one some iterations ago. Unlike
window LNS, which keeps everything outside a small window fixed in time, one move re-times
every job after it, so a late job can overtake a whole queue.

Three things make tens of thousands of candidates a minute possible:
* checkpoints: the decoder state is saved every few jobs; a candidate that changes the
  sequence from position k on resumes from the last checkpoint taken before position k;
* pruning: weighted tardiness and makespan only grow while operations are placed (placed
  operations never move), so a candidate is dropped as soon as its partial objective
  exceeds the incumbent's;
* the search loop runs compiled (`fastseq`, numba), on the same decoding rules as
  `SequenceDecoder` here, which stays the readable reference (tests compare the two) and
  decodes starting points and the final plan.
"""

from __future__ import annotations

import functools
import heapq
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from microfactory.planning.fastseq import FastDecoder
from microfactory.planning.heuristics import tails
from microfactory.planning.kernels import warm_once
from microfactory.planning.model import Assignment, Objective, Problem
from microfactory.planning.rounds import Rounds, WorkerFailures, parallel_rounds
from microfactory.planning.search_settings import DEFAULT_SETTINGS, SearchSettings

CHECKPOINTS = 12  # saved states per decode; more cost more copying than they save (8-40 tried)
REORDER_ROUNDS = 6  # starting points: re-sequence by completion order this often
LATE_ACCEPTANCE = 30  # iterations back (measured 10, 30, 60, 200: 30 best, 200 worst)


@dataclass
class _State:
    """Everything the decoder needs to continue from here (lists copied on `copy`)."""

    starts: list[list[int]]  # per machine, sorted
    ends: list[list[int]]
    families: list[list[int]]  # family ids
    est: list[int]  # per operation: release and placed predecessors
    missing: list[int]  # per operation: predecessors not yet placed
    ready: list[int]  # operations whose predecessors are all placed, not yet placed
    machine: list[int]  # per operation, -1 until placed
    start: list[int]
    end: list[int]
    left: list[int]  # per job: operations not yet placed
    completion: list[int]  # per job
    tardiness: int = 0
    makespan: int = 0
    max_rank: int = -1  # highest sequence position of a placed operation's job

    def copy(self) -> _State:
        return _State(
            starts=[list(x) for x in self.starts],
            ends=[list(x) for x in self.ends],
            families=[list(x) for x in self.families],
            est=list(self.est),
            missing=list(self.missing),
            ready=list(self.ready),
            machine=list(self.machine),
            start=list(self.start),
            end=list(self.end),
            left=list(self.left),
            completion=list(self.completion),
            tardiness=self.tardiness,
            makespan=self.makespan,
            max_rank=self.max_rank,
        )


@dataclass
class Decoded:
    """A fully decoded sequence: its objective value, final state and checkpoints."""

    value: int
    state: _State
    checkpoints: list[_State] = field(default_factory=list)

    def plan(self) -> list[Assignment]:
        s = self.state
        return [
            Assignment(op, s.machine[op], s.start[op], s.end[op]) for op in range(len(s.machine))
        ]

    def job_tardiness(self, problem: Problem) -> list[int]:
        completion = self.state.completion
        return [
            job.weight * max(0, completion[j] - job.due) if job.due is not None else 0
            for j, job in enumerate(problem.jobs)
        ]


class SequenceDecoder:
    """Decodes job sequences of one problem for one objective (see the module doc).

    `scale` is the lexicographic objective's factor (must exceed any makespan)."""

    def __init__(self, problem: Problem, objective: Objective, scale: int) -> None:
        if problem.ops_without_modes():
            raise ValueError("every operation needs at least one mode to be decoded")
        if not frozen_predecessors_frozen(problem):
            raise ValueError(
                "a frozen operation follows one that is not frozen: the decoder cannot "
                "promise to finish it in time"
            )
        self.problem = problem
        ops = problem.operations
        # shortest first: _best_mode stops at a mode that cannot finish first
        self.modes = [sorted((m.duration, m.machine) for m in op.modes) for op in ops]
        names = sorted({op.family for op in ops})
        ids = {name: k for k, name in enumerate(names)}
        self.family = [ids[op.family] for op in ops]
        self.setup_table: list[list[list[int]] | None] = [
            [[machine.setup(a, b) for b in names] for a in names] if machine.has_setups else None
            for machine in problem.machines
        ]
        self.job = [op.job for op in ops]
        self.succ = problem.successors()
        self.tail = tails(problem)
        self.window_starts = [[w.start for w in m.unavailable] for m in problem.machines]
        self.window_ends = [[w.end for w in m.unavailable] for m in problem.machines]
        self.due = [job.due for job in problem.jobs]
        self.weight = [job.weight for job in problem.jobs]
        if objective is Objective.MAKESPAN:
            self.factors = (0, 1)
        elif objective is Objective.WEIGHTED_TARDINESS:
            self.factors = (1, 0)
        else:
            self.factors = (scale, 1)
        self.every = max(1, len(problem.jobs) // CHECKPOINTS)
        self.initial = self._initial_state()

    def _initial_state(self) -> _State:
        p = self.problem
        n, n_machines = p.n_ops, len(p.machines)
        s = _State(
            starts=[[] for _ in range(n_machines)],
            ends=[[] for _ in range(n_machines)],
            families=[[] for _ in range(n_machines)],
            est=[p.release_of(op) for op in range(n)],
            missing=[len(preds) for preds in p.predecessors()],
            ready=[],
            machine=[-1] * n,
            start=[0] * n,
            end=[0] * n,
            left=[len(ops) for ops in p.job_ops()],
            completion=[0] * len(p.jobs),
        )
        for item in p.frozen:
            duration = p.operations[item.op].duration_on(item.machine) or 0
            self._place(s, item.op, item.machine, item.start, item.start + duration)
        s.ready = [op for op in range(n) if s.missing[op] == 0 and s.machine[op] < 0]
        s.tardiness, s.makespan = self._objective_parts(s)
        return s

    def _objective_parts(self, s: _State) -> tuple[int, int]:
        tardiness = 0
        for j, due in enumerate(self.due):
            if s.left[j] == 0 and due is not None:
                tardiness += self.weight[j] * max(0, s.completion[j] - due)
        return tardiness, max(s.end, default=0)

    def value(self, s: _State) -> int:
        return s.tardiness * self.factors[0] + s.makespan * self.factors[1]

    # -- decoding ----------------------------------------------------------------------

    def decode(
        self,
        rank: Sequence[int],
        resume: _State | None = None,
        bound: int | None = None,
    ) -> Decoded | None:
        """Decode the sequence given as `rank` (job -> position), from `resume` (a
        checkpoint valid for it) or from the start; None as soon as the partial objective
        exceeds `bound`."""
        s = (resume or self.initial).copy()
        tail, job, succ = self.tail, self.job, self.succ
        heap = [(rank[job[op]], -tail[op], op) for op in s.ready]
        heapq.heapify(heap)
        checkpoints: list[_State] = []
        mark = (s.max_rank // self.every + 1) * self.every
        tw, mw = self.factors
        while heap:
            r = heap[0][0]
            if r >= mark:
                s.ready = [item[2] for item in heap]
                checkpoints.append(s.copy())
                mark = (r // self.every + 1) * self.every
            op = heapq.heappop(heap)[2]
            if r > s.max_rank:
                s.max_rank = r
            machine, start, end = self._best_mode(s, op)
            self._place(s, op, machine, start, end)
            if bound is not None and s.tardiness * tw + s.makespan * mw > bound:
                return None
            for nxt in succ[op]:
                if s.missing[nxt] == 0 and s.machine[nxt] < 0:
                    heapq.heappush(heap, (rank[job[nxt]], -tail[nxt], nxt))
        s.ready = []
        return Decoded(self.value(s), s, checkpoints)

    def _place(self, s: _State, op: int, machine: int, start: int, end: int) -> None:
        starts, ends = s.starts[machine], s.ends[machine]
        pos = bisect_right(starts, start)
        while pos > 0 and starts[pos - 1] == start and ends[pos - 1] > end:
            pos -= 1  # keep (start, end) order for zero-length operations
        starts.insert(pos, start)
        ends.insert(pos, end)
        s.families[machine].insert(pos, self.family[op])
        s.machine[op], s.start[op], s.end[op] = machine, start, end
        if end > s.makespan:
            s.makespan = end
        j = self.job[op]
        s.left[j] -= 1
        if end > s.completion[j]:
            s.completion[j] = end
        if s.left[j] == 0 and self.due[j] is not None:
            s.tardiness += self.weight[j] * max(0, s.completion[j] - (self.due[j] or 0))
        for nxt in self.succ[op]:
            s.missing[nxt] -= 1
            if end > s.est[nxt]:
                s.est[nxt] = end

    def _best_mode(self, s: _State, op: int) -> tuple[int, int, int]:
        """(machine, start, end) of the mode that finishes first (then starts first, then
        lowest machine index), as the dispatching rules choose."""
        best: tuple[int, int, int] | None = None
        est, family = s.est[op], self.family[op]
        for duration, machine in self.modes[op]:
            if best is not None and est + duration > best[0]:
                break  # this mode and every longer one end after the best
            latest = best[0] - duration if best is not None else None
            start = self._fit(s, machine, est, duration, family, latest)
            if start < 0:
                continue
            candidate = (start + duration, start, machine)
            if best is None or candidate < best:
                best = candidate
        assert best is not None
        return best[2], best[1], best[0]

    def _fit(
        self, s: _State, m: int, est: int, duration: int, family: int, latest: int | None
    ) -> int:
        """The earliest start >= est in a gap of machine m that fits the operation with
        the setups from its predecessor and to its successor, outside calendar windows;
        -1 when that start would be after `latest`."""
        starts, ends, families = s.starts[m], s.ends[m], s.families[m]
        setup = self.setup_table[m]
        wstarts, wends = self.window_starts[m], self.window_ends[m]
        n = len(starts)
        index = max(0, bisect_left(starts, est) - 1)
        while True:
            while 0 < index < n:  # skip gaps too short even without setups and windows
                ready = ends[index - 1]
                if ready < est:
                    ready = est
                if ready + duration <= starts[index]:
                    break
                index += 1
            t = est
            if index > 0:
                ready = ends[index - 1]
                if setup:
                    ready += setup[families[index - 1]][family]
                if ready > t:
                    t = ready
            if duration and wstarts:
                k = bisect_right(wends, t)
                while k < len(wstarts) and wstarts[k] < t + duration:
                    t = wends[k]
                    k += 1
            if latest is not None and t > latest:
                return -1
            if index == n:
                return t
            after = t + duration
            if setup:
                after += setup[family][families[index]]
            if after <= starts[index]:
                return t
            index += 1


def frozen_predecessors_frozen(problem: Problem) -> bool:
    """True when every predecessor of a frozen operation is frozen too (as after
    `rescheduling.freeze_started`); otherwise a decoded plan could finish a predecessor
    after its frozen successor starts."""
    frozen = problem.frozen_by_op()
    preds = problem.predecessors()
    return all(p in frozen for op in frozen for p in preds[op])


@dataclass
class SequenceStats:
    candidates: int = 0
    pruned: int = 0
    improvements: int = 0
    history: list[tuple[float, int]] = field(default_factory=list)
    failures: WorkerFailures = field(default_factory=WorkerFailures)


def initial_sequences(
    problem: Problem, plans: Sequence[Sequence[Assignment]] = ()
) -> list[list[int]]:
    """Starting sequences: earliest due date, least slack (due date minus the job's longest
    remaining path), and the order in which each given plan completes its jobs."""
    tail = tails(problem)
    job_tail = [0] * len(problem.jobs)
    for op, operation in enumerate(problem.operations):
        job_tail[operation.job] = max(job_tail[operation.job], tail[op])
    never = 10**15

    def due(j: int) -> int:
        value = problem.jobs[j].due
        return never if value is None else value

    jobs = range(len(problem.jobs))
    sequences = [
        sorted(jobs, key=lambda j: (due(j), -job_tail[j], j)),
        sorted(jobs, key=lambda j: (due(j) - job_tail[j], j)),
    ]
    for plan in plans:
        completion = [0] * len(problem.jobs)
        for a in plan:
            owner = problem.operations[a.op].job
            completion[owner] = max(completion[owner], a.end)
        sequences.append(sorted(jobs, key=lambda j: (completion[j], due(j), j)))
    return sequences


def search(
    problem: Problem,
    objective: Objective,
    time_limit: float,
    scale: int,
    seed: int = 0,
    plans: Sequence[Sequence[Assignment]] = (),
    stats: SequenceStats | None = None,
    workers: int = 1,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> list[Assignment]:
    """The best plan found by job-sequence local search within `time_limit` seconds,
    starting from the best of `initial_sequences` (`plans`: heuristic plans whose job
    completion order is one more start). With `workers` > 1 and enough time, that many
    processes search from the best sequence so far in rounds (`rounds.parallel_rounds`:
    in the first round each from one of the best starts; a crashed worker is counted in
    `stats.failures`, and the search goes on here from the best sequence so far)."""
    began = time.perf_counter()
    deadline = began + time_limit
    stats = stats if stats is not None else SequenceStats()
    warm()  # compiles once per machine (cached), before the clock of the rounds starts
    decoder = SequenceDecoder(problem, objective, scale)
    starts = starting_points(decoder, initial_sequences(problem, plans), began + 0.1 * time_limit)
    best_value, sequence = starts[0]
    stats.history.append((time.perf_counter() - began, best_value))
    if len(sequence) < 2:
        return _plan(decoder, sequence)
    if workers > 1 and time_limit >= settings.sequence_parallel_min_seconds:
        rounds = Rounds(settings.sequence_round_seconds, stop_below=0.2, send_back=0.1, share=1 / 8)
        outcome = parallel_rounds(
            functools.partial(_round, problem, objective, scale),
            [s for _, s in starts[:workers]],
            sequence,
            best_value,
            deadline,
            seed,
            rounds,
            "job-sequence search",
            stats.failures,
        )
        if outcome.counts:
            stats.candidates += outcome.counts[0]
            stats.pruned += outcome.counts[1]
        stats.improvements += len(outcome.improvements)
        stats.history.extend((t - began, value) for t, value in outcome.improvements)
        if not outcome.broken:
            return _plan(decoder, outcome.best)
        sequence = outcome.best  # and search on here
    found, _ = descend(decoder, sequence, deadline, seed, stats, began)
    return _plan(decoder, found)


def _plan(decoder: SequenceDecoder, sequence: Sequence[int]) -> list[Assignment]:
    decoded = decoder.decode(ranks_of(sequence))
    assert decoded is not None  # no bound: every decode completes
    return decoded.plan()


def starting_points(
    decoder: SequenceDecoder, sequences: Sequence[list[int]], deadline: float
) -> list[tuple[int, list[int]]]:
    """(value, sequence) pairs, best first, without repeats: each given sequence and the
    sequences reached from it by re-sequencing jobs in the order its plan completes them
    (up to REORDER_ROUNDS times, until `deadline`). Measured on the 2,000-operation
    factory: the earliest-due-date sequence 346,467 -> 270,880-300,680 within 6 rounds,
    and the search ends lower from such a start."""
    found: dict[tuple[int, ...], int] = {}
    for sequence in sequences:
        for _ in range(REORDER_ROUNDS + 1):
            key = tuple(sequence)
            if key in found:
                break
            decoded = decoder.decode(ranks_of(sequence))
            assert decoded is not None
            found[key] = decoded.value
            if time.perf_counter() > deadline:
                break
            completion = decoded.state.completion
            sequence = sorted(sequence, key=lambda j: completion[j])
    return sorted(((value, list(key)) for key, value in found.items()), key=lambda x: x[0])


def descend(
    decoder: SequenceDecoder,
    sequence: list[int],
    deadline: float,
    seed: int,
    stats: SequenceStats,
    began: float,
) -> tuple[list[int], int]:
    """Late-acceptance hill climbing (Burke & Bykov 2017) from `sequence` until
    `deadline`, compiled (`fastseq`): a candidate is accepted when it is not worse than
    the current sequence or than the current sequence LATE_ACCEPTANCE iterations ago; the
    best sequence seen and its value are returned. Moves: a late job forward (drawn by its
    weighted tardiness, 70 %), two nearby jobs swapped (20 %), a job back (10 %).
    Measured on the 2,000-operation factory (30 s, one process, 3 seeds): 164,488-171,103
    against 177,101-199,578 when only candidates that are not worse than the current one
    are accepted (then in pure Python)."""
    fast = FastDecoder(decoder)

    def improved(value: int) -> None:
        stats.improvements += 1
        stats.history.append((time.perf_counter() - began, value))

    found, value, counts = fast.descend(sequence, deadline, seed, LATE_ACCEPTANCE, improved)
    stats.candidates += counts[0]
    stats.pruned += counts[1]
    return found, value


def _round(
    problem: Problem,
    objective: Objective,
    scale: int,
    sequence: list[int],
    seconds: float,
    seed: int,
) -> tuple[int, list[int], tuple[int, int]]:
    """One worker's round (runs in a child process): (value, sequence, (candidates,
    pruned)). The first three arguments are bound by `functools.partial`."""
    began = time.perf_counter()
    decoder = SequenceDecoder(problem, objective, scale)
    stats = SequenceStats()
    found, value = descend(decoder, sequence, began + seconds, seed, stats, began)
    return value, found, (stats.candidates, stats.pruned)


def ranks_of(sequence: Sequence[int]) -> list[int]:
    rank = [0] * len(sequence)
    for position, j in enumerate(sequence):
        rank[j] = position
    return rank


def warm() -> float:
    """Compile the compiled decoder's kernels (`fastseq`; the first time on a machine:
    about 10 s, then cached next to that module) or load them from the cache, once per
    process; the seconds taken. Called before a search so that its own time and its
    worker processes (which load the cache) are not charged with compiling."""
    return warm_once("sequence", _exercise)


def _exercise() -> None:
    from microfactory.planning.model import Job, Machine, Mode, Operation

    problem = Problem(
        machines=(Machine(), Machine()),
        jobs=tuple(Job(due=5) for _ in range(3)),
        operations=tuple(Operation(job=j, modes=(Mode(0, 3 + j), Mode(1, 4))) for j in range(3)),
        precedences=(),
    )
    fast = FastDecoder(SequenceDecoder(problem, Objective.WEIGHTED_TARDINESS, 100))
    fast.decode([0, 1, 2])
    fast.descend([0, 1, 2], time.perf_counter(), 0, 2)
