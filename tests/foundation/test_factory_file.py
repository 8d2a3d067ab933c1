from pathlib import Path

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core import ValidationError
from microfactory.orders.factory_file import factory_from_dict, load_factory


def demo_dict() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(DEMO_FACTORY.read_text())


def test_demo_factory_is_realistic() -> None:
    f = load_factory(DEMO_FACTORY)
    assert len(f.machines) >= 12
    assert len({m.type for m in f.machines}) >= 6
    assert len(f.products) >= 6
    for p in f.products:
        assert 2 <= len(p.routing) <= 6
    assert any(op.setup_family for p in f.products for op in p.routing)
    # alternatives: at least one capability offered by several machines
    assert any(len(f.eligible_machines(op.capability)) > 1 for p in f.products for op in p.routing)
    assert all(m.opening_stock > 0 and m.suppliers for m in f.materials)
    assert {m.unit for m in f.materials} >= {"kg", "l", "piece"}


def broken(mutate) -> dict:  # type: ignore[no-untyped-def,type-arg]
    data = demo_dict()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "where", "reason"),
    [
        # unknown capability in a routing
        (
            lambda d: d["products"][0]["routing"][0].update(capability="teleport"),
            "products[0].routing[0].capability",
            "unknown capability 'teleport'",
        ),
        # negative time
        (
            lambda d: d["products"][1]["routing"][2].update(fixed_minutes=-5),
            "products[1].routing[2]",
            "must not be negative",
        ),
        # duplicate machine id
        (
            lambda d: d["machines"].append(dict(d["machines"][3])),
            "machines[",
            "duplicate id 'cnc'",
        ),
        # wrong type
        (
            lambda d: d["machines"][0].update(cost_per_hour="cheap"),
            "machines[0].cost_per_hour",
            "expected a number",
        ),
        # unknown area
        (lambda d: d["machines"][4].update(area="moon"), "machines[", "unknown area 'moon'"),
        # unknown field (typo)
        (
            lambda d: d["machines"][0].update(cost_per_hr=3),
            "machines[0].cost_per_hr",
            "unknown field",
        ),
        # unknown BOM component
        (
            lambda d: d["products"][0]["bom"][0].update(component="unobtainium"),
            "products[0].bom[0].component",
            "unknown material or product",
        ),
    ],
)
def test_broken_factory_names_field_path_and_reason(mutate, where: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        factory_from_dict(broken(mutate))
    assert info.value.where is not None and where in info.value.where
    assert reason in info.value.reason


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("site:\n  id: x\n  name: [unclosed\nmachines: []\n")
    with pytest.raises(ValidationError) as info:
        load_factory(bad)
    assert str(bad) in str(info.value)
    assert "YAML syntax error" in str(info.value)
    assert ":4:" in str(info.value) or ":3:" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read factory file"):
        load_factory(tmp_path / "nope.yaml")
