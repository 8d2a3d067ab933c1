"""The arrays the machine-order search's kernels work on, grouped by what they describe.

Every array is int64. An `Instance` is the problem and never changes during a search; a
`Solution` is one plan as machine orders with the times they give; a `StartOrder` indexes
the current plan by start time; `Scratch` holds the passes' work arrays. The scalars a
search carries from one compiled call to the next (current and best value, counters) live
in one `tally` array, indexed by the names below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from microfactory.planning.kernels import csr
from microfactory.planning.model import Assignment, Objective, Problem

# what a pass returns instead of an objective value (values are >= 0)
PRUNED, CYCLE, IMPOSSIBLE, OUT_OF_ORDER = -1, -2, -3, -4
NO_BOUND = 2**62

# slots of the `tally` array
(
    VALUE,  # the current plan's objective
    BEST,  # the best plan's objective
    ITERATION,  # candidates tried (the late-acceptance list's clock)
    TARDINESS,  # the current plan's weighted tardiness and makespan
    MAKESPAN,
    STAMP,  # the last mark stamp used (marks compare equal to a stamp, never reset)
    VERIFY,  # 1: evaluate every candidate by a whole pass too (tests)
    MISMATCHES,  # candidates where the incremental evaluation disagreed with it
    INCREMENTAL,  # 1: propagation allowed (no zero durations)
    NEW_TARDINESS,  # the candidate's weighted tardiness and makespan
    NEW_MAKESPAN,
    CANDIDATES,  # counters: candidates, rejected, improvements of the best,
    REJECTED,
    IMPROVEMENTS,
    RETIMED,  # operations re-timed, candidates evaluated by propagation
    PROPAGATED,
    TALLY_SIZE,
) = range(17)


class Instance(NamedTuple):
    """The problem as flat arrays. Compressed rows (see `kernels.csr`): an operation's
    job predecessors are pred_idx[pred_ptr[op]:pred_ptr[op + 1]], and so on."""

    pred_ptr: np.ndarray
    pred_idx: np.ndarray
    succ_ptr: np.ndarray
    succ_idx: np.ndarray
    release: np.ndarray  # per operation
    deadline: np.ndarray  # per operation, -1: none
    fixed: np.ndarray  # per operation: a frozen operation's start, -1: not frozen
    movable: np.ndarray  # per operation: 0 for a frozen one
    family: np.ndarray  # per operation: setup family id
    setup: np.ndarray  # [machine, family before, family after]
    has_setup: np.ndarray  # per machine
    win_ptr: np.ndarray  # per machine: calendar windows (sorted, disjoint)
    win_start: np.ndarray
    win_end: np.ndarray
    job: np.ndarray  # per operation
    job_ptr: np.ndarray  # per job: its operations
    job_ops: np.ndarray
    job_size: np.ndarray
    due: np.ndarray  # per job (0 without a due date)
    has_due: np.ndarray
    weight: np.ndarray
    mode_ptr: np.ndarray  # per operation: the machines that can run it and how long
    mode_mach: np.ndarray
    mode_dur: np.ndarray
    seg_off: np.ndarray  # per machine: where its order starts in `Solution.order`
    tw: int  # objective = tw * weighted tardiness + mw * makespan
    mw: int


class Solution(NamedTuple):
    """One plan: machine orders and the times the forward pass gives them."""

    mach: np.ndarray  # per operation: its machine
    dur: np.ndarray  # per operation: its duration there
    order: np.ndarray  # machine m's operations in order: order[seg_off[m]:][:cnt[m]]
    cnt: np.ndarray  # per machine: how many operations it runs
    pos: np.ndarray  # per operation: its place in its machine's order
    start: np.ndarray  # per operation
    end: np.ndarray
    comp: np.ndarray  # per job: completion


class StartOrder(NamedTuple):
    """The current plan's operations sorted by start (topological for its orders when no
    duration is zero), with the running maximum of their ends and each one's rank."""

    by_start: np.ndarray
    prefix_end: np.ndarray
    rank: np.ndarray


class Scratch(NamedTuple):
    """Work arrays of the passes (n operations, n_jobs jobs)."""

    indeg: np.ndarray  # n: predecessors not yet timed
    queue: np.ndarray  # n: operations in the order they were timed
    left: np.ndarray  # n_jobs: operations not yet timed
    mark: np.ndarray  # n: == stamp for the operations a pass covers
    done: np.ndarray  # n: == stamp once propagation has timed an operation
    keys: np.ndarray  # 2n + 4: propagation's queue, by key
    changed: np.ndarray  # n: operations a candidate re-timed
    touched: np.ndarray  # n_jobs: jobs a pass covers
    job_mark: np.ndarray  # n_jobs
    spare: np.ndarray  # n: for sorting re-timed operations back in
    spare2: np.ndarray  # n
    check: Solution  # a whole pass over the candidate's orders (verify)


def build_instance(problem: Problem, objective: Objective, scale: int) -> Instance:
    """The flat arrays of `problem` for `objective` (`scale`: the lexicographic
    objective's factor, which must exceed any makespan)."""
    n = problem.n_ops
    frozen = problem.frozen_by_op()
    names = sorted({op.family for op in problem.operations})
    ids = {name: k for k, name in enumerate(names)}
    n_machines = len(problem.machines)
    setup = np.zeros((n_machines, len(names), len(names)), dtype=np.int64)
    has_setup = np.zeros(n_machines, dtype=np.int64)
    for m, machine in enumerate(problem.machines):
        if machine.has_setups:
            has_setup[m] = 1
            for a, fa in enumerate(names):
                for b, fb in enumerate(names):
                    setup[m, a, b] = machine.setup(fa, fb)
    pred_ptr, pred_idx = csr(problem.predecessors())
    succ_ptr, succ_idx = csr(problem.successors())
    win_ptr, win_start = csr([[w.start for w in m.unavailable] for m in problem.machines])
    _, win_end = csr([[w.end for w in m.unavailable] for m in problem.machines])
    job_ops = problem.job_ops()
    job_ptr, job_flat = csr(job_ops)
    modes = [[(m.machine, m.duration) for m in op.modes] for op in problem.operations]
    mode_ptr, mode_mach = csr([[m for m, _ in ms] for ms in modes])
    _, mode_dur = csr([[d for _, d in ms] for ms in modes])
    if objective is Objective.MAKESPAN:
        tw, mw = 0, 1
    elif objective is Objective.WEIGHTED_TARDINESS:
        tw, mw = 1, 0
    else:
        tw, mw = scale, 1
    return Instance(
        pred_ptr=pred_ptr,
        pred_idx=pred_idx,
        succ_ptr=succ_ptr,
        succ_idx=succ_idx,
        release=np.array([problem.release_of(op) for op in range(n)], dtype=np.int64),
        deadline=np.array(
            [-1 if op.deadline is None else op.deadline for op in problem.operations],
            dtype=np.int64,
        ),
        fixed=np.array(
            [frozen[op].start if op in frozen else -1 for op in range(n)], dtype=np.int64
        ),
        movable=np.array([op not in frozen for op in range(n)], dtype=np.int64),
        family=np.array([ids[op.family] for op in problem.operations], dtype=np.int64),
        setup=setup,
        has_setup=has_setup,
        win_ptr=win_ptr,
        win_start=win_start,
        win_end=win_end,
        job=np.array([op.job for op in problem.operations], dtype=np.int64),
        job_ptr=job_ptr,
        job_ops=job_flat,
        job_size=np.array([len(ops) for ops in job_ops], dtype=np.int64),
        due=np.array([job.due or 0 for job in problem.jobs], dtype=np.int64),
        has_due=np.array([job.due is not None for job in problem.jobs], dtype=np.int64),
        weight=np.array([job.weight for job in problem.jobs], dtype=np.int64),
        mode_ptr=mode_ptr,
        mode_mach=mode_mach,
        mode_dur=mode_dur,
        seg_off=_segments(problem),
        tw=int(tw),
        mw=int(mw),
    )


def _segments(problem: Problem) -> np.ndarray:
    """Where each machine's order starts in `Solution.order`: room for every operation
    that may run on it, frozen ones included."""
    n_machines = len(problem.machines)
    capacity = [0] * n_machines
    for op in problem.operations:
        for mode in op.modes:
            capacity[mode.machine] += 1
    for item in problem.frozen:
        capacity[item.machine] += 1
    seg_off = np.zeros(n_machines, dtype=np.int64)
    total = 0
    for m in range(n_machines):
        seg_off[m] = total
        total += capacity[m]
    return seg_off


def order_length(problem: Problem) -> int:
    """The length of `Solution.order` (every machine's room, at least 1)."""
    total = sum(len(op.modes) for op in problem.operations) + len(problem.frozen)
    return max(total, 1)


def empty_solution(n_ops: int, n_jobs: int, n_machines: int, width: int) -> Solution:
    return Solution(
        mach=np.zeros(n_ops, dtype=np.int64),
        dur=np.zeros(n_ops, dtype=np.int64),
        order=np.zeros(width, dtype=np.int64),
        cnt=np.zeros(max(1, n_machines), dtype=np.int64),
        pos=np.zeros(n_ops, dtype=np.int64),
        start=np.zeros(n_ops, dtype=np.int64),
        end=np.zeros(n_ops, dtype=np.int64),
        comp=np.zeros(n_jobs, dtype=np.int64),
    )


def solution_of(problem: Problem, plan: Sequence[Assignment], seg_off: np.ndarray) -> Solution:
    """The machine orders and times of `plan` (operations on a machine by start)."""
    sol = empty_solution(
        problem.n_ops, len(problem.jobs), len(problem.machines), order_length(problem)
    )
    for a in sorted(plan, key=lambda a: (a.start, a.end, a.op)):
        k = sol.cnt[a.machine]
        sol.mach[a.op] = a.machine
        sol.dur[a.op] = a.end - a.start
        sol.order[seg_off[a.machine] + k] = a.op
        sol.pos[a.op] = k
        sol.start[a.op], sol.end[a.op] = a.start, a.end
        sol.cnt[a.machine] = k + 1
    return sol


def copy_solution(sol: Solution) -> Solution:
    return Solution(*(a.copy() for a in sol))


def assignments(sol: Solution) -> list[Assignment]:
    return [
        Assignment(op, int(sol.mach[op]), int(sol.start[op]), int(sol.end[op]))
        for op in range(sol.mach.shape[0])
    ]


def scratch_for(cand: Solution, n_jobs: int) -> Scratch:
    """Work arrays for a search whose candidate is `cand`; `check` shares cand's orders."""
    n = cand.mach.shape[0]

    def ints(size: int) -> np.ndarray:
        return np.zeros(size, dtype=np.int64)

    check = cand._replace(start=ints(n), end=ints(n), comp=ints(n_jobs))
    return Scratch(
        indeg=ints(n),
        queue=ints(n),
        left=ints(n_jobs),
        mark=ints(n),
        done=ints(n),
        keys=ints(2 * n + 4),
        changed=ints(n),
        touched=ints(n_jobs),
        job_mark=ints(n_jobs),
        spare=ints(n),
        spare2=ints(n),
        check=check,
    )
