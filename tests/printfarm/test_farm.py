"""The print farm's rules with in-memory printer hosts (the fake of the contract tests), the
real slicer, the real planner and a real database: what starts where and when, what is
published, how failures are retried or re-planned, and what a restarted runtime adopts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import trimesh

from conftest import IN_CI
from microfactory.bootstrap import Container, bootstrap
from microfactory.core.clock import SystemClock
from microfactory.core.errors import Conflict, ValidationError
from microfactory.printfarm_bootstrap import PrintFarmParts, build_print_farm
from microfactory.services.factory import init_factory
from microfactory.services.printfarm import PrintFarmSettings
from microfactory.services.printfarm_runtime import PrintFarmRuntime
from microfactory.services.quoting import QuoteService
from microfactory.shopfloor.events import Event, JobEvent, PartCounter, SampleBatch, StateChanged
from microfactory.shopfloor.printers import HostState, JobState, PlateClearing, PrinterStatus
from microfactory.store.model_file_tables import SqlModelStore
from microfactory.store.quoting_tables import SqlQuoteStore
from printfarm.conftest import farm_factory
from printfarm.fake_host import FakePrinterHost


@dataclass
class Shop:
    container: Container
    parts: PrintFarmParts
    hosts: dict[str, FakePrinterHost]
    runtime: PrintFarmRuntime
    quotes: QuoteService
    tmp: Path
    events: list[Event] = field(default_factory=list)

    @property
    def farm(self):  # type: ignore[no-untyped-def]
        return self.parts.farm

    def step(self, machine: str) -> None:
        self.runtime._step(machine, self.hosts[machine])

    def order(
        self, size: tuple[float, float, float] = (10, 10, 2), material: str = "pla-black"
    ) -> str:
        """Quote a box, accept it (which plans); return the print operation's id."""
        path = self.tmp / f"box-{len(list(self.tmp.glob('box-*')))}.stl"
        trimesh.creation.box(size).export(path)
        quote = self.quotes.quote_file(path, material=material, quantity=1, customer="acme")
        assert quote.quote_id is not None
        accepted = self.quotes.accept(quote.quote_id)
        return f"{accepted.order_id}-1-1"

    def order_many(self, quantity: int) -> str:
        path = self.tmp / "many.stl"
        trimesh.creation.box((20, 20, 5)).export(path)
        quote = self.quotes.quote_file(
            path, material="pla-black", quantity=quantity, customer="acme"
        )
        assert quote.quote_id is not None
        return f"{self.quotes.accept(quote.quote_id).order_id}-1-1"

    def planned_on(self, operation: str) -> str:
        plan = self.parts.planning.current()
        assert plan is not None
        return next(op.machine for op in plan.operations if op.operation == operation)

    def replan(self) -> None:
        reason = self.farm.take_replan()
        assert reason is not None, "no replan was requested"
        self.parts.planning.plan(reason, release_confirmed=False)

    def ready(self, machine: str, material: str = "pla-black", grams: float = 500.0) -> None:
        lot = {"pla-black": "PLA-B-1", "pla-white": "PLA-W-1"}[material]
        self.farm.desk.load_spool(machine, material, lot=lot, grams=grams, by="anna")
        self.farm.desk.plate_clear(machine, by="anna")
        self.farm.take_replan()  # loading a spool asks for one; not needed here

    def slice_all(self) -> None:
        while self.farm.slice_ahead():
            pass

    def of(self, kind: type[Event], machine: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (machine is None or e.machine == machine)
        ]

    def job(self, operation: str):  # type: ignore[no-untyped-def]
        with self.parts.store.transaction() as tx:
            return tx.jobs(operation=operation)


def make_shop(tmp_path: Path, db_url: str) -> Shop:
    container = bootstrap(db_url=db_url)
    init_factory(
        container.uow,
        farm_factory(
            tmp_path / "farm.yaml", {"p1": "http://p1.invalid:5000", "p2": "http://p2.invalid:5000"}
        ),
    )
    hosts = {m: FakePrinterHost(f"fake://{m}", seconds_per_move=60.0) for m in ("p1", "p2")}
    parts = build_print_farm(
        container,
        clock=SystemClock(),
        cache_dir=tmp_path / "gcode",
        plan_time_limit=1.0,
        settings=PrintFarmSettings(
            backoff_s=0.0, backoff_max_s=0.0, start_grace_s=0.0, confirm_s=0.0
        ),
        hosts=lambda m: hosts[m.id],
    )
    quotes = QuoteService(
        container.uow,
        SqlQuoteStore(container.engine),
        SystemClock(),
        plans=parts.planning,
        models=SqlModelStore(container.engine),
    )
    shop = Shop(container, parts, hosts, None, quotes, tmp_path)  # type: ignore[arg-type]
    shop.runtime = PrintFarmRuntime(parts.farm, parts.hosts, shop.events.extend)
    return shop


@pytest.fixture
def shop(tmp_path: Path, migrated_db_url: str) -> Iterator[Shop]:
    if shutil.which("prusa-slicer") is None:
        message = "prusa-slicer is not installed (scripts/ensure-test-services.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    shop = make_shop(tmp_path, migrated_db_url)
    yield shop
    shop.container.close()


def test_an_accepted_quote_is_sliced_started_and_reported_through_events(shop: Shop) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)  # uploads and starts
    host = shop.hosts[m]
    assert len(host.started) == 1 and host.started[0].startswith("mf-pj-")
    assert not shop.of(JobEvent), "nothing is published before the host confirms"
    shop.step(m)  # the host shows it printing
    started = shop.of(JobEvent, m)
    assert [(e.action, e.operation) for e in started] == [("started", op)]  # type: ignore[attr-defined]
    assert shop.of(StateChanged, m)[-1].state == "Executing"  # type: ignore[attr-defined]
    host.finish()
    shop.step(m)
    actions = [e.action for e in shop.of(JobEvent, m)]  # type: ignore[attr-defined]
    assert actions == ["started", "finished"]
    counter = shop.of(PartCounter, m)
    assert [(c.good, c.work_order) for c in counter] == [(1, op.rsplit("-", 1)[0])]  # type: ignore[attr-defined]
    assert shop.of(StateChanged, m)[-1].state == "NotExecuting"  # type: ignore[attr-defined]
    (job,) = shop.job(op)
    assert job.state is JobState.FINISHED and job.filament_g > 0
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert row["remaining_g"] == pytest.approx(500 - job.filament_g, abs=0.1)
    assert row["plate_clear"] is False  # an operator must clear it again
    assert shop.of(SampleBatch, m), "temperatures are published as samples"
    # the stock follows on the event path: the finished event names the spool's lot, and the
    # slicer's grams per part are the operation's material estimate the reactor issues
    (finished,) = [e for e in shop.of(JobEvent, m) if e.action == "finished"]  # type: ignore[attr-defined]
    assert finished.material_lot == "PLA-B-1"  # type: ignore[attr-defined]
    with shop.container.uow() as tx:
        estimate = tx.stock.estimates([op])[op]
    assert (estimate.source, estimate.material) == ("slicer", "pla-black")
    grams = estimate.quantity * (1000 if estimate.unit == "kg" else 1)
    assert grams == pytest.approx(job.filament_g / job.parts, rel=1e-6)


def test_events_carry_consecutive_sequence_numbers_per_printer(shop: Shop) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    for _ in range(3):
        shop.step(m)
    shop.hosts[m].finish()
    shop.step(m)
    seqs = [e.seq for e in shop.events if e.machine == m]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len({e.event_id for e in shop.events}) == len(shop.events)


def test_nothing_starts_until_the_plate_is_confirmed_clear(shop: Shop) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.farm.desk.load_spool(m, "pla-black", lot=None, grams=500, by="anna")
    shop.slice_all()
    shop.step(m)
    assert shop.hosts[m].started == []
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert "plate-clear" in row["message"]
    shop.farm.desk.plate_clear(m, by="anna")
    shop.step(m)
    assert len(shop.hosts[m].started) == 1


def test_wrong_material_is_not_started_there_and_the_job_is_rerouted(shop: Shop) -> None:
    op = shop.order(material="pla-black")
    first = shop.planned_on(op)
    other = "p2" if first == "p1" else "p1"
    shop.ready(first, material="pla-white")
    shop.ready(other, material="pla-black")
    shop.slice_all()
    shop.step(first)
    assert shop.hosts[first].started == []
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == first]
    assert "needs pla-black, pla-white is loaded" in row["message"]
    assert first in shop.parts.farm.plans.exclusions()[op]
    shop.replan()
    assert shop.planned_on(op) == other
    shop.slice_all()
    shop.step(other)
    assert len(shop.hosts[other].started) == 1


def test_a_spool_too_light_for_the_job_is_not_used(shop: Shop) -> None:
    op = shop.order(size=(30, 30, 10))
    m = shop.planned_on(op)
    shop.ready(m, grams=1.0)
    shop.slice_all()
    shop.step(m)
    assert shop.hosts[m].started == []
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert "filament: needs" in row["message"] and "1.0 g are left" in row["message"]


def test_a_cancelled_print_is_retried_then_replanned_after_the_limit(shop: Shop) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.farm.desk.configure(m, by="anna", retry_limit=1)
    shop.ready(m)
    shop.slice_all()
    host = shop.hosts[m]
    for attempt in (1, 2):
        shop.step(m)  # start
        shop.step(m)  # printing
        host.cancel()
        shop.step(m)  # aborted
        assert [j.attempt for j in shop.job(op)][-1] == attempt
        if attempt == 1:
            (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
            assert "attempt 1 of 2" in row["message"] and "retried" in row["message"]
            shop.farm.desk.plate_clear(m, by="anna")
    assert [e.action for e in shop.of(JobEvent, m)] == ["started", "aborted"] * 2  # type: ignore[attr-defined]
    assert [j.state for j in shop.job(op)] == [JobState.ABORTED, JobState.ABORTED]
    assert "failed: 2 attempts" in shop.farm.plans.exclusions()[op][m]
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert "gave up" in row["message"] and "re-planned" in row["message"]
    assert shop.farm.take_replan() is not None


def test_a_failed_upload_leaves_the_operation_planned_with_the_reason(shop: Shop) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.hosts[m].upload_fails = True
    shop.step(m)
    (job,) = shop.job(op)
    assert job.state is JobState.FAILED and "upload" in job.reason
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert "upload of" in row["message"] and "stays planned" in row["message"]
    shop.hosts[m].upload_fails = False
    shop.step(m)
    assert len(shop.hosts[m].started) == 1
    assert [j.attempt for j in shop.job(op)] == [1, 1]  # a job that never started is no attempt


def test_an_unreachable_host_is_shown_and_does_not_hold_up_the_others(shop: Shop) -> None:
    shop.hosts["p1"].reachable = False
    shop.step("p1")
    shop.step("p2")
    rows = {r["machine"]: r for r in shop.farm.desk.report()}
    assert rows["p1"]["state"] == "unreachable"
    assert "unreachable" in rows["p1"]["message"]
    assert rows["p2"]["state"] == "idle"
    states = {e.machine: e for e in shop.of(StateChanged)}
    assert states["p1"].state == "NotAvailable"  # type: ignore[attr-defined]
    assert states["p2"].state == "NotExecuting"  # type: ignore[attr-defined]


def test_a_printer_error_aborts_the_job_as_a_breakdown(shop: Shop) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)
    shop.step(m)
    shop.hosts[m].fail("MAXTEMP triggered!")
    shop.step(m)
    (job,) = shop.job(op)
    assert job.state is JobState.ABORTED and "MAXTEMP" in job.reason
    last = shop.of(StateChanged, m)[-1]
    assert last.state == "OutOfService" and last.reason.startswith("breakdown")  # type: ignore[attr-defined]
    shop.hosts[m].recover()
    shop.step(m)
    shop.step(m)
    states = [(e.state, e.reason) for e in shop.of(StateChanged, m)]  # type: ignore[attr-defined]
    assert states[-1] == ("NotExecuting", "repaired"), "the reactor ends the downtime on this"
    assert states.count(("NotExecuting", "repaired")) == 1


def test_a_restarted_runtime_adopts_the_running_job(shop: Shop, tmp_path: Path) -> None:
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)
    shop.step(m)
    # a new print farm on the same database and printers: what a restart builds
    parts = build_print_farm(
        shop.container,
        cache_dir=tmp_path / "gcode",
        plan_time_limit=1.0,
        hosts=lambda machine: shop.hosts[machine.id],
    )
    restarted = PrintFarmRuntime(parts.farm, parts.hosts, shop.events.extend)
    restarted._step(m, shop.hosts[m])
    assert len(shop.hosts[m].started) == 1, "no second start"
    shop.hosts[m].finish()
    restarted._step(m, shop.hosts[m])
    assert [e.action for e in shop.of(JobEvent, m)] == ["started", "finished"]  # type: ignore[attr-defined]
    seqs = [e.seq for e in shop.events if e.machine == m]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the sequence survives a restart"


def test_a_printer_that_clears_its_own_plate_takes_the_next_job(shop: Shop) -> None:
    first = shop.order()
    m = shop.planned_on(first)
    shop.farm.desk.configure(m, by="anna", plate_clearing=PlateClearing.GCODE)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)
    shop.step(m)
    shop.hosts[m].finish()
    shop.step(m)
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert row["plate_clear"] is True


def test_operator_actions_are_checked_and_recorded(shop: Shop) -> None:
    with pytest.raises(ValidationError, match="unknown material"):
        shop.farm.desk.load_spool("p1", "unobtainium", lot=None, grams=10, by="anna")
    with pytest.raises(ValidationError, match="not a lot of pla-white"):
        shop.farm.desk.load_spool("p1", "pla-white", lot="PLA-B-1", grams=10, by="anna")
    record = shop.farm.desk.load_spool("p1", "pla-white", lot="PLA-W-1", grams=750, by="anna")
    assert record.changed_by == "anna" and record.changed_at is not None
    assert record.spool is not None and record.spool.lot == "PLA-W-1"
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)
    shop.step(m)
    with pytest.raises(Conflict, match="printing"):
        shop.farm.desk.plate_clear(m, by="anna")


def test_the_same_model_and_profile_is_sliced_once(shop: Shop) -> None:
    first = shop.order()
    second = shop.order()
    shop.slice_all()
    assert shop.farm.slicing.sliced == 1
    with shop.parts.store.transaction() as tx:
        (record,) = tx.slices()
    assert record.ok and record.print_time_s and record.filament_g
    assert record.quote_time_s is not None and record.time_variance is not None
    assert {first, second}  # both operations share the slice


def test_a_job_the_slicer_refuses_stays_planned_with_the_slicers_reason(shop: Shop) -> None:
    op = shop.order_many(quantity=300)
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)
    assert shop.hosts[m].started == []
    (row,) = [r for r in shop.farm.desk.report() if r["machine"] == m]
    assert "slicer: refused" in row["message"] and "could not fit" in row["message"]
    assert shop.job(op) == []


def test_a_print_that_just_ended_is_not_taken_for_a_cancelled_one(shop: Shop) -> None:
    # OctoPrint may show the file idle at its last progress for a moment after the end
    op = shop.order()
    m = shop.planned_on(op)
    shop.ready(m)
    shop.slice_all()
    shop.step(m)
    shop.step(m)
    shop.farm.settings = replace(shop.farm.settings, confirm_s=60.0)
    (job,) = shop.job(op)
    stale = PrinterStatus(HostState.IDLE, job.file, progress=68.0, time_left_s=0)
    shop.farm.observe(m, stale)
    assert [j.state for j in shop.job(op)] == [JobState.PRINTING]
    shop.farm.observe(m, replace(stale, progress=100.0))
    assert [j.state for j in shop.job(op)] == [JobState.FINISHED]
    assert [e.action for e in shop.of(JobEvent, m)] == ["started"]  # type: ignore[attr-defined]
    shop.farm.flush(shop.events.extend)
    assert [e.action for e in shop.of(JobEvent, m)] == ["started", "finished"]  # type: ignore[attr-defined]
