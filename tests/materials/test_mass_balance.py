"""Mass balance is an invariant: over any stream of receipts, adjustments and operations
finishing (issued by the reactor's materials handler), every lot holds exactly its receipts
− issues − what adjustments removed, never less than nothing, and every gram an operation
used is either issued from a lot or recorded as a discrepancy. Property-tested with
hypothesis on the in-memory store, SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.errors import ValidationError
from microfactory.orders import Factory, OrderLine
from microfactory.orders.factory_file import load_factory
from microfactory.orders.stock import MovementKind
from microfactory.services.consumption import MaterialsHandler
from microfactory.services.materials import Receipt, adjust, mass_balance, receive
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.reactor import Applied
from microfactory.shopfloor.events import JobEvent
from microfactory.shopfloor.records import StoredEvent
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.memory_stock import MemoryStockState
from microfactory.store.sql import SqlUnitOfWorkFactory

from .conftest import T0, make_uow, release

# (operation, material, per part) of the two work orders every stream may finish
OPERATIONS = {"SO-P-1-1": ("pla-black", 0.045), "SO-P-2-1": ("resin-grey", 0.054)}
MATERIALS = ("pla-black", "resin-grey")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shop(request: pytest.FixtureRequest) -> Iterator[tuple[UnitOfWorkFactory, Factory]]:
    """The demo factory with no stock, and two released work orders: black brackets
    (PLA per part) and dental models (resin per part)."""
    for uow in make_uow(request.param, request):
        factory = load_factory(DEMO_FACTORY)
        with uow() as tx:
            tx.factory.save(factory, yaml.safe_load(DEMO_FACTORY.read_text()), "demo")
            tx.commit()
        release(
            uow,
            "SO-P",
            (OrderLine("bracket", 5, {"colour": "black"}), OrderLine("dental-model", 5)),
        )
        yield uow, factory


def empty_stock(uow: UnitOfWorkFactory) -> None:
    if isinstance(uow, MemoryUnitOfWorkFactory):
        uow.state.stock = MemoryStockState()
        return
    assert isinstance(uow, SqlUnitOfWorkFactory)
    from microfactory.store.materials_tables import MaterialMovementRow, StockAlertRow
    from microfactory.store.tables import MaterialLotRow

    with uow.engine.begin() as conn:
        for table in (MaterialMovementRow, StockAlertRow, MaterialLotRow):
            conn.execute(delete(table))


receipts = st.tuples(
    st.just("receive"), st.sampled_from(MATERIALS), st.floats(0.001, 5.0), st.none()
)
adjustments = st.tuples(
    st.just("adjust"),
    st.integers(0, 9),
    st.floats(-5.0, 5.0).filter(lambda x: abs(x) > 1e-6),
    st.booleans(),
)
finishes = st.tuples(
    st.just("finish"),
    st.sampled_from(sorted(OPERATIONS)),
    st.tuples(st.integers(0, 60), st.integers(0, 8)),
    st.one_of(st.none(), st.integers(0, 9)),
)
streams = st.lists(st.one_of(receipts, adjustments, finishes), min_size=1, max_size=25)


def run(
    uow: UnitOfWorkFactory, factory: Factory, stream: list[tuple[Any, ...]]
) -> dict[str, float]:
    """Apply the stream (consecutive finishes are one reactor batch, as the reactor applies
    them); return what the finished operations needed, per material."""
    handler = MaterialsHandler(factory)
    lots: list[str] = []
    needed: dict[str, float] = defaultdict(float)
    counter = itertools.count(1)
    batch: list[StoredEvent] = []

    def flush() -> None:
        if not batch:
            return
        with uow() as tx:
            out = Applied()
            handler.prepare(tx, batch)
            for stored in batch:
                handler.apply(tx, stored, out)
            handler.finish(tx, out)
            tx.commit()
        batch.clear()

    for step, (kind, a, b, c) in enumerate(stream):
        at = T0 + timedelta(minutes=step)
        if kind == "finish":
            good, scrap = b
            material, per_part = OPERATIONS[a]
            preferred = lots[c % len(lots)] if c is not None and lots else None
            event = JobEvent(
                event_id=f"e-{step}",
                machine="fdm-01",
                seq=step,
                ts=at,
                action="finished",
                work_order=a.rsplit("-", 1)[0],
                operation=a,
                good=good,
                reject=scrap,
                material_lot=preferred,
            )
            batch.append(StoredEvent(step + 1, event.event_id, "fdm-01", "job", step, at, event))
            needed[material] += per_part * (good + scrap)
            continue
        flush()
        with uow() as tx:
            if kind == "receive":
                lot = f"L-{next(counter)}"
                receive(tx, factory, Receipt(a, lot, b), at=at)
                lots.append(lot)
            elif lots:
                try:
                    if c:
                        adjust(
                            tx, factory, lots[a % len(lots)], reason="count", at=at, count=abs(b)
                        )
                    else:
                        adjust(tx, factory, lots[a % len(lots)], reason="weighed", at=at, delta=b)
                except ValidationError:
                    continue  # refused (below zero, or the count it holds): nothing stored
            tx.commit()
    flush()
    return needed


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stream=streams)
def test_mass_balance_holds_over_any_stream(
    shop: tuple[UnitOfWorkFactory, Factory], stream: list[tuple[Any, ...]]
) -> None:
    uow, factory = shop
    empty_stock(uow)
    needed = run(uow, factory, stream)
    with uow() as tx:
        per_lot = tx.stock.balances()
        per_material = {b.material: b for b in mass_balance(tx, factory)}
        moves = tx.stock.movements()
    for b in per_lot:
        assert b.on_hand >= -1e-9
        assert b.on_hand == pytest.approx(b.receipts - b.issues - b.adjusted_out, abs=1e-9)
    for material in MATERIALS:
        balance = per_material[material]
        assert balance.error == pytest.approx(0.0, abs=1e-9)
        used = sum(
            m.quantity
            for m in moves
            if m.material == material and m.kind in (MovementKind.ISSUE, MovementKind.DISCREPANCY)
        )
        assert used == pytest.approx(needed[material], abs=1e-9)
