"""Operators and crew needs in the factory file: read, validated like the rest."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core import ValidationError
from microfactory.orders.factory_file import factory_from_dict, load_factory


def _demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_FACTORY.read_text())
    return data


def test_demo_factory_has_a_crew_of_eight_over_two_shifts() -> None:
    factory = load_factory(DEMO_FACTORY)
    people = factory.crew.operators
    assert len(people) == 8
    starts = {person.calendar.shifts[0].start.hour for person in people}
    assert starts == {6, 14}
    printer = factory.crew.machines["fdm-01"]
    assert (printer.attendance, printer.setup_minutes) == ("setup", 10)
    assert factory.crew.machines["laser"].share_percent == 50
    assert factory.crew.need("bracket", 2, ["cnc", "finish"]).skill == "finish"  # type: ignore[union-attr]


def _set(path: list[Any], value: Any):  # type: ignore[no-untyped-def]
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "where", "reason"),
    [
        # a skill no operator has
        (_set(["machines", 3, "crew"], {"skill": "welding"}), "crew.skill", "no operator has"),
        # an attendance that does not exist
        (
            _set(["machines", 3, "crew"], {"skill": "cnc", "attendance": "sometimes"}),
            "machines[3].crew",
            "unknown attendance",
        ),
        # a share without attendance share
        (
            _set(["machines", 3, "crew"], {"skill": "cnc", "share_percent": 50}),
            "machines[3].crew",
            "needs attendance: share",
        ),
        # unattended without any setup or unload time
        (
            _set(["machines", 0, "crew"], {"skill": "print", "attendance": "setup"}),
            "machines[0].crew",
            "setup_minutes or unload_minutes",
        ),
        # an unknown key in a crew need
        (
            _set(["machines", 3, "crew"], {"skill": "cnc", "people": 2}),
            "crew.people",
            "unknown field",
        ),
        # an operator on a calendar that does not exist
        (_set(["operators", 0, "calendar"], "night"), "operators[0].calendar", "unknown calendar"),
        # an operator without skills
        (_set(["operators", 0, "skills"], []), "operators[0]", "at least one skill"),
        # two operators with one id
        (_set(["operators", 1, "id"], "anna"), "operators[1].id", "duplicate id"),
        # a deburr step (mill or finishing station) without its own crew: two skills
        (
            lambda d: d["products"][0]["routing"][1].pop("crew"),
            "products[0].routing[1].crew",
            "different skills",
        ),
    ],
)
def test_broken_crew_is_refused_with_its_path(mutate: Any, where: str, reason: str) -> None:
    data = _demo()
    mutate(data)
    with pytest.raises(ValidationError) as info:
        factory_from_dict(data)
    assert where in (info.value.where or "")
    assert reason in info.value.reason


def test_a_factory_without_operators_needs_nobody() -> None:
    data = _demo()
    data.pop("operators")
    for machine in data["machines"]:
        machine.pop("crew", None)
    for product in data["products"]:
        for step in product["routing"]:
            step.pop("crew", None)
    factory = factory_from_dict(data)
    assert factory.crew.operators == ()
    assert factory.crew.need("bracket", 1, ["fdm-01"]) is None
