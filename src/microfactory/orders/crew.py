"""The people of the factory: operators with skills and shift calendars, and which
machines and routing steps need one.

A machine's `crew` need applies to every operation it runs; a routing step's `crew`
overrides it for that step (products[i].routing[j].crew). Attendance:
* `run`: a qualified person attends the whole run (a mill, a finishing bench, inspection);
* `setup`: only for `setup_minutes` at the start and `unload_minutes` at the end (a printer
  that runs unattended);
* `share`: the whole run at `share_percent` of a person (one person minds two lasers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from microfactory.shopfloor.calendar import ShiftCalendar
from microfactory.shopfloor.machines import check_id

ATTENDANCE = ("run", "setup", "share")
STRICTNESS = {"setup": 0, "share": 1, "run": 2}


@dataclass(frozen=True)
class CrewNeed:
    """The person an operation needs (see the module docstring)."""

    skill: str
    attendance: str = "run"
    setup_minutes: float = 0.0
    unload_minutes: float = 0.0
    share_percent: int = 100

    def __post_init__(self) -> None:
        if not self.skill.strip():
            raise ValueError("a crew need names the skill it needs")
        if self.attendance not in ATTENDANCE:
            raise ValueError(
                f"unknown attendance {self.attendance!r} (one of: {', '.join(ATTENDANCE)})"
            )
        for name, value in (("setup", self.setup_minutes), ("unload", self.unload_minutes)):
            if not 0 <= value <= 10_000:
                raise ValueError(f"{name}_minutes must be between 0 and 10,000")
        if self.attendance == "setup" and self.setup_minutes + self.unload_minutes <= 0:
            raise ValueError("attendance 'setup' needs setup_minutes or unload_minutes")
        if not 1 <= self.share_percent <= 100:
            raise ValueError("share_percent must be between 1 and 100")
        if self.attendance != "share" and self.share_percent != 100:
            raise ValueError("share_percent below 100 needs attendance: share")


@dataclass(frozen=True)
class Operator:
    """A person who can attend operations needing one of `skills`, on `calendar`'s shifts
    (empty calendar: always available)."""

    id: str
    name: str
    skills: frozenset[str]
    calendar: ShiftCalendar = field(default_factory=ShiftCalendar)

    def __post_init__(self) -> None:
        check_id(self.id, "operator id")
        if not self.skills:
            raise ValueError("an operator needs at least one skill")
        if any(not skill.strip() for skill in self.skills):
            raise ValueError("skills must not be empty")


@dataclass(frozen=True)
class Crew:
    """The operators, and the crew needs of machines (by id) and routing steps (by
    product id and seq)."""

    operators: tuple[Operator, ...] = ()
    machines: Mapping[str, CrewNeed] = field(default_factory=dict)
    steps: Mapping[tuple[str, int], CrewNeed] = field(default_factory=dict)

    @property
    def skills(self) -> frozenset[str]:
        return frozenset(s for person in self.operators for s in person.skills)

    def need(self, product: str, seq: int, machines: Iterable[str]) -> CrewNeed | None:
        """The step's own need, else the strictest need among the machines that may run it
        (a plan must hold whichever machine it picks)."""
        own = self.steps.get((product, seq))
        if own is not None:
            return own
        needs = [self.machines[m] for m in machines if m in self.machines]
        if not needs:
            return None
        return max(needs, key=lambda n: (STRICTNESS[n.attendance], n.share_percent))

    def problems(
        self, machine_ids: Iterable[str], products: Mapping[str, Iterable[int]]
    ) -> list[tuple[str, str]]:
        """Cross-object problems as (field path, reason): duplicate operator ids, needs of
        unknown machines or steps, skills nobody has."""
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for i, person in enumerate(self.operators):
            if person.id in seen:
                found.append((f"operators[{i}].id", f"duplicate id {person.id!r}"))
            seen.add(person.id)
        known = set(machine_ids)
        skills = self.skills
        for machine, need in self.machines.items():
            if machine not in known:
                found.append((f"machines.{machine}.crew", "unknown machine"))
            if need.skill not in skills:
                found.append(
                    (
                        f"machines.{machine}.crew.skill",
                        f"no operator has skill {need.skill!r}",
                    )
                )
        for (product, seq), need in self.steps.items():
            if seq not in set(products.get(product, ())):
                found.append((f"products.{product}.routing", f"no step {seq}"))
            if need.skill not in skills:
                found.append(
                    (
                        f"products.{product}.routing[seq {seq}].crew.skill",
                        f"no operator has skill {need.skill!r}",
                    )
                )
        return found
