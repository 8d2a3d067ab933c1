"""Material-aware planning: an operation does not start before its material is on hand or
due with an open purchase order (else a supplier's lead time away); the dispatcher hands out
no such job; capable-to-promise waits for a quote's material; an accepted quote's grams
replace the BOM of its print."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import trimesh

from microfactory.core.clock import FixedClock
from microfactory.orders import Factory, OrderLine
from microfactory.services.dispatch import Dispatcher
from microfactory.services.materials import adjust
from microfactory.services.planning import PlanningService, PlanningSettings, build_problem
from microfactory.services.purchasing import (
    PurchaseRequest,
    StockAvailability,
    place_purchase_order,
    receive_purchase_order,
)
from microfactory.services.quoting import QuoteService, QuotingSettings
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.quoting_tables import MemoryQuoteStore

from .conftest import T0, load_demo, release

DAY = timedelta(days=1)


def cube_stl() -> bytes:
    data = trimesh.creation.box((30, 30, 30)).export(file_type="stl")
    assert isinstance(data, bytes)
    return data


def empty(uow: MemoryUnitOfWorkFactory, *lots: str) -> None:
    factory = current(uow)
    with uow() as tx:
        for lot in lots:
            adjust(tx, factory, lot, reason="spoiled", at=T0, count=0.0)
        tx.commit()


def current(uow: MemoryUnitOfWorkFactory) -> Factory:
    with uow() as tx:
        factory = tx.factory.current()
    assert factory is not None
    return factory


@pytest.fixture
def shop() -> tuple[MemoryUnitOfWorkFactory, PlanningService, FixedClock]:
    uow = MemoryUnitOfWorkFactory()
    load_demo(uow)
    clock = FixedClock(T0)
    planning = PlanningService(
        uow,
        clock,
        PlanningSettings(strategy="dispatch"),
        materials=StockAvailability(uow),
    )
    return uow, planning, clock


def print_start(planning: PlanningService) -> datetime:
    plan = planning.plan("test", release_confirmed=False)
    return next(op.start for op in plan.operations if op.operation == "SO-1-1-1")


def test_build_problem_takes_material_ready_times_as_releases() -> None:
    uow = MemoryUnitOfWorkFactory()
    factory = load_demo(uow)
    release(uow, "SO-1", (OrderLine("bracket", 2, {"colour": "black"}),))
    with uow() as tx:
        work_orders = tx.work_orders.find()
    built = build_problem(factory, work_orders, T0, material_ready={"SO-1-1-1": T0 + 2 * DAY})
    index = built.op_ids.index("SO-1-1-1")
    assert built.problem.operations[index].release == 2 * 24 * 60
    assert built.problem.operations[built.op_ids.index("SO-1-1-2")].release == 0


def test_with_stock_on_hand_the_print_starts_now(shop) -> None:  # type: ignore[no-untyped-def]
    uow, planning, _ = shop
    release(uow, "SO-1", (OrderLine("bracket", 10, {"colour": "black"}),))
    assert print_start(planning) < T0 + timedelta(hours=1)


def test_without_stock_the_print_waits_for_a_purchase(shop) -> None:  # type: ignore[no-untyped-def]
    uow, planning, clock = shop
    empty(uow, "PLA-B-2611", "PLA-B-2614")
    # due in two days: every hour earlier counts
    release(uow, "SO-1", (OrderLine("bracket", 10, {"colour": "black"}),), due_days=2)
    # nothing on hand or ordered: the preferred supplier's 3 days
    assert print_start(planning) >= T0 + 3 * DAY
    factory = current(uow)
    with uow() as tx:
        po = place_purchase_order(tx, factory, PurchaseRequest("pla-black", 10.0, due=T0 + DAY), T0)
        tx.commit()
    # an open order due tomorrow: not before it is due
    start = print_start(planning)
    assert T0 + DAY <= start < T0 + 3 * DAY
    clock.advance(timedelta(hours=2))
    with uow() as tx:
        receive_purchase_order(tx, factory, po.id, clock.now())
        tx.commit()
    # received: on hand, nothing waits (the plan may keep its start: nothing is late)
    with uow() as tx:
        work_orders = tx.work_orders.find()
    assert StockAvailability(uow).ready_times(work_orders, clock.now()) == {}


def test_the_dispatcher_hands_out_no_job_before_its_material(shop) -> None:  # type: ignore[no-untyped-def]
    uow, planning, _ = shop
    empty(uow, "PLA-B-2611", "PLA-B-2614")
    release(uow, "SO-1", (OrderLine("bracket", 10, {"colour": "black"}),))
    release(uow, "SO-2", (OrderLine("bracket", 10, {"colour": "white"}),))
    planning.plan("test", release_confirmed=False)
    dispatcher = Dispatcher(uow, current(uow), StockAvailability(uow))
    handed = {dispatcher.next_job(f"fdm-0{n}", T0 + timedelta(hours=1)) for n in range(1, 7)}
    jobs = {job.operation for job in handed if job is not None}
    assert jobs == {"SO-2-1-1"}  # white PLA is on hand, black is not
    assert dispatcher.material_ready["SO-1-1-1"] >= T0 + 3 * DAY


def test_capable_to_promise_waits_for_the_material(shop) -> None:  # type: ignore[no-untyped-def]
    uow, planning, clock = shop
    cube = cube_stl()
    service = QuoteService(
        uow,
        MemoryQuoteStore(),
        clock,
        plans=planning,
        settings=QuotingSettings(hold_hours=24),
        materials=StockAvailability(uow),
    )
    on_hand = service.quote_upload(
        cube, "a.stl", material="petg", quantity=5, units="mm", hold=False
    )
    assert "on hand" in on_hand.promise_basis
    empty(uow, "PETG-2610", "PETG-2612")
    waits = service.quote_upload(cube, "a.stl", material="petg", quantity=5, units="mm", hold=False)
    assert "must be bought first" in waits.promise_basis
    assert min(s.start for s in waits.reservations) >= T0 + 4 * DAY  # Prusament: 4 days
    assert waits.promised_date > on_hand.promised_date


def test_an_accepted_quote_replaces_the_print_bom_with_its_grams(shop) -> None:  # type: ignore[no-untyped-def]
    uow, planning, clock = shop
    cube = cube_stl()
    service = QuoteService(
        uow, MemoryQuoteStore(), clock, plans=planning, materials=StockAvailability(uow)
    )
    response = service.quote_upload(cube, "a.stl", material="petg", quantity=3, units="mm")
    assert response.quote_id is not None
    accepted = service.accept(response.quote_id, customer="acme")
    with uow() as tx:
        (wo,) = tx.work_orders.find(order=accepted.order_id)
        printing = next(op for op in wo.operations if op.capability == "fdm_print")
        estimate = tx.stock.operations([printing.id])[printing.id].estimate
    assert estimate is not None and estimate.material == "petg" and estimate.source == "quote"
    assert estimate.quantity == pytest.approx(response.quote.mass_g, abs=1e-3)  # as quoted
    assert estimate.unit == "g"
