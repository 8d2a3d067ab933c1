"""The terminal's queue cache (`QueueCache`): a view reuses each card built before while its
operation's state and planned times are as they were, and builds again exactly the cards
whose operation changed — whether the change came through the event path or not; every view
equals a queue built afresh. On SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from microfactory.orders import WorkStatus
from microfactory.services.station_queue import QueueCache, QueueItem, station_queue
from microfactory.services.stations import StationAction, StationService

from .conftest import T0, Shop


def station(shop: Shop) -> StationService:
    return shop.container.stations(shop.factory, shop.clock)


def view(shop: Shop, cache: QueueCache, machine: str) -> list[QueueItem]:
    with shop.container.uow() as tx:
        return cache.get(tx, shop.factory, machine)


def fresh(shop: Shop, machine: str) -> list[QueueItem]:
    with shop.container.uow() as tx:
        return station_queue(tx, shop.factory, machine)


def test_the_queue_is_kept_until_one_of_its_cards_changes(shop: Shop) -> None:
    first = shop.plan[0]
    machine = first.machine
    other = next(m.id for m in shop.factory.machines if m.id != machine)
    service = station(shop)
    cache = QueueCache(ttl_s=3600.0)
    queue = view(shop, cache, machine)
    n = len(queue)
    assert queue and queue[0].operation == first.operation
    assert (cache.reused, cache.built) == (0, n)
    assert view(shop, cache, machine) == queue
    assert (cache.reused, cache.built) == (n, n)

    # an event at another machine that touches none of the cards: every card kept
    service.downtime(other, "cleaning", "anna")
    assert view(shop, cache, machine) == queue
    assert (cache.reused, cache.built) == (2 * n, n)

    # a start on a card: that card alone is built again and shows it running
    service.record(StationAction(first.operation, "started", "anna"))
    started = view(shop, cache, machine)
    assert (cache.reused, cache.built) == (3 * n - 1, n + 1)
    assert started[0].operation == first.operation and started[0].status == "running"
    assert started == fresh(shop, machine)

    # the finish: the card leaves the queue; the next planned one (if any) is built
    shop.clock.advance(timedelta(minutes=30))
    service.record(StationAction(first.operation, "finished", "anna", good=5))
    done = view(shop, cache, machine)
    assert first.operation not in [i.operation for i in done]
    assert done == fresh(shop, machine)
    assert cache.built == n + 1 + (len(done) - (n - 1))


def test_a_change_off_the_event_path_and_a_new_plan_are_seen(shop: Shop) -> None:
    machine = shop.plan[0].machine
    cache = QueueCache(ttl_s=3600.0)
    queue = view(shop, cache, machine)
    card = queue[-1]
    with shop.container.uow() as tx:  # e.g. the order was cancelled at the desk
        op = tx.work_orders.get_operation(card.operation)
        tx.work_orders.update_operation(replace(op, status=WorkStatus.CANCELLED))
        tx.commit()
    built = cache.built
    after = view(shop, cache, machine)
    assert card.operation not in [i.operation for i in after]
    assert after == fresh(shop, machine)
    assert cache.built == built + len(after) - (len(queue) - 1)  # only a new last card
    assert view(shop, cache, machine) == after and cache.built == built + len(after) - (
        len(queue) - 1
    )

    # a new plan: cards whose planned times moved are built again, and the view is the plan's
    planning = shop.container.planning(clock=shop.clock)
    planning.settings = replace(planning.settings, strategy="dispatch")
    planning.plan("again", release_confirmed=False)
    assert view(shop, cache, machine) == fresh(shop, machine)


def test_an_operation_started_on_the_machine_from_elsewhere_is_seen(shop: Shop) -> None:
    """An operation planned on another machine, started on this one: not a card before."""
    machine = shop.plan[0].machine
    cache = QueueCache(ttl_s=3600.0)
    queue = view(shop, cache, machine)
    cards = {i.operation for i in queue}
    elsewhere = next(p for p in shop.plan if p.operation not in cards and p.machine != machine)
    with shop.container.uow() as tx:
        op = tx.work_orders.get_operation(elsewhere.operation)
        running = replace(op, status=WorkStatus.RUNNING, machine=machine, actual_start=T0)
        tx.work_orders.update_operation(running)
        tx.commit()
    built = cache.built
    now = view(shop, cache, machine)
    assert now[0].operation == elsewhere.operation and now[0].status == "running"
    assert now == fresh(shop, machine)
    assert cache.built == built + 1  # the new card alone


def test_the_lifetime_bounds_what_the_states_do_not_show(sqlite_shop: Shop) -> None:
    machine = sqlite_shop.plan[0].machine
    cache = QueueCache(ttl_s=0.0)
    n = len(view(sqlite_shop, cache, machine))
    view(sqlite_shop, cache, machine)
    assert (cache.reused, cache.built) == (0, 2 * n)


def test_a_card_read_after_its_state_changed_is_built_again(sqlite_shop: Shop) -> None:
    """The states and a card's work order are two reads: a card is kept with the state of
    its own read, so a start that came between them shows as a changed state at the next
    view, which builds that card again."""
    shop = sqlite_shop
    machine = shop.plan[0].machine
    cache = QueueCache(ttl_s=3600.0)
    queue = view(shop, cache, machine)
    first = queue[0].operation
    stored = cache.cards._cards[first]
    cache.cards._cards[first] = (stored[0], stored[1]._replace(good=7), *stored[2:])
    built = cache.built
    assert view(shop, cache, machine) == queue
    assert cache.built == built + 1
