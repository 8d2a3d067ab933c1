"""Orders CSV import (issue 22): rows of one order must agree on customer, due date and
priority; every bad row is reported, not only the first; nothing is stored unless all rows
are good; unreadable CSV is a clean ValidationError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import parse_rfc3339
from microfactory.services.factory import init_factory
from microfactory.services.orders import import_orders_csv, list_orders, parse_orders_csv

HEADER = "order_id,customer,product,quantity,due,priority,parameters\n"
GOOD = (
    "A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,colour=white;length_mm=120\n"
    "A-1,acme,alu-plate,1,2027-01-10T12:00:00Z,3,\n"
)
CLOCK = FixedClock(parse_rfc3339("2026-12-01T08:00:00Z"))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Container]:
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 'shop.db'}")
    init_factory(container.uow, DEMO_FACTORY)
    try:
        yield container
    finally:
        container.close()


@pytest.mark.parametrize(
    ("second_row", "field"),
    [
        ("A-1,smile,alu-plate,1,2027-01-10T12:00:00Z,3,", "customer"),  # another customer
        ("A-1,acme,alu-plate,1,2027-02-10T12:00:00Z,3,", "due"),  # another due date
        ("A-1,acme,alu-plate,1,2027-01-10T12:00:00Z,5,", "priority"),  # another priority
    ],
)
def test_rows_of_one_order_id_that_disagree_are_refused_naming_both_rows(
    second_row: str, field: str
) -> None:
    text = HEADER + "A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,colour=white\n" + second_row + "\n"
    with pytest.raises(ValidationError) as info:
        parse_orders_csv(text, "orders.csv")
    assert info.value.where == "orders.csv:3"
    assert f"has {field}" in info.value.reason
    assert "on line 2" in info.value.reason


def test_the_same_instant_written_two_ways_is_one_due_date() -> None:
    text = HEADER + GOOD.replace("2027-01-10T12:00:00Z,3,\n", "2027-01-10T13:00:00+01:00,,\n")
    (order,) = parse_orders_csv(text)
    assert len(order.lines) == 2


def test_every_bad_row_is_reported_not_only_the_first() -> None:
    text = HEADER + (
        "B-1,acme,bracket,many,2027-01-10T12:00:00Z,3,\n"  # line 2: quantity
        "B-2,acme,bracket,1,next week,3,\n"  # line 3: due date
        "B-3,acme,bracket,1,2027-01-10T12:00:00Z,3,\n"  # line 4: fine
        "B-3,beta,bracket,1,2027-01-10T12:00:00Z,3,\n"  # line 5: other customer
        "B-4,acme,bracket,1,2027-01-10T12:00:00Z,9,{\n"  # line 6: bad JSON
    )
    with pytest.raises(ValidationError) as info:
        parse_orders_csv(text, "orders.csv")
    lines = [where for where, _ in info.value.problems]
    assert lines == ["orders.csv:2", "orders.csv:3", "orders.csv:5", "orders.csv:6"]
    assert "4 problems" in info.value.reason
    for where in lines:
        assert where in str(info.value)


def test_import_reports_every_order_the_store_refuses_and_stores_nothing(
    shop: Container, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        HEADER
        + GOOD
        + "C-1,nobody,bracket,1,2027-01-10T12:00:00Z,3,\n"  # line 4: unknown customer
        + "C-2,acme,widget,1,2027-01-10T12:00:00Z,3,\n"  # line 5: unknown product
    )
    with pytest.raises(ValidationError) as info:
        import_orders_csv(shop.uow, CLOCK, path)
    assert [w for w, _ in info.value.problems] == ["orders.csv:4", "orders.csv:5"]
    assert list_orders(shop.uow) == []


def test_a_good_file_still_imports(shop: Container, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + GOOD)
    (order,) = import_orders_csv(shop.uow, CLOCK, path)
    assert order.id == "A-1" and len(order.lines) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,\0\n", "not name=value"),  # a NUL byte
        (
            "A-1,acme,bracket,4,2027-01-10T12:00:00Z,3," + "x" * 200_000 + "\n",
            "not a readable",
        ),  # a field over the csv module's limit
        (
            'A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,"{""a"": '
            + "[" * 50_000
            + "]" * 50_000
            + '}"\n',
            "nested too deeply",
        ),  # RecursionError in the JSON decoder
    ],
)
def test_unreadable_csv_is_a_validation_error(body: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_orders_csv(HEADER + body, "orders.csv")
