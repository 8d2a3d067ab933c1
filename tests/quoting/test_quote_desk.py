"""The quote desk's use cases on the in-memory stores and the demo factory: the product an
accepted quote becomes, sending a quote (it keeps its reservation), the list of quotes, and
the same state rules on the SQL quote store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.core.errors import Conflict, ValidationError
from microfactory.services.factory import init_factory
from microfactory.services.planning import PlanningService, PlanningSettings
from microfactory.services.quoting import HeldQuotes, QuoteService, QuotingSettings
from microfactory.store.memory import MemoryUnitOfWorkFactory
from microfactory.store.quoting_tables import MemoryQuoteStore

from .test_quote_service import CUBE, START


@pytest.fixture()
def desk() -> tuple[QuoteService, FixedClock, PlanningService]:
    """The demo factory with a first plan and quotes held for 24 h (in-memory stores)."""
    uow = MemoryUnitOfWorkFactory()
    init_factory(uow, DEMO_FACTORY)
    clock = FixedClock(START)
    quotes = MemoryQuoteStore()
    planning = PlanningService(
        uow, clock, PlanningSettings(time_limit=2.0, workers=1), holds=HeldQuotes(quotes)
    )
    planning.plan("initial")
    service = QuoteService(
        uow, quotes, clock, plans=planning, settings=QuotingSettings(hold_hours=24)
    )
    return service, clock, planning


def test_a_chosen_product_is_what_the_accepted_order_becomes(desk) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = desk
    q = service.quote_upload(
        CUBE, "cube.stl", material="pla-black", quantity=2, units="mm", product="sensor-kit"
    )
    assert q.quote_id is not None
    accepted = service.accept(q.quote_id, customer="acme")
    with service.uow() as tx:
        order = tx.orders.get(accepted.order_id)
    assert order.lines[0].product == "sensor-kit"


@pytest.mark.parametrize(
    ("material", "product", "reason"),
    [
        ("pla-black", "teapot", "not in the factory catalog"),  # unknown product
        ("resin-grey", "bracket", "does not start with 'resin_print'"),  # another process
        ("pla-black", "alu-plate", "does not start with 'fdm_print'"),  # not printed at all
    ],
)
def test_a_product_that_cannot_carry_the_quote_is_refused_before_anything_is_held(
    desk,  # type: ignore[no-untyped-def]
    material: str,
    product: str,
    reason: str,
) -> None:
    service: QuoteService = desk[0]
    with pytest.raises(ValidationError, match=reason):
        service.quote_upload(
            CUBE, "cube.stl", material=material, quantity=1, units="mm", product=product
        )
    assert service.recent() == []


def test_a_sent_quote_keeps_its_reservation_and_can_be_accepted(desk) -> None:  # type: ignore[no-untyped-def]
    service, clock, _ = desk
    q = service.quote_upload(
        CUBE, "cube.stl", material="pla-black", quantity=2, units="mm", customer="acme"
    )
    assert q.quote_id is not None
    held = service.store.reservations(q.quote_id)
    assert held and service.send(q.quote_id)["status"] == "sent"
    assert service.store.reservations(q.quote_id) == held
    assert held[0] in service.store.held_reservations(clock.now())
    with pytest.raises(Conflict, match="already sent"):
        service.send(q.quote_id)
    accepted = service.accept(q.quote_id)
    assert service.get(q.quote_id)["status"] == "accepted"
    assert service.recent()[0]["order_id"] == accepted.order_id


def test_a_quote_without_a_customer_is_not_sent(desk) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = desk
    q = service.quote_upload(CUBE, "cube.stl", material="pla-black", quantity=1, units="mm")
    assert q.quote_id is not None
    with pytest.raises(ValidationError, match="names no customer"):
        service.send(q.quote_id)
    assert service.get(q.quote_id)["status"] == "held"


def test_an_expired_sent_quote_is_shown_expired_and_cannot_be_sent_or_accepted(desk) -> None:  # type: ignore[no-untyped-def]
    service, clock, _ = desk
    q = service.quote_upload(
        CUBE, "cube.stl", material="pla-black", quantity=1, units="mm", customer="acme"
    )
    assert q.quote_id is not None
    service.send(q.quote_id)
    clock.advance(timedelta(hours=25))
    assert service.recent()[0]["status"] == "expired"
    assert service.expire() == [q.quote_id]
    with pytest.raises(Conflict, match="expired"):
        service.accept(q.quote_id)
    with pytest.raises(Conflict, match="only a held quote"):
        service.send(q.quote_id)
    assert service.store.reservations(q.quote_id) == []


def test_recent_lists_the_newest_first(desk) -> None:  # type: ignore[no-untyped-def]
    service, clock, _ = desk
    ids = []
    for _ in range(3):
        q = service.quote_upload(CUBE, "cube.stl", material="pla-black", quantity=1, units="mm")
        ids.append(q.quote_id)
        clock.advance(timedelta(minutes=1))
    listed = service.recent(limit=2)
    assert [r["id"] for r in listed] == ids[::-1][:2]
    assert "payload" not in listed[0]
