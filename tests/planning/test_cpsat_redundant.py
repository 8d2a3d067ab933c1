"""The redundant cumulative of the CP-SAT model goes only into shops whose operations
average enough machines: on nearly classic shops (Hurink's edata) it slowed the model
down (benchmarks/schedule/RESULTS.md, "Thirteenth session")."""

from __future__ import annotations

from dataclasses import replace

from ortools.sat.python import cp_model

from microfactory.planning.cpsat import (
    CUMULATIVE_MIN_MODES,
    add_redundant,
    add_variables,
    cumulative_helps,
    safe_horizon,
)
from microfactory.planning.model import Job, Machine, Mode, Operation, Problem, chain_precedences


def _shop(flexible_ops: int) -> Problem:
    """Ten one-machine operations on three machines, the first `flexible_ops` of them
    with a second machine."""
    operations = []
    for k in range(10):
        modes = (Mode(k % 3, 2 + k),)
        if k < flexible_ops:
            modes = (*modes, Mode((k + 1) % 3, 3 + k))
        operations.append(Operation(job=k // 5, modes=modes))
    return Problem(
        machines=(Machine(), Machine(), Machine()),
        jobs=(Job(), Job()),
        operations=tuple(operations),
        precedences=chain_precedences([list(range(5)), list(range(5, 10))]),
    )


def _cumulatives(problem: Problem) -> int:
    model = cp_model.CpModel()
    variables = add_variables(model, problem, safe_horizon(problem))
    add_redundant(model, problem, variables)
    return sum(bool(c.has_cumulative()) for c in model.Proto().constraints)


def test_a_nearly_classic_shop_gets_no_cumulative() -> None:
    nearly = _shop(flexible_ops=2)  # 1.2 machines per operation
    assert not cumulative_helps(nearly)
    assert _cumulatives(nearly) == 0


def test_a_flexible_shop_gets_one() -> None:
    flexible = _shop(flexible_ops=3)  # 1.3 machines per operation: the threshold
    assert CUMULATIVE_MIN_MODES == 1.3
    assert cumulative_helps(flexible)
    assert _cumulatives(flexible) == 1


def test_one_machine_or_a_classic_shop_gets_none() -> None:
    classic = _shop(flexible_ops=0)
    assert not cumulative_helps(classic)
    single = replace(
        classic,
        machines=(Machine(),),
        operations=tuple(replace(op, modes=(Mode(0, 2),)) for op in classic.operations),
    )
    assert not cumulative_helps(single)
    assert _cumulatives(single) == 0
