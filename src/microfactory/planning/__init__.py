"""Finite-capacity scheduling: a pure flexible job-shop model with due dates, setups,
calendars and frozen operations; dispatching heuristics, a CP-SAT model and LNS behind one
`solve` interface; benchmark readers and an independent checker. No I/O beyond reading a
file given by path."""

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
from microfactory.planning.solver import solve

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
