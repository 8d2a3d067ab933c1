"""Finite-capacity scheduling: a pure flexible job-shop model with due dates, setups,
calendars and frozen operations; dispatching heuristics, a CP-SAT model and LNS behind one
`solve` interface; benchmark readers and an independent checker. No I/O beyond reading a
file given by path."""

from typing import TYPE_CHECKING, Any

from microfactory.planning.checker import check_plan
from microfactory.planning.model import (
    Assignment,
    FrozenOp,
    Job,
    Machine,
    Mode,
    Objective,
    Operation,
    Problem,
    Window,
)
from microfactory.planning.result import ScheduleResult, Status

if TYPE_CHECKING:
    from microfactory.planning.solver import solve


def __getattr__(name: str) -> Any:
    """`solve` is imported on first use: it pulls in OR-Tools and numba (about a second),
    which reading a stored plan or quoting a part does not need."""
    if name == "solve":
        from microfactory.planning.solver import solve

        return solve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Assignment",
    "FrozenOp",
    "Job",
    "Machine",
    "Mode",
    "Objective",
    "Operation",
    "Problem",
    "ScheduleResult",
    "Status",
    "Window",
    "check_plan",
    "solve",
]
