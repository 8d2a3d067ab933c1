"""Machine-order local search, compiled with numba: polishes a due-date plan operation by
operation after job-sequence search.

A plan is represented by its machine orders (which operation runs after which on every
machine). Times follow from the orders by one forward pass in topological order (job
precedences plus machine orders): every operation starts as early as its predecessors,
the setup from the operation before it on its machine, its release and the machine's
calendar allow (frozen operations keep their start). Starting from a plan, the pass never
starts anything later, so the plan's own orders reproduce it or better.

Why after job-sequence search: a decoded job sequence places every operation of a job as
early as possible when the job's turn comes, so an early job with slack can hold a slot
that a later, late job needs. Moving single operations of late jobs earlier in a machine's
order (or onto another machine that can run them) reaches plans no job sequence decodes to.
Moves: an operation of a late job (drawn by its job's weighted tardiness) a few places
earlier on its machine (60 %; half of these take an operation on the late job's critical
chain that waits for the one before it on its machine, possibly of another job) or onto
another of its machines near the same time (25 %); a random operation swapped with the
one before it (15 %). A move that closes a cycle, or
makes a frozen operation or a deadline impossible, is rejected. Acceptance: late
acceptance, as in `sequence`.

Evaluation is incremental: a move re-times only what it changed, passing a change from
an operation to its successors in the current plan's start order and stopping where
times stay the same (`timing.propagate`); where that order does not fit the new orders, every
operation from the earliest one the move touched is re-timed by a pass that stops as
soon as the partial objective exceeds the acceptance threshold (`timing.evaluate_from`). On
the 2,000-operation factory a candidate re-times ~330 of 2,003 operations (16 %) and
the search tries ~40,000 candidates/s instead of ~22,000 with a whole pass each (same
start, one process, benchmarks/schedule/RESULTS.md). Tests run both against a whole
pass for every candidate (`search(..., verify=True)`).

Where things are:

* `arrays`: the structures the kernels take (`Instance`, `Plan`, `StartOrder`,
  `Scratch`, `SearchState`, `Options`), one NamedTuple of arrays per group;
* `timing`: the forward pass (`evaluate`), the incremental re-timing (`evaluate_from`,
  `propagate`, `rescore`) and the start order's upkeep (`resort`), all built on one
  `earliest_start` step;
* `moves`: the moves and the edits of machine orders;
* `steps`: the late-acceptance loop that ties them together;
* `order_search`: the Python side: `OrderSearch`, `search` (what the solver calls) and
  `warm`.

numba caches each kernel by its own file: after editing a kernel that another module's
kernels call (e.g. `timing.earliest_start`), delete `planning/reorder/__pycache__`
(see `kernels`).
"""

from microfactory.planning.reorder.moves import CHAIN_SHARE
from microfactory.planning.reorder.order_search import (
    CHUNK,
    LATE_ACCEPTANCE,
    OrderSearch,
    instance_of,
    search,
    warm,
)
from microfactory.planning.reorder.timing import (
    CYCLE,
    IMPOSSIBLE,
    NO_BOUND,
    OUT_OF_ORDER,
    PRUNED,
)

__all__ = [
    "CHAIN_SHARE",
    "CHUNK",
    "CYCLE",
    "IMPOSSIBLE",
    "LATE_ACCEPTANCE",
    "NO_BOUND",
    "OUT_OF_ORDER",
    "PRUNED",
    "OrderSearch",
    "instance_of",
    "search",
    "warm",
]
