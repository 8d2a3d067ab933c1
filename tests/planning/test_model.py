"""Problem invariants: each broken rule raises ValueError naming it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from microfactory.planning.model import (
    FrozenOp,
    Job,
    Machine,
    Mode,
    Operation,
    Problem,
    Window,
)


def _problem(**overrides: object) -> Problem:
    fields: dict[str, object] = {
        "machines": (Machine(name="m0", unavailable=(Window(10, 20),)),),
        "jobs": (Job(name="j0"),),
        "operations": (
            Operation(job=0, modes=(Mode(0, 5),)),
            Operation(job=0, modes=(Mode(0, 3),)),
        ),
        "precedences": ((0, 1),),
    }
    fields.update(overrides)
    return Problem(**fields)  # type: ignore[arg-type]


INVALID: list[tuple[str, Callable[[], object]]] = [
    # a duration cannot be negative
    ("duration must be >= 0", lambda: Mode(0, -1)),
    # a window must have positive length
    ("window end must be after window start", lambda: Window(5, 5)),
    # overlapping windows on one machine are ambiguous
    ("must not overlap", lambda: Machine(unavailable=(Window(0, 10), Window(5, 12)))),
    # one mode per machine
    ("at most one mode per machine", lambda: Operation(job=0, modes=(Mode(0, 1), Mode(0, 2)))),
    # negative setup time
    ("setup time", lambda: Machine(setups={("a", "b"): -1})),
    # negative weight
    ("weight must be >= 0", lambda: Job(weight=-1)),
    # cycle in the precedence graph
    ("must form a DAG", lambda: _problem(precedences=((0, 1), (1, 0)))),
    # a mode on a machine that does not exist
    (
        "unknown machine",
        lambda: _problem(operations=(Operation(job=0, modes=(Mode(3, 5),)),), precedences=()),
    ),
    # an operation of a job that does not exist
    (
        "unknown job",
        lambda: _problem(operations=(Operation(job=2, modes=(Mode(0, 5),)),), precedences=()),
    ),
    # a precedence on an operation that does not exist
    ("unknown operation", lambda: _problem(precedences=((0, 7),))),
    # frozen on a machine the operation cannot use
    ("has no mode for", lambda: _problem(frozen=(FrozenOp(0, 1, 0),))),
    # frozen across a maintenance window
    ("overlaps an unavailability window", lambda: _problem(frozen=(FrozenOp(0, 0, 8),))),
    # frozen twice
    ("frozen twice", lambda: _problem(frozen=(FrozenOp(0, 0, 0), FrozenOp(0, 0, 0)))),
]


@pytest.mark.parametrize(("message", "build"), INVALID, ids=[m for m, _ in INVALID])
def test_invalid_problem_raises_value_error_naming_the_rule(
    message: str, build: Callable[[], object]
) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_windows_are_sorted_on_construction() -> None:
    machine = Machine(unavailable=(Window(30, 40), Window(0, 10)))
    assert [w.start for w in machine.unavailable] == [0, 30]


def test_operation_without_modes_is_a_valid_problem() -> None:
    problem = _problem(operations=(Operation(job=0, modes=()),), precedences=())
    assert problem.ops_without_modes() == [0]
