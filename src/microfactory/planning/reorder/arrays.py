"""The structures the machine-order kernels pass around, one `NamedTuple` of arrays per
group (numba compiles a NamedTuple of arrays like separate arguments, so grouping costs
nothing at run time):

* `Instance`: what the search never changes: the problem's arrays (precedences, time
  limits, machines, modes, jobs) and the objective's weights;
* `Plan`: one plan's machine orders and times, as views into its rows (`plan_view`);
* `StartOrder`: the current plan's operations sorted by start, what incremental
  evaluation walks;
* `Scratch`: buffers a candidate's evaluation reuses, and the stamp that marks them;
* `SearchState`: what one chunk of steps reads and advances, kept by the caller between
  chunks.

Operations, jobs and machines are 0-based indices; every array is int64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

# rows of a plan's (7, width) array, see `plan_view`
MACHINE, DURATION, ORDER, POSITION, START, END, COMPLETION = range(7)


class Instance(NamedTuple):
    """The problem as the kernels read it. Compressed rows (`*_ptr` / `*_idx`, see
    `kernels.csr`): row k of x is x_idx[x_ptr[k]:x_ptr[k + 1]]."""

    # per operation
    pred_ptr: np.ndarray  # its job predecessors (compressed rows)
    pred_idx: np.ndarray
    succ_ptr: np.ndarray  # its job successors (compressed rows)
    succ_idx: np.ndarray
    release: np.ndarray  # earliest start
    deadline: np.ndarray  # latest end, -1: none
    fixed: np.ndarray  # start of a frozen operation, -1: not frozen
    movable: np.ndarray  # 1 unless frozen
    family: np.ndarray  # setup family
    job: np.ndarray  # its job
    mode_ptr: np.ndarray  # the machines that can run it (compressed rows) ...
    mode_mach: np.ndarray
    mode_dur: np.ndarray  # ... and the duration on each
    # per machine
    setup: np.ndarray  # (machine, family before, family after): setup time
    has_setup: np.ndarray  # 1 when the machine has setups
    win_ptr: np.ndarray  # calendar windows when it cannot run (compressed rows, sorted)
    win_start: np.ndarray
    win_end: np.ndarray
    seg_off: np.ndarray  # where its order starts in a plan's flat ORDER row
    # per job
    due: np.ndarray  # due date (when has_due)
    has_due: np.ndarray
    weight: np.ndarray
    job_size: np.ndarray  # number of operations
    job_ptr: np.ndarray  # its operations (compressed rows)
    job_ops: np.ndarray
    # the objective: tw * weighted tardiness + mw * makespan
    tw: int
    mw: int


class Plan(NamedTuple):
    """One plan: machine orders and the times a forward pass gives them."""

    mach: np.ndarray  # per operation: its machine
    dur: np.ndarray  # its duration there
    order: np.ndarray  # every machine's order, flat: machine m's at seg_off[m]:+cnt[m]
    pos: np.ndarray  # per operation: its place in its machine's order
    cnt: np.ndarray  # per machine: how many operations its order holds
    start: np.ndarray  # per operation
    end: np.ndarray
    comp: np.ndarray  # per job: completion (the latest end of its operations)


@njit(cache=True)
def plan_view(rows: np.ndarray, cnt: np.ndarray, n: int, n_jobs: int) -> Plan:
    """The `Plan` whose arrays are views into `rows` (shape (7, width): machine, duration,
    order, position, start, end, completion; see MACHINE ...) and `cnt`, for n operations
    and n_jobs jobs; writing to the plan writes to `rows`."""
    return Plan(
        rows[MACHINE, :n],
        rows[DURATION, :n],
        rows[ORDER],
        rows[POSITION, :n],
        cnt,
        rows[START, :n],
        rows[END, :n],
        rows[COMPLETION, :n_jobs],
    )


class StartOrder(NamedTuple):
    """The current plan's operations sorted by start (ties: as they were), which is a
    topological order of its arcs when no duration is zero."""

    by_start: np.ndarray  # the operations, by start
    prefix_end: np.ndarray  # prefix_end[i]: the latest end of by_start[:i + 1]
    rank: np.ndarray  # per operation: its index in by_start


class Scratch(NamedTuple):
    """Buffers an evaluation overwrites. An operation or job is marked by writing the
    current stamp (stamp[0], raised before each use) into mark / done / job_mark, so
    that nothing needs clearing between candidates."""

    stamp: np.ndarray  # [the current stamp]
    mark: np.ndarray  # per operation
    done: np.ndarray  # per operation: computed by `propagate`
    job_mark: np.ndarray  # per job
    indeg: np.ndarray  # per operation: predecessors not yet computed
    queue: np.ndarray  # operations in the order a pass computes them
    left: np.ndarray  # per job: its operations not yet computed
    touched: np.ndarray  # jobs a partial pass re-computes
    queued: np.ndarray  # (2n + 4) keys waiting in `propagate`
    changed: np.ndarray  # operations a candidate re-timed
    spare: np.ndarray  # (3, n): a whole pass's times when verifying; `resort`'s buffers
    parts: np.ndarray  # [tardiness, makespan] of the candidate just evaluated


class SearchState(NamedTuple):
    """What the late-acceptance steps read and advance; the caller keeps it between
    chunks. cur / cand / best: plans as (7, width) rows (see `plan_view`); cand equals cur
    between steps."""

    cur: np.ndarray
    cand: np.ndarray  # cur with one move applied
    best: np.ndarray  # the best plan so far
    counts: np.ndarray  # (3, machines): operations per machine of cur / cand / best
    value: np.ndarray  # [current value, best value, steps taken]
    parts: np.ndarray  # [tardiness, makespan] of cur
    recent: np.ndarray  # late acceptance: the current value at each of the last steps
    starts: StartOrder  # of cur
    counters: np.ndarray  # candidates, rejected, improvements, re-timed, propagated
    mismatches: np.ndarray  # [candidates where a whole pass disagreed] (verify)


class Options(NamedTuple):
    """How the steps search: fixed for one search."""

    reach: int  # a move takes an operation at most this many places earlier
    verify: bool  # (tests) evaluate every candidate by a whole pass too, and compare
    incremental: bool  # propagation allowed (a start order is topological: no zero durations)
