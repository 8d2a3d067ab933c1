"""One contract for the pin repository: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from microfactory.orders.pins import OperationPin
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.store.base import make_engine
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def uow(request: pytest.FixtureRequest) -> Iterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    url = request.getfixturevalue(
        "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    )
    engine = make_engine(url)
    upgrade(engine)
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()


def _pin(op: str, machine: str = "cnc-1", start: datetime | None = None) -> OperationPin:
    return OperationPin(op, machine, start, "planner", T0)


def test_a_pin_is_kept_after_commit(uow: UnitOfWorkFactory) -> None:
    with uow() as tx:
        tx.pins.put(_pin("SO-1-1-10", start=T0 + timedelta(hours=2)))
        tx.commit()
    with uow() as tx:
        assert tx.pins.all() == [_pin("SO-1-1-10", start=T0 + timedelta(hours=2))]


def test_a_pin_without_commit_is_not_kept(uow: UnitOfWorkFactory) -> None:
    with uow() as tx:
        tx.pins.put(_pin("SO-1-1-10"))
    with uow() as tx:
        assert tx.pins.all() == []


def test_pinning_again_replaces_the_pin(uow: UnitOfWorkFactory) -> None:
    with uow() as tx:
        tx.pins.put(_pin("SO-1-1-10", "cnc-1", T0))
        tx.pins.put(_pin("SO-1-1-20", "laser-1"))
        tx.commit()
    with uow() as tx:
        tx.pins.put(_pin("SO-1-1-10", "cnc-2", None))
        tx.commit()
    with uow() as tx:
        assert tx.pins.all() == [_pin("SO-1-1-10", "cnc-2", None), _pin("SO-1-1-20", "laser-1")]


def test_unpin_removes_only_that_pin_and_says_whether_there_was_one(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as tx:
        tx.pins.put(_pin("SO-1-1-10"))
        tx.pins.put(_pin("SO-1-1-20"))
        tx.commit()
    with uow() as tx:
        assert tx.pins.remove("SO-1-1-10") is True
        assert tx.pins.remove("SO-9-9-99") is False
        tx.commit()
    with uow() as tx:
        assert [p.operation for p in tx.pins.all()] == ["SO-1-1-20"]


def test_rush_orders_are_kept_once(uow: UnitOfWorkFactory) -> None:
    with uow() as tx:
        tx.pins.mark_rush("SO-7", T0)
        tx.pins.mark_rush("SO-7", T0 + timedelta(hours=1))
        tx.pins.mark_rush("SO-8", T0)
        tx.commit()
    with uow() as tx:
        assert tx.pins.rush_orders() == {"SO-7", "SO-8"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": "bad id"}, "operation id"),  # a space in the id
        ({"machine": ""}, "machine id"),  # no machine
        ({"start": datetime(2026, 3, 2, 9)}, "timezone-aware"),  # naive start
    ],
)
def test_a_pin_checks_its_fields(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "operation": "SO-1-1-10",
        "machine": "cnc-1",
        "start": None,
        "by": "planner",
        "at": T0,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        OperationPin(**fields)  # type: ignore[arg-type]
