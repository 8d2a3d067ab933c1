"""The terminal's queue cache (`QueueCache`): a view reuses the queue built before while the
plan's version and the state of its cards' operations (and of those running on the machine)
are as they were, and builds it again as soon as any of them changed — whether the change
came through the event path or not. On SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from microfactory.orders import OperationState, WorkStatus
from microfactory.services.station_queue import QueueCache, QueueItem, _agree, station_queue
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
    assert queue and queue[0].operation == first.operation
    assert view(shop, cache, machine) == queue
    assert (cache.hits, cache.misses) == (1, 1)

    # an event at another machine that touches none of the cards: kept
    service.downtime(other, "cleaning", "anna")
    assert view(shop, cache, machine) == queue
    assert (cache.hits, cache.misses) == (2, 1)

    # a start on a card: built again, the card shows it running
    service.record(StationAction(first.operation, "started", "anna"))
    started = view(shop, cache, machine)
    assert cache.misses == 2
    assert started[0].operation == first.operation and started[0].status == "running"
    assert started == fresh(shop, machine)

    # the finish: the card leaves the queue
    shop.clock.advance(timedelta(minutes=30))
    service.record(StationAction(first.operation, "finished", "anna", good=5))
    done = view(shop, cache, machine)
    assert cache.misses == 3
    assert first.operation not in [i.operation for i in done]
    assert done == fresh(shop, machine)


def test_a_change_off_the_event_path_and_a_new_plan_are_seen(shop: Shop) -> None:
    machine = shop.plan[0].machine
    cache = QueueCache(ttl_s=3600.0)
    queue = view(shop, cache, machine)
    card = queue[-1]
    with shop.container.uow() as tx:  # e.g. the order was cancelled at the desk
        op = tx.work_orders.get_operation(card.operation)
        tx.work_orders.update_operation(replace(op, status=WorkStatus.CANCELLED))
        tx.commit()
    after = view(shop, cache, machine)
    assert card.operation not in [i.operation for i in after]
    assert cache.misses == 2
    assert view(shop, cache, machine) == after and cache.hits == 1

    planning = shop.container.planning(clock=shop.clock)
    planning.settings = replace(planning.settings, strategy="dispatch")
    planning.plan("again", release_confirmed=False)
    view(shop, cache, machine)
    assert cache.misses == 3


def test_an_operation_started_on_the_machine_from_elsewhere_is_seen(shop: Shop) -> None:
    """An operation planned on another machine, started on this one: not a card before."""
    machine = shop.plan[0].machine
    cache = QueueCache(ttl_s=3600.0)
    cards = {i.operation for i in view(shop, cache, machine)}
    elsewhere = next(p for p in shop.plan if p.operation not in cards and p.machine != machine)
    with shop.container.uow() as tx:
        op = tx.work_orders.get_operation(elsewhere.operation)
        running = replace(op, status=WorkStatus.RUNNING, machine=machine, actual_start=T0)
        tx.work_orders.update_operation(running)
        tx.commit()
    queue = view(shop, cache, machine)
    assert queue[0].operation == elsewhere.operation and queue[0].status == "running"
    assert cache.misses == 2


def test_the_lifetime_bounds_what_the_states_do_not_show(sqlite_shop: Shop) -> None:
    machine = sqlite_shop.plan[0].machine
    cache = QueueCache(ttl_s=0.0)
    view(sqlite_shop, cache, machine)
    view(sqlite_shop, cache, machine)
    assert (cache.hits, cache.misses) == (0, 2)


def test_cards_read_before_a_change_are_not_kept(sqlite_shop: Shop) -> None:
    """The queue and the states are two reads: a start between them shows as a card that
    disagrees with its state, and such a queue is built again at the next view."""
    machine = sqlite_shop.plan[0].machine
    queue = fresh(sqlite_shop, machine)
    with sqlite_shop.container.uow() as tx:
        states = tx.work_orders.operation_states([i.operation for i in queue], running_on=machine)
    assert _agree(queue, states, machine)
    first = queue[0].operation
    moved = {
        **states,
        first: states[first]._replace(status=WorkStatus.RUNNING, machine=machine),
    }
    assert not _agree(queue, moved, machine)
    counted = {**states, first: states[first]._replace(good=3)}
    assert not _agree(queue, counted, machine)
    other_running = {
        **states,
        "OP-X": OperationState(WorkStatus.RUNNING, machine, 0, 0, T0, WorkStatus.RUNNING),
    }
    assert not _agree(queue, other_running, machine)
    assert not _agree(queue, {}, machine)
