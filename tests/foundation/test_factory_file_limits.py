"""Factory files that used to get through (issue 22): non-finite numbers, absurd or zero
machine counts, unknown time zones, BOM cycles, alias bombs. Each is refused with the field
path and the reason, and nothing is stored."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.core import ValidationError
from microfactory.orders.factory_file import (
    MAX_MACHINE_COUNT,
    factory_from_dict,
    factory_from_yaml,
    load_factory,
)
from microfactory.services.factory import init_factory

DEMO: dict[str, Any] = yaml.safe_load(DEMO_FACTORY.read_text())


def changed(mutate: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(DEMO)
    mutate(data)
    return data


def op(data: dict[str, Any], product: int = 0, step: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = data["products"][product]["routing"][step]
    return found


def add_bom(data: dict[str, Any], product: int, component: str) -> None:
    data["products"][product].setdefault("bom", []).append(
        {"component": component, "quantity": 1, "unit": "pcs"}
    )


BROKEN = [
    # (change, field path the error must name, words of the reason)
    (
        lambda d: op(d).update(per_unit_minutes=float("inf")),
        "products[0].routing[0].per_unit_minutes",
        "finite number",
    ),  # .inf made every later plan crash
    (
        lambda d: d["machines"][0].update(cost_per_hour=float("nan")),
        "machines[0].cost_per_hour",
        "finite number",
    ),  # .nan gave a traceback
    (
        lambda d: op(d).update(fixed_minutes=float("-inf")),
        "products[0].routing[0].fixed_minutes",
        "finite number",
    ),  # negative infinity
    (
        lambda d: d["machines"][0].update(count=10_000_000),
        "machines[0].count",
        f"must be 1 to {MAX_MACHINE_COUNT}",
    ),  # used to hang building ten million machines
    (
        lambda d: d["machines"][0].update(count=0),
        "machines[0].count",
        "must be 1 to",
    ),  # silently dropped the machine
    (
        lambda d: d["machines"][0].update(count=2.5),
        "machines[0].count",
        "whole number",
    ),  # was truncated to 2
    (
        lambda d: d["site"].update(timezone="Mars/Olympus_Mons"),
        "site.timezone",
        "unknown timezone",
    ),  # accepted, then every local-time view failed
    (
        lambda d: d["site"].update(timezone="../../etc/passwd"),
        "site.timezone",
        "unknown timezone",
    ),  # a path, not a zone
    (
        lambda d: (add_bom(d, 0, "enclosure"), add_bom(d, 1, "bracket")),
        "products[",
        "cycle: bracket → enclosure → bracket",
    ),  # bracket contains enclosure contains bracket
    (
        lambda d: (
            add_bom(d, 0, "enclosure"),
            add_bom(d, 1, "dental-model"),
            add_bom(d, 2, "bracket"),
        ),
        "products[",
        "cycle",
    ),  # a three-product cycle
    (
        lambda d: d["machines"][0].update(build_volume_mm=[250, float("inf"), 220]),
        "machines[0].build_volume_mm[1]",
        "finite number",
    ),  # an infinite bed
    (
        lambda d: d["machines"][0].update(speed_factor=1000),
        "machines[0].speed_factor",
        "at most 100",
    ),  # finite but absurd
    (
        lambda d: op(d).update(per_unit_minutes=1e12),
        "products[0].routing[0]",
        "at most",
    ),  # finite but beyond any plan horizon
    (
        lambda d: d["products"][0]["characteristics"][0].update(usl=float("nan")),
        "products[0].characteristics[0].usl",
        "finite number",
    ),  # NaN limits make every point in control
    (
        lambda d: op(d).update(seq=float("inf")),
        "products[0].routing[0].seq",
        "finite number",
    ),  # int(inf) raised OverflowError
]


@pytest.mark.parametrize(("mutate", "where", "reason"), BROKEN)
def test_broken_value_is_refused_with_field_path(
    mutate: Callable[[dict[str, Any]], object], where: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as info:
        factory_from_dict(changed(mutate))
    assert info.value.where is not None and where in info.value.where, info.value
    assert reason in info.value.reason


def test_the_demo_products_have_the_names_the_table_assumes() -> None:
    assert [p["id"] for p in DEMO["products"][:3]] == ["bracket", "enclosure", "dental-model"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("per_unit_minutes: 150", "per_unit_minutes: .inf"),
        ("cost_per_hour: 4.5", "cost_per_hour: .nan"),
        ("count: 6", "count: 10000000"),
    ],
)
def test_yaml_special_values_are_refused_from_the_file(
    tmp_path: Path, text: str, where: str
) -> None:
    source = DEMO_FACTORY.read_text()
    assert text in source
    path = tmp_path / "bad.yaml"
    path.write_text(source.replace(text, where, 1))
    with pytest.raises(ValidationError) as info:
        load_factory(path)
    assert str(path) in str(info.value)


def test_an_alias_bomb_is_refused_without_expanding_it() -> None:
    # ten levels of ten aliases: 10**10 strings if expanded
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for k in range(1, 11):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]")
    data = yaml.safe_load("\n".join(lines))
    with pytest.raises(ValidationError, match="more than 200000 values"):
        factory_from_dict(data)


def test_a_refused_file_stores_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    container = bootstrap(db_url=url)
    try:
        init_factory(container.uow, DEMO_FACTORY)
        with container.uow() as tx:
            before = tx.factory.current()
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            DEMO_FACTORY.read_text()
            .replace("per_unit_minutes: 150", "per_unit_minutes: .inf", 1)
            .replace("id: demo", "id: other", 1)
        )
        with pytest.raises(ValidationError, match="per_unit_minutes"):
            init_factory(container.uow, bad)
        with container.uow() as tx:
            assert tx.factory.current() == before
    finally:
        container.close()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 5000, "nested too deeply"),  # RecursionError in the YAML parser
        (b"site: " + b"9" * 5000, "cannot be read"),  # an integer over Python's digit limit
        # unknown keys of mixed types (sorting them raised TypeError)
        (b"site: {id: s, name: S}\nmachines: [{1: x, zz: y, id: m}]\n", "unknown field"),
    ],
)
def test_yaml_the_parser_chokes_on_is_a_validation_error(raw: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        factory_from_yaml(raw, "f.yaml")
