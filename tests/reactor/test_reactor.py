"""The reactor applies committed events exactly once, by the documented rules, and keeps what
it cannot apply with the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from microfactory.orders import OrderStatus, WorkStatus
from microfactory.services.reactor import Applied, Reactor
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.records import StoredEvent

from .conftest import Machine, Shop, store_events


def reactor(shop: Shop) -> Reactor:
    return shop.container.reactor(shop.factory)


def rejections(shop: Shop) -> list[str]:
    with shop.container.uow() as tx:
        return [r.reason for r in tx.reactor.rejections()]


def test_a_job_runs_through_the_reactor_and_the_order_completes(shop: Shop) -> None:
    r = reactor(shop)
    for wo in ("SO-1-1", "SO-2-1"):
        for seq in (1, 2, 3):
            planned = shop.op(wo, seq)
            m = Machine(planned.machine)
            store_events(
                shop,
                [
                    m.job("started", planned.operation, wo),
                    m.job("finished", planned.operation, wo, good=5 - (seq == 1), reject=seq == 1),
                ],
            )
            out = r.catch_up()
            assert out.rejected == 0
            op = shop.operation(planned.operation)
            assert (op.status, op.machine, op.good) == (WorkStatus.DONE, m.id, 5 - (seq == 1))
            assert op.actual_start is not None and op.actual_end is not None
    with shop.container.uow() as tx:
        assert tx.orders.get("SO-1").status == OrderStatus.DONE
        assert tx.work_orders.get("SO-2-1").status == WorkStatus.DONE
        assert tx.reactor.progress("shopfloor").applied == 12


def test_the_cursor_moves_with_the_changes_so_nothing_is_applied_twice(shop: Shop) -> None:
    planned = shop.op("SO-1-1", 1)
    m = Machine(planned.machine)
    store_events(shop, [m.counter(1), m.counter(1), m.counter(2)])
    first = reactor(shop).catch_up()
    again = reactor(shop).catch_up()  # a restart: a new reactor on the same database
    assert (first.applied, again.applied) == (3, 0)
    with shop.container.uow() as tx:
        usage = tx.usage.usage(m.id)
    assert usage and {u.cycles for u in usage.values()} == {4}


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        # an operation nobody knows
        (lambda m, p: [m.job("started", "SO-9-1-1", "SO-9-1")], "unknown operation"),
        # the right operation named with another work order
        (lambda m, p: [m.job("started", p.operation, "SO-2-1")], "belongs to work order"),
        # a repeated start
        (
            lambda m, p: [
                m.job("started", p.operation, p.work_order),
                m.job("started", p.operation, p.work_order),
            ],
            "already running",
        ),
        # anything after finished
        (
            lambda m, p: [
                m.job("finished", p.operation, p.work_order, good=5),
                m.job("finished", p.operation, p.work_order, good=5),
            ],
            "already done",
        ),
        # aborting what does not run
        (lambda m, p: [m.job("aborted", p.operation, p.work_order)], "is not running"),
    ],
)
def test_events_that_do_not_fit_are_rejected_with_the_reason(
    sqlite_shop: Shop, events, reason: str
) -> None:  # type: ignore[no-untyped-def]
    planned = sqlite_shop.op("SO-1-1", 1)
    store_events(sqlite_shop, events(Machine(planned.machine), planned))
    out = reactor(sqlite_shop).catch_up()
    assert out.rejected == 1
    assert any(reason in r for r in rejections(sqlite_shop))


def test_a_machine_that_cannot_run_the_operation_is_rejected(sqlite_shop: Shop) -> None:
    planned = sqlite_shop.op("SO-1-1", 1)  # a print: the laser cannot do it
    store_events(sqlite_shop, [Machine("laser").job("started", planned.operation, "SO-1-1")])
    assert reactor(sqlite_shop).catch_up().rejected == 1
    assert "cannot run" in rejections(sqlite_shop)[0]
    assert sqlite_shop.operation(planned.operation).status == WorkStatus.RELEASED


def test_finished_before_started_is_applied_and_the_late_start_fills_in(
    sqlite_shop: Shop,
) -> None:
    planned = sqlite_shop.op("SO-1-1", 1)
    m = Machine(planned.machine)
    started = m.job("started", planned.operation, "SO-1-1")
    finished = m.job("finished", planned.operation, "SO-1-1", good=5)
    store_events(sqlite_shop, [finished])
    reactor(sqlite_shop).catch_up()
    op = sqlite_shop.operation(planned.operation)
    assert op.status == WorkStatus.DONE and op.actual_start == op.actual_end == finished.ts
    store_events(sqlite_shop, [started])
    assert reactor(sqlite_shop).catch_up().rejected == 0
    op = sqlite_shop.operation(planned.operation)
    assert (op.actual_start, op.actual_end) == (started.ts, finished.ts)


def test_a_job_on_another_machine_than_planned_is_applied_there(sqlite_shop: Shop) -> None:
    planned = sqlite_shop.op("SO-1-1", 1)
    other = next(
        m.id for m in sqlite_shop.factory.eligible_machines("fdm_print") if m.id != planned.machine
    )
    store_events(sqlite_shop, [Machine(other).job("started", planned.operation, "SO-1-1")])
    assert reactor(sqlite_shop).catch_up().rejected == 0
    op = sqlite_shop.operation(planned.operation)
    assert (op.status, op.machine) == (WorkStatus.RUNNING, other)


def test_an_aborted_job_is_planned_again(sqlite_shop: Shop) -> None:
    planned = sqlite_shop.op("SO-1-1", 1)
    m = Machine(planned.machine)
    store_events(
        sqlite_shop,
        [
            m.job("started", planned.operation, "SO-1-1"),
            m.job("aborted", planned.operation, "SO-1-1"),
        ],
    )
    out = reactor(sqlite_shop).catch_up()
    assert out.replans_requested == 1
    assert sqlite_shop.operation(planned.operation).status == WorkStatus.ABORTED
    planning = sqlite_shop.container.planning(clock=sqlite_shop.clock)
    version = planning.serve_requests()
    assert version is not None
    assert planned.operation in {op.operation for op in version.operations}


def test_a_breakdown_takes_the_machine_out_of_the_plan_until_the_repair(
    shop: Shop,
) -> None:
    victim = shop.op("SO-1-1", 1).machine
    m = Machine(victim)
    store_events(
        shop,
        [m.state(MachineState.OUT_OF_SERVICE, MachineMode.MAINTENANCE, "breakdown:nozzle")],
    )
    out = reactor(shop).catch_up()
    assert out.replans_requested == 1 and out.downtimes_changed
    planning = shop.container.planning(clock=shop.clock)
    version = planning.serve_requests()
    assert version is not None and "breakdown" in version.reason
    mttr = timedelta(hours=shop.factory.machine_map[victim].mttr_hours)
    assert all(
        op.machine != victim or op.start >= m.at + mttr or op.frozen for op in version.operations
    )
    store_events(shop, [m.state(MachineState.NOT_EXECUTING, MachineMode.IDLE, "repaired")])
    reactor(shop).catch_up()
    assert planning.downtimes()[victim][0][1] == m.at  # the downtime ends at the repair


def test_an_out_of_spec_measurement_raises_an_alert_and_holds_the_lot(shop: Shop) -> None:
    m = Machine("inspect")
    store_events(shop, [m.measure("hole_pitch", 40.5, "LOT-SO-1-1", "SO-1-1-001")])
    out = reactor(shop).catch_up()
    assert out.holds_changed and out.replans_requested == 1
    assert [a.kind.value for a in out.alerts] == ["out_of_spec"]
    with shop.container.uow() as tx:
        assert tx.quality.held_lots() == {"LOT-SO-1-1"}
    # the next plan leaves the held lot's work out
    version = shop.container.planning(clock=shop.clock).serve_requests()
    assert version is not None
    assert not [op for op in version.operations if op.work_order == "SO-1-1"]


def test_a_measurement_of_an_unknown_characteristic_is_rejected(sqlite_shop: Shop) -> None:
    store_events(sqlite_shop, [Machine("inspect").measure("warp", 1.0, "LOT-X", "P-1")])
    assert reactor(sqlite_shop).catch_up().rejected == 1
    assert "warp" in rejections(sqlite_shop)[0]


def test_run_hours_and_cycles_count_toward_pm_and_a_due_plan_opens_a_window(
    sqlite_shop: Shop,
) -> None:
    m = Machine("laser")
    events = [m.state(MachineState.EXECUTING, MachineMode.PROCESSING)]
    events += [m.counter(1) for _ in range(3)]
    # 3,000 hours of processing: more than any run-hour plan of a laser allows
    events.append(m.state(MachineState.NOT_EXECUTING, MachineMode.IDLE, minutes=180_000))
    store_events(sqlite_shop, events)
    out = reactor(sqlite_shop).catch_up()
    with sqlite_shop.container.uow() as tx:
        usage = tx.usage.usage("laser")
        orders = tx.records.maintenance_orders()
        downtimes = tx.plans.downtimes()
    assert {u.cycles for u in usage.values()} == {3}
    assert {round(u.run_hours) for u in usage.values()} >= {3000}
    assert orders and all(o["status"] == "planned" for o in orders)
    assert out.maintenance_windows and out.replans_requested >= 1
    assert {r for _, _, r in downtimes["laser"]} == {f"pm:{o['id']}" for o in orders}


class Exploding:
    """A handler with a bug on one event: the reactor must isolate it."""

    kinds = frozenset({"counter"})

    def prepare(self, tx, events: list[StoredEvent]) -> None:  # type: ignore[no-untyped-def]
        return None

    def apply(self, tx, stored: StoredEvent, out: Applied) -> None:  # type: ignore[no-untyped-def]
        if stored.event is not None and getattr(stored.event, "good", 0) == 13:
            raise RuntimeError("unlucky")

    def finish(self, tx, out: Applied) -> None:  # type: ignore[no-untyped-def]
        return None


def test_a_handler_that_breaks_on_one_event_does_not_hold_back_the_others(
    sqlite_shop: Shop,
) -> None:
    m = Machine("laser")
    store_events(sqlite_shop, [m.counter(1), m.counter(13), m.counter(2)])
    r = Reactor(sqlite_shop.container.uow, [*reactor(sqlite_shop).handlers, Exploding()])
    out = r.catch_up()
    assert (out.applied, out.rejected, r.counters.internal_errors) == (2, 1, 1)
    assert "internal error: RuntimeError: unlucky" in rejections(sqlite_shop)[0]
    with sqlite_shop.container.uow() as tx:
        assert {u.cycles for u in tx.usage.usage("laser").values()} == {3}
