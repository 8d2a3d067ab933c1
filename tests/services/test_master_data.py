"""Master-data edits on every store: one entry of the factory definition changes, the whole
factory is validated by the factory file's validator, a new version becomes current, and a
refused edit (with the field path in the message) leaves the stored factory as it was."""

from __future__ import annotations

import pytest

from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.services.master_data import (
    customer_entry,
    entries,
    entry,
    parse_entry,
    save_entry,
)
from microfactory.services.ports import UnitOfWorkFactory


def current(uow: UnitOfWorkFactory) -> tuple[object, object]:
    with uow() as tx:
        return tx.factory.current(), tx.factory.definition()


def test_a_new_customer_is_validated_saved_and_known_to_orders(uow: UnitOfWorkFactory) -> None:
    factory = save_entry(
        uow, "customers", None, customer_entry("brio", "Brio Toys", "a@brio.example"), by="pat"
    )
    assert "brio" in {c.id for c in factory.customers}
    with uow() as tx:
        assert tx.customers.get("brio").name == "Brio Toys"
        assert tx.factory.current() == factory
    assert entry(uow, "customers", "brio").data["email"] == "a@brio.example"


def test_a_product_edit_changes_the_catalog(uow: UnitOfWorkFactory) -> None:
    bracket = entry(uow, "products", "bracket")
    data = parse_entry(bracket.yaml.replace("base_price: 14.0", "base_price: 16.5"))
    factory = save_entry(uow, "products", "bracket", data, by="pat")
    assert factory.product_map["bracket"].base_price == 16.5
    assert [e.id for e in entries(uow, "products")] == [e.id for e in entries(uow, "products")]


@pytest.mark.parametrize(
    ("section", "entry_id", "change", "error", "reason"),
    [
        # a routing step no machine can do: the factory file's cross-check names the path
        ("products", "bracket", ("capability: deburr", "capability: teleport"), ValidationError,
         "teleport"),
        # a negative price: the field path and the rule
        ("materials", "petg", ("cost_per_kg: 26.0", "cost_per_kg: -3"), ValidationError,
         "cost_per_kg"),
        # an unknown field, as `init` refuses it
        ("materials", "petg", ("name: PETG", "name: PETG\nhue: blue"), ValidationError,
         "unknown field"),
        # the id is what orders refer to
        ("products", "bracket", ("id: bracket", "id: bracket2"), ValidationError,
         "cannot change"),
    ],
)  # fmt: skip
def test_a_refused_edit_names_the_problem_and_keeps_the_factory(
    uow: UnitOfWorkFactory,
    section: str,
    entry_id: str,
    change: tuple[str, str],
    error: type[Exception],
    reason: str,
) -> None:
    before = current(uow)
    text = entry(uow, section, entry_id).yaml
    assert change[0] in text
    with pytest.raises(error, match=reason):
        save_entry(uow, section, entry_id, parse_entry(text.replace(*change)), by="pat")
    assert current(uow) == before


def test_adding_an_id_that_exists_is_a_conflict(uow: UnitOfWorkFactory) -> None:
    with pytest.raises(Conflict, match="acme already exists"):
        save_entry(uow, "customers", None, customer_entry("acme", "Another"), by="pat")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("id: [unclosed", "YAML syntax error"),  # broken YAML
        ("- just\n- a list", "expected one mapping"),  # not one entry
    ],
)
def test_entry_text_must_be_one_yaml_mapping(text: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_entry(text)


def test_unknown_sections_and_entries_are_not_found(uow: UnitOfWorkFactory) -> None:
    with pytest.raises(NotFound):
        entries(uow, "machines")
    with pytest.raises(NotFound):
        entry(uow, "products", "teapot")
    with pytest.raises(NotFound):
        save_entry(uow, "products", "teapot", {"id": "teapot"}, by="pat")


def test_a_yaml_alias_bomb_is_refused_cleanly(uow: UnitOfWorkFactory) -> None:
    lines = ["id: bomb", "name: Bomb", "kind: filament", "density_g_cm3: 1", "cost_per_kg: 1"]
    lines.append("a0: &a0 [x, x, x, x, x, x, x, x, x, x]")
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]  # fmt: skip
    before = current(uow)
    with pytest.raises(ValidationError, match="more than"):
        save_entry(uow, "materials", None, parse_entry("\n".join(lines)), by="pat")
    assert current(uow) == before
