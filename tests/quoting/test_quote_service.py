"""The quote → hold → accept → order in the plan → tracking flow, and expiry, on the demo
factory with the real planning service (in-memory stores)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import trimesh

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import OrderLine
from microfactory.services.factory import init_factory
from microfactory.services.orders import OrderRequest, add_order
from microfactory.services.planning import PlanningService, PlanningSettings
from microfactory.services.quoting import (
    HOLD_REASON,
    HeldQuotes,
    QuoteService,
    QuotingSettings,
)
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.quoting_tables import MemoryQuoteStore, SqlQuoteStore

from .conftest import binary_stl

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
CUBE = binary_stl(trimesh.creation.box((30, 30, 30)))


@pytest.fixture()
def shop() -> tuple[QuoteService, FixedClock, PlanningService]:
    uow = MemoryUnitOfWorkFactory()
    init_factory(uow, DEMO_FACTORY)
    clock = FixedClock(START)
    with uow() as tx:
        customer = tx.customers.find()[0].id
    for n in range(4):
        add_order(
            uow,
            clock,
            OrderRequest(
                customer=customer,
                lines=(OrderLine("bracket", 20, {}),),
                due=START + timedelta(days=3 + n),
            ),
        )
    quotes = MemoryQuoteStore()
    planning = PlanningService(
        uow, clock, PlanningSettings(time_limit=2.0, workers=1), holds=HeldQuotes(quotes)
    )
    planning.plan("initial")
    service = QuoteService(
        uow, quotes, clock, plans=planning, settings=QuotingSettings(hold_hours=24)
    )
    return service, clock, planning


def _customer(service: QuoteService) -> str:
    with service.uow() as tx:
        return tx.customers.find()[0].id


def test_quote_is_inserted_into_gaps_without_touching_the_plan(shop) -> None:  # type: ignore[no-untyped-def]
    service, _, planning = shop
    plan = planning.current()
    assert plan is not None
    response = service.quote_upload(CUBE, "cube.stl", material="pla-black", quantity=5, units="mm")
    assert response.promise_basis.startswith("capable-to-promise on plan version")
    assert response.reservations
    for slot in response.reservations:
        for op in plan.operations:
            if op.machine == slot.machine:
                assert slot.end <= op.start or slot.start >= op.end
    assert response.promised_date == max(s.end for s in response.reservations)
    assert planning.current() == plan  # nothing was replanned or moved


def test_held_capacity_is_not_promised_twice(shop) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = shop
    first = service.quote_upload(CUBE, "a.stl", material="pla-black", quantity=40, units="mm")
    second = service.quote_upload(CUBE, "b.stl", material="pla-black", quantity=40, units="mm")
    taken = {(s.machine, s.start) for s in first.reservations}
    for slot in second.reservations:
        for other in first.reservations:
            if other.machine == slot.machine:
                assert slot.end <= other.start or slot.start >= other.end
    assert not taken & {(s.machine, s.start) for s in second.reservations}


def test_accept_makes_an_order_in_the_plan_with_a_tracking_link(shop) -> None:  # type: ignore[no-untyped-def]
    service, _, planning = shop
    response = service.quote_upload(
        CUBE, "cube.stl", material="pla-black", quantity=5, customer=_customer(service), units="mm"
    )
    assert response.quote_id is not None
    accepted = service.accept(response.quote_id)
    plan = planning.current()
    assert plan is not None and accepted.plan_version == plan.version
    assert any(op.work_order.startswith(accepted.order_id) for op in plan.operations)
    assert accepted.planned_completion is not None
    with service.uow() as tx:
        wo = tx.work_orders.find(order=accepted.order_id)[0]
    printing = next(op for op in wo.operations if op.capability == "fdm_print")
    assert printing.minutes == math.ceil(response.quote.machine_hours * 60)
    view = service.track(accepted.tracking_token)
    assert view.order_id == accepted.order_id
    assert [st for st, _, _ in view.timeline][:2] == ["confirmed", "released"]
    assert service.get(response.quote_id)["status"] == "accepted"
    with pytest.raises(Conflict, match="already accepted"):
        service.accept(response.quote_id)


def test_every_plan_keeps_held_capacity_free_until_the_hold_expires(shop) -> None:  # type: ignore[no-untyped-def]
    service, clock, planning = shop
    held = service.quote_upload(CUBE, "a.stl", material="pla-black", quantity=5, units="mm")
    planning.add_window("fdm-01", START, START + timedelta(hours=1), "breakdown")
    assert planning.holds is not None
    seen = {
        (m, s, e)
        for m, spans in planning.holds.held_intervals(clock.now()).items()
        for s, e, r in spans
        if r == HOLD_REASON
    }
    assert seen == {(r.machine, r.start, r.end) for r in held.reservations}
    # a plan made now (by anyone: CLI, API, reactor) leaves the held slots free
    plan = planning.plan("replan", release_confirmed=False)
    for op in plan.operations:
        for r in held.reservations:
            assert op.machine != r.machine or op.end <= r.start or op.start >= r.end
    clock.advance(timedelta(hours=25))
    assert planning.holds.held_intervals(clock.now()) == {}
    assert planning.downtimes() == {"fdm-01": [(START, START + timedelta(hours=1), "breakdown")]}


def test_a_machine_down_is_not_promised(shop) -> None:  # type: ignore[no-untyped-def]
    """Capable-to-promise keeps off a stored downtime: with every FDM printer down for two
    days, the printing of a quote starts after them."""
    service, _, planning = shop
    with service.uow() as tx:
        factory = tx.factory.current()
    assert factory is not None
    until = START + timedelta(days=2)
    for machine in factory.machines:
        if "fdm_print" in machine.capabilities:
            planning.add_window(machine.id, START - timedelta(hours=1), until, "breakdown")
    response = service.quote_upload(CUBE, "a.stl", material="pla-black", quantity=5, units="mm")
    printing = [r for r in response.reservations if r.machine.startswith("fdm")]
    assert printing and all(r.start >= until for r in printing)


def test_expired_quote_releases_its_capacity_and_cannot_be_accepted(shop) -> None:  # type: ignore[no-untyped-def]
    service, clock, _ = shop
    held = service.quote_upload(
        CUBE, "cube.stl", material="pla-black", quantity=40, customer=_customer(service), units="mm"
    )
    assert held.quote_id is not None
    clock.advance(timedelta(hours=25))
    assert service.get(held.quote_id)["status"] == "expired"
    assert service.store.held_reservations(clock.now()) == []
    assert service.expire() == [held.quote_id]
    with pytest.raises(Conflict, match="expired"):
        service.accept(held.quote_id)


def test_accept_needs_a_customer(shop) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = shop
    response = service.quote_upload(CUBE, "cube.stl", material="pla-black", quantity=1, units="mm")
    assert response.quote_id is not None
    with pytest.raises(ValidationError, match="customer"):
        service.accept(response.quote_id)


def test_unknown_quote_and_token_are_not_found(shop) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = shop
    with pytest.raises(NotFound):
        service.accept("Q-nope")
    with pytest.raises(NotFound):
        service.track("not-a-token")


def test_refused_file_stores_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = shop
    with pytest.raises(ValidationError):
        service.quote_upload(b"junk", "x.stl", material="pla-black", quantity=1)
    assert isinstance(service.store, MemoryQuoteStore)
    assert service.store.quotes == {}


def test_sql_quote_store_keeps_quotes_and_releases_reservations(migrated_db_url: str) -> None:
    from microfactory.store.base import make_engine
    from microfactory.store.migrate import upgrade

    engine = make_engine(migrated_db_url)
    upgrade(engine)
    store = SqlQuoteStore(engine)
    quote = {
        "id": "Q-1",
        "created_at": START,
        "expires_at": START + timedelta(hours=2),
        "status": "held",
        "customer": None,
        "model": "cube",
        "material": "pla-black",
        "quantity": 2,
        "process": "fdm",
        "machine": "fdm-01",
        "price": 12.5,
        "currency": "EUR",
        "promised_date": START + timedelta(days=1),
        "machine_hours": 1.5,
        "order_id": None,
        "payload": {"price": 12.5},
    }
    slot = {"step": "print", "machine": "fdm-01", "start": START, "end": START + timedelta(hours=1)}
    store.add(quote, [slot])
    assert store.get("Q-1")["payload"] == {"price": 12.5}
    assert store.held_reservations(START) == [slot]
    assert store.held_reservations(START + timedelta(hours=3)) == []
    assert store.expired_ids(START + timedelta(hours=3)) == ["Q-1"]
    store.set_status("Q-1", "accepted", "SO-9")
    assert store.get("Q-1")["order_id"] == "SO-9"
    assert store.reservations("Q-1") == []
    with pytest.raises(NotFound):
        store.get("Q-2")
    engine.dispose()
