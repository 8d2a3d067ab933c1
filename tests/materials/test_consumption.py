"""Consumption on the event path: a finished job issues its operation's material from stock
in the reactor's transaction — BOM × (good + scrap), the reported lot else first expiry
first out, never below zero (a discrepancy and an alert), low-stock and expiry alerts —
exactly once. On SQLite and PostgreSQL, through the ingester and the real reactor."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.orders import Factory, OrderLine
from microfactory.orders.stock import MaterialEstimate, MovementKind
from microfactory.services.factory import init_factory
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.reactor import Reactor
from microfactory.shopfloor.events import JobEvent

from .conftest import FILE_TIME, T0, release


@dataclass
class Shop:
    container: Container
    factory: Factory
    reactor: Reactor
    seq: itertools.count[int] = field(default_factory=itertools.count)

    def finish(
        self, op: str, good: int, scrap: int = 0, *, lot: str | None = None, minutes: int = 60
    ) -> JobEvent:
        n = next(self.seq)
        event = JobEvent(
            event_id=f"job-{n}",
            machine="fdm-01" if not op.startswith("SO-R") else "resin-01",
            seq=n,
            ts=T0 + timedelta(minutes=minutes + n),
            action="finished",
            work_order=op.rsplit("-", 1)[0],
            operation=op,
            good=good,
            reject=scrap,
            material_lot=lot,
        )
        self.store(event)
        return event

    def store(self, *events: JobEvent) -> None:
        ingester = Ingester(
            self.container.telemetry(),
            clock=FixedClock(T0 + timedelta(days=1)),
            known_machines=list(self.factory.machine_map),
            settings=IngestSettings(max_future=None),
        )
        assert not ingester.process_events(list(events)).dead
        self.reactor.catch_up()

    def lot(self, lot_id: str) -> float:
        with self.container.uow() as tx:
            found = tx.stock.lot(lot_id)
        assert found is not None
        return found.quantity


@pytest.fixture
def shop(migrated_db_url: str) -> Iterator[Shop]:
    container = bootstrap(db_url=migrated_db_url)
    factory = init_factory(container.uow, DEMO_FACTORY, FixedClock(FILE_TIME))
    release(
        container.uow,
        "SO-B",
        (
            OrderLine("bracket", 10, {"colour": "black"}),
            OrderLine("bracket", 300, {"colour": "white"}),
        ),
    )
    release(container.uow, "SO-R", (OrderLine("dental-model", 20),), customer="smile")
    try:
        yield Shop(container, factory, container.reactor(factory))
    finally:
        container.close()


def issues(shop: Shop, kind: MovementKind = MovementKind.ISSUE) -> list[tuple[str | None, float]]:
    with shop.container.uow() as tx:
        return [(m.lot, round(m.quantity, 9)) for m in tx.stock.movements(kinds=[kind])]


def test_a_finished_print_issues_its_bom_for_good_and_scrapped_parts(shop: Shop) -> None:
    shop.finish("SO-B-1-1", good=9, scrap=1)
    # 10 parts × 45 g of black PLA, first expiry first: PLA-B-2611 expires first
    assert issues(shop) == [("PLA-B-2611", 0.45)]
    assert shop.lot("PLA-B-2611") == pytest.approx(8 - 0.45)
    with shop.container.uow() as tx:
        (move,) = tx.stock.movements(kinds=[MovementKind.ISSUE])
        op = tx.work_orders.get_operation("SO-B-1-1")
    assert (move.work_order, move.operation, move.source) == (
        "SO-B-1",
        "SO-B-1-1",
        "machine:fdm-01",
    )
    assert op.status == "done"  # moved to done in the same transaction as the issue


def test_operations_without_material_issue_nothing(shop: Shop) -> None:
    shop.finish("SO-B-1-1", good=10)
    shop.finish("SO-B-1-2", good=10)  # deburr: no BOM line
    assert len(issues(shop)) == 1


def test_a_finish_is_issued_exactly_once(shop: Shop) -> None:
    first = shop.finish("SO-B-1-1", good=10)
    shop.store(first)  # the same event again: deduplicated by the ingester
    shop.finish("SO-B-1-1", good=10)  # a second finish: rejected by execution
    assert issues(shop) == [("PLA-B-2611", 0.45)]
    with shop.container.uow() as tx:
        assert next(r.reason for r in tx.reactor.rejections()).endswith("is already done")


def test_the_reported_lot_is_issued_first(shop: Shop) -> None:
    shop.finish("SO-B-1-1", good=10, lot="PLA-B-2614")
    assert issues(shop) == [("PLA-B-2614", 0.45)]


def test_an_unknown_reported_lot_is_alerted_and_issued_first_expiry_first_out(shop: Shop) -> None:
    shop.finish("SO-B-1-1", good=10, lot="SPOOL-42")
    assert issues(shop) == [("PLA-B-2611", 0.45)]
    with shop.container.uow() as tx:
        (alert,) = tx.stock.alerts(kinds=["discrepancy"])
    assert "SPOOL-42" in alert.message and alert.lot == "SPOOL-42"


def test_an_empty_lot_leaves_the_rest_as_a_discrepancy(shop: Shop) -> None:
    # 300 white brackets need 13.5 kg; PLA-W-2612 holds 14 kg: 0.5 kg left, below the
    # safety stock of 5 kg (a low-stock alert)
    shop.finish("SO-B-2-1", good=300)
    assert shop.lot("PLA-W-2612") == pytest.approx(0.5)
    with shop.container.uow() as tx:
        (low,) = tx.stock.alerts(kinds=["low_stock"])
    assert low.material == "pla-white"
    # the same print again (a remake): 0.5 kg from the lot, 13 kg that no lot holds
    with shop.container.uow() as tx:
        op = tx.work_orders.get_operation("SO-B-2-1")
    assert op.status == "done"
    release(shop.container.uow, "SO-W", (OrderLine("bracket", 300, {"colour": "white"}),))
    shop.finish("SO-W-1-1", good=300)
    assert shop.lot("PLA-W-2612") == 0
    assert issues(shop, MovementKind.DISCREPANCY) == [(None, pytest.approx(13.0))]
    with shop.container.uow() as tx:
        (short,) = tx.stock.alerts(kinds=["discrepancy"])
        balance = {b.lot: b for b in tx.stock.balances()}["PLA-W-2612"]
    assert "more than stock holds" in short.message
    assert balance.on_hand == pytest.approx(balance.receipts - balance.issues)


def test_an_estimate_replaces_the_bom(shop: Shop) -> None:
    with shop.container.uow() as tx:
        tx.stock.set_estimate("SO-B-1", MaterialEstimate("SO-B-1-1", "petg", 38, "g", "slicer"))
        tx.commit()
    shop.finish("SO-B-1-1", good=10)
    assert issues(shop) == [("PETG-2610", 0.38)]


def test_resin_is_issued_in_litres(shop: Shop) -> None:
    shop.finish("SO-R-1-1", good=20)
    # RES-G-2607 expired on 2026-01-24: first expiry first out skips it
    assert issues(shop) == [("RES-G-2609", pytest.approx(20 * 0.054))]


def test_lots_near_expiry_are_alerted_once(migrated_db_url: str) -> None:
    container = bootstrap(db_url=migrated_db_url)
    try:
        start = T0.replace(year=2026, month=1, day=12)  # RES-G-2607 expires on 2026-01-24
        factory = init_factory(container.uow, DEMO_FACTORY, FixedClock(FILE_TIME))
        release(container.uow, "SO-B", (OrderLine("bracket", 2, {"colour": "black"}),))
        shop = Shop(container, factory, container.reactor(factory))
        for minutes in (0, 60):
            event = JobEvent(
                event_id=f"x-{minutes}",
                machine="fdm-01",
                seq=minutes,
                ts=start + timedelta(minutes=minutes),
                action="finished" if minutes else "started",
                work_order="SO-B-1",
                operation="SO-B-1-1",
                good=2 if minutes else 0,
            )
            shop.store(event)
        with container.uow() as tx:
            alerts = tx.stock.alerts(kinds=["expiry"])
        assert [a.lot for a in alerts] == ["RES-G-2607"]
    finally:
        container.close()
