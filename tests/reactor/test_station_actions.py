"""What a person reports at a station beyond start and finish, on the one event path: each
action is stored as the event a machine would send (source `user:<name>`) and the reactor
applies it by the same rules — a pause keeps the operation running and shows on the machine,
a breakdown gives the planner a downtime and a replan and renews the machine's usage, a
measurement reaches SPC, maintenance started and done closes the work order; a refused action
stores nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from microfactory.core.errors import Conflict, ValidationError
from microfactory.maintenance.tpm import DEFAULT_PLANS, open_pm, plans_for
from microfactory.services.stations import StationAction, StationService
from microfactory.services.tpm import maintenance_row
from microfactory.shopfloor.machines import MachineState

from .conftest import T0, Shop


def station(shop: Shop) -> StationService:
    return shop.container.stations(shop.factory, shop.clock)


def stored(shop: Shop) -> list[tuple[str, str]]:
    with shop.container.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, body FROM tm_events ORDER BY id")).all()
    return [(k, b) for k, b in rows]


def test_a_pause_keeps_the_operation_running_and_shows_on_the_machine(sqlite_shop: Shop) -> None:
    first = sqlite_shop.plan[0]
    service = station(sqlite_shop)
    service.record(StationAction(first.operation, "started", "anna"))
    sqlite_shop.clock.advance(timedelta(minutes=10))
    paused = service.pause(first.operation, "anna")
    assert paused.state == MachineState.NOT_EXECUTING
    assert paused.reason == f"paused:{first.operation}"
    assert sqlite_shop.operation(first.operation).status.value == "running"
    with pytest.raises(Conflict, match="paused already"):
        service.pause(first.operation, "anna")
    sqlite_shop.clock.advance(timedelta(minutes=5))
    resumed = service.resume(first.operation, "anna")
    assert (resumed.state, resumed.reason) == (MachineState.EXECUTING, "resumed")
    kinds = [k for k, _ in stored(sqlite_shop)]
    assert kinds == ["job", "state", "state"]
    assert all('"source":"user:anna"' in b for _, b in stored(sqlite_shop))


def test_pausing_an_operation_that_is_not_running_is_refused(sqlite_shop: Shop) -> None:
    with pytest.raises(Conflict, match="is not running"):
        station(sqlite_shop).pause(sqlite_shop.plan[0].operation, "anna")
    assert stored(sqlite_shop) == []


def test_a_breakdown_gives_the_planner_a_downtime_and_renews_the_machine(shop: Shop) -> None:
    """On SQLite and on PostgreSQL."""
    machine = shop.plan[0].machine
    service = station(shop)
    down = service.downtime(machine, "breakdown", "anna", note="nozzle clog!")
    assert (down.state, down.reason) == (MachineState.OUT_OF_SERVICE, "breakdown:nozzle clog_")
    with shop.container.uow() as tx:
        ((start, end, _),) = tx.plans.downtimes()[machine]
        usage = tx.usage.usage(machine)
    mttr = shop.factory.machine_map[machine].mttr_hours
    assert end - start == timedelta(hours=mttr)
    assert all(u.run_hours == 0 and u.cycles == 0 for u in usage.values())
    with pytest.raises(Conflict, match="down already"):
        service.downtime(machine, "cleaning", "anna")
    shop.clock.advance(timedelta(hours=1))
    up = service.back_up(machine, "anna")
    assert (up.state, up.reason) == (MachineState.NOT_EXECUTING, "repaired")
    with shop.container.uow() as tx:
        ((_, end, _),) = tx.plans.downtimes()[machine]
    assert end == T0 + timedelta(hours=1)  # the downtime ended at the repair
    with pytest.raises(Conflict, match="is not down"):
        service.back_up(machine, "anna")


def test_an_unknown_downtime_reason_is_refused_naming_the_known_ones(sqlite_shop: Shop) -> None:
    with pytest.raises(ValidationError, match="no_material"):
        station(sqlite_shop).downtime(sqlite_shop.plan[0].machine, "coffee", "anna")
    assert stored(sqlite_shop) == []


def test_a_measurement_reaches_spc(sqlite_shop: Shop) -> None:
    product, char = next((p, c) for p in sqlite_shop.factory.products for c in p.characteristics)
    service = station(sqlite_shop)
    got = service.measure("inspect", char.name, char.nominal, "qa", lot_id="LOT-1", part_id="P-1")
    assert got == {"product": product.id, "characteristic": char.name, "value": char.nominal}
    quality = sqlite_shop.container.quality_store()
    assert [m["value"] for m in quality.measurements(characteristic=char.name)] == [char.nominal]
    with pytest.raises(ValidationError, match="no characteristic"):
        service.measure("inspect", "colour", 1.0, "qa")


def test_maintenance_started_and_done_at_the_station_closes_the_work_order(
    sqlite_shop: Shop,
) -> None:
    machine = next(m for m in sqlite_shop.factory.machines if plans_for(m.type, DEFAULT_PLANS))
    plan = plans_for(machine.type, DEFAULT_PLANS)[0]
    wo = open_pm(plan, machine.id, machine.type, "PM-00001", T0).plan_window(T0)
    with sqlite_shop.container.uow() as tx:
        tx.records.save_maintenance(maintenance_row(wo))
        tx.commit()
    service = station(sqlite_shop)
    service.maintenance(machine.id, "PM-00001", "tech", done=False)
    sqlite_shop.clock.advance(timedelta(minutes=40))
    service.maintenance(machine.id, "PM-00001", "tech", done=True)
    with sqlite_shop.container.uow() as tx:
        (row,) = [r for r in tx.records.maintenance_orders() if r["id"] == "PM-00001"]
    assert row["status"] == "done"
    assert (row["started"], row["done"]) == (T0, T0 + timedelta(minutes=40))
