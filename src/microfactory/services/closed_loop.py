"""The closed loop, exactly as a shop runs: orders arrive and are planned; the digital twin's
machines ask the dispatcher for work and *only publish* what they do on the shop-floor bus;
the ingester stores the events; the reactor applies the committed events (execution, TPM,
replanning triggers, SPC, predictive maintenance); the planning service serves the replan
requests they raised; a purchasing clerk receives what arrived and orders what MRP says
(staff actions, like the review board's); and at the end every figure of the summary is
computed from the database. No in-process shortcut remains between the twin and the shop's
state: the twin learns what the shop decided only through the dispatcher (which job next)
and maintenance windows (when to stop), as a real machine would.

On the in-process bus the loop is synchronous: before a machine asks for its next job, what
was published so far is ingested and applied (a real shop's ingester runs milliseconds
behind; the simulation must not let a machine see a stale shop). Over MQTT the ingester
runs on its own thread, and the same barrier waits for the broker to deliver and the
ingester to commit before the reactor applies.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from microfactory.core.clock import Clock
from microfactory.orders import Factory
from microfactory.orders.generator import GeneratedOrder, order_stream
from microfactory.quality.records import NcrStatus, QualityAlert
from microfactory.services.dispatch import Dispatcher
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.loop_summary import LoopFigures, compute_figures
from microfactory.services.maintenance import FailurePredictor, FailureWarning, PredictiveOutcome
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.planning import PlanningService, PlanVersion
from microfactory.services.ports import (
    Bus,
    ExecutionRecords,
    MaterialAvailability,
    Message,
    TelemetryReader,
    TelemetryWriter,
    UnitOfWorkFactory,
)
from microfactory.services.purchasing import purchasing_round
from microfactory.services.quality import disposition_ncr, release_hold
from microfactory.services.reactor import Applied, Reactor
from microfactory.shopfloor.topics import ROOT, topic_for
from microfactory.twin.jobs import TwinConfig, TwinJob
from microfactory.twin.model import FailureRecord, Twin

__all__ = ["FailurePredictor", "FailureWarning"]

# state reasons a dispatch decision depends on (the machine is out, back, or in maintenance)
URGENT_STATES = ("breakdown", "repaired", "pm")


class TelemetryStore(TelemetryWriter, TelemetryReader, Protocol):
    pass


class ReactorBuilder(Protocol):
    def __call__(self, listeners: list[Callable[[Applied], None]]) -> Reactor: ...


class PlanningBuilder(Protocol):
    def __call__(
        self, clock: Clock, listeners: list[Callable[[PlanVersion], None]]
    ) -> PlanningService: ...


@dataclass(frozen=True)
class WarningRecord:
    """A warning with the twin's hidden truth at that moment (for honest scoring)."""

    machine: str
    at: datetime
    reason: str
    true_rul_hours: float
    planned: bool


@dataclass
class LoopPorts:
    """What the loop runs on. `reactor` and `planning` are built by the composition (with
    the loop's listeners and clock); `records` are the execution records the summary reads."""

    uow: UnitOfWorkFactory
    records: ExecutionRecords
    telemetry: TelemetryStore
    bus: Bus
    reactor: ReactorBuilder
    planning: PlanningBuilder
    bus_name: str = "memory"
    materials: MaterialAvailability | None = None
    """When material is there: the dispatcher hands out no job before it."""


@dataclass(frozen=True)
class LoopConfig:
    start: datetime
    days: float = 30.0
    seed: int = 7
    orders_per_day: float = 12.0
    rush_share: float = 0.08
    plan_every_hours: float = 6.0
    root: str = ROOT
    ingest_minutes: float = 120.0
    review_hours: float = 4.0
    purchase_hours: float = 24.0
    true_warning_hours: float = 72.0
    disruptions: tuple[tuple[str, datetime, float], ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("loop start must be timezone-aware")
        if not 0 < self.days <= 366:
            raise ValueError("days must be in (0, 366]")
        if self.plan_every_hours <= 0 or self.ingest_minutes <= 0:
            raise ValueError("planning and ingestion intervals must be positive")


@dataclass
class LoopRun:
    """What a finished run leaves: the figures and the hidden truth of the twin."""

    figures: LoopFigures
    twin: Twin
    ingest: dict[str, object]
    reactor: dict[str, object]
    orders: list[GeneratedOrder] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    quality_alerts: list[QualityAlert] = field(default_factory=list)
    lots_reviewed: int = 0
    warnings: list[WarningRecord] = field(default_factory=list)
    predictor_name: str = "none"


class _SimClock:
    def __init__(self, twin: Twin) -> None:
        self.twin = twin

    def now(self) -> datetime:
        return self.twin.now


class ClosedLoop:
    """One run of the whole loop on the given ports."""

    def __init__(
        self,
        ports: LoopPorts,
        factory: Factory,
        config: LoopConfig,
        *,
        predictor_name: str = "none",
        review_board: bool = True,
        purchasing: bool = True,
    ) -> None:
        self.ports = ports
        self.factory = factory
        self.config = config
        self.area = {m.id: m.area for m in factory.machines}
        self.site = factory.site.id
        self.predictor_name = predictor_name
        self.review_board = review_board
        self.purchasing = purchasing
        self.purchases: list[tuple[str, str, datetime]] = []
        self.warnings: list[WarningRecord] = []
        self.quality_alerts: list[QualityAlert] = []
        self.reviewed: list[tuple[str, datetime]] = []
        self.dispatcher = Dispatcher(ports.uow, factory, ports.materials)
        self.twin = Twin(
            factory,
            TwinConfig(start=config.start, seed=config.seed, tag=f"s{config.seed}"),
            self,
            self._publish,
        )
        self.clock = _SimClock(self.twin)
        self.planning = ports.planning(self.clock, [self._on_plan])
        self.reactor = ports.reactor([self.dispatcher.on_applied, self._on_applied])
        self.ingester = Ingester(
            ports.telemetry,
            clock=self.clock,
            known_machines=[m.id for m in factory.machines],
            settings=IngestSettings(
                root=config.root, max_future=None, max_batch=5000, max_delay_s=0.02
            ),
        )
        self.published = 0
        self._synced = 0
        self._inbox: list[Message] = []
        self._in_sync = False
        self._urgent = False
        self._new_work = False

    # -- the machines' side ------------------------------------------------------------------

    def next_job(self, machine: str, now: datetime) -> TwinJob | None:
        """The twin's dispatcher port: the shop first catches up with what was published
        that a dispatch decision depends on (jobs, measurements, breakdowns, repairs and
        maintenance); counters, samples and other states follow at the next tick."""
        if self._urgent:
            self.sync()
        return self.dispatcher.next_job(machine, now)

    def _publish(self, event: Any) -> None:
        topic = topic_for(
            self.site, self.area[event.machine], event.machine, event.kind, self.config.root
        )
        self.ports.bus.publish(topic, event.to_json())
        self.published += 1
        if event.kind in ("job", "measurement") or (
            event.kind == "state" and (event.reason or "").startswith(URGENT_STATES)
        ):
            self._urgent = True

    # -- the shop's side ---------------------------------------------------------------------

    @property
    def synchronous(self) -> bool:
        return self.ports.bus_name == "memory"

    def sync(self) -> None:
        """Ingest what was published, apply it, serve the replan requests it raised."""
        if self._in_sync or self._synced == self.published:
            return
        self._in_sync = True
        try:
            if self.synchronous:
                self._ingest()
            else:
                self.ports.bus.flush(60.0)
                self._await_delivery(60.0)
                self.ingester.drain(60.0)
                if self.ingester.error is not None:
                    raise self.ingester.error
            self._synced = self.published
            self._urgent = False
            if self.reactor.catch_up().replans_requested:
                self.planning.serve_requests()
        finally:
            self._in_sync = False

    def _collect(self, message: Message) -> None:
        self._inbox.append(message)

    def _ingest(self) -> None:
        inbox, self._inbox = self._inbox, []
        for i in range(0, len(inbox), self.ingester.settings.max_batch):
            chunk = inbox[i : i + self.ingester.settings.max_batch]
            self.ingester.process([(m.topic, m.payload) for m in chunk])
            self.ports.bus.ack_many(chunk)

    def _await_delivery(self, timeout: float) -> None:
        """Wait until the ingester has received every published event (over a broker,
        messages are still on the way when the publisher's flush returns)."""
        deadline = time.monotonic() + timeout
        while self.ingester.counters.received + self.ingester.queued < self.published:
            if time.monotonic() > deadline or self.ingester.error is not None:
                break
            time.sleep(0.002)

    def _on_applied(self, out: Applied) -> None:
        """After each reactor commit: the twin learns of maintenance windows (a technician
        would be told), warnings are scored against the twin's truth, machines wake."""
        for row in out.maintenance_windows:
            minutes = (row["window_end"] - row["window_start"]).total_seconds() / 60.0
            self.twin.schedule_maintenance(row["machine"], row["window_start"], minutes, row["id"])
        for outcome in out.warnings:
            assert isinstance(outcome, PredictiveOutcome)
            w = outcome.warning
            truth = self.twin.expected_run_minutes_to_failure(w.machine) / 60.0
            self.warnings.append(
                WarningRecord(
                    w.machine, outcome.at, w.reason, truth, outcome.work_order is not None
                )
            )
        self.quality_alerts.extend(out.alerts)
        if out.operations or out.holds_changed or out.downtimes_changed:
            self.twin.wake()

    def _on_plan(self, version: PlanVersion) -> None:
        self.dispatcher.on_plan(version.version)
        self.twin.wake()

    def _review_board(self) -> None:
        """The demo's material review board: a lot held for `review_hours` gets its open
        NCRs dispositioned (the twin already scrapped the parts out of tolerance) and is
        released, so its remaining operations run."""
        now = self.twin.now
        with self.ports.uow() as tx:
            store = tx.quality
            held = store.held_lots()
            if not held:
                return
            for lot in sorted(held):
                holds = store.holds(lot=lot, active_only=True)
                if not holds or min(h["held_at"] for h in holds) > now - self.review_after:
                    continue
                for ncr in store.ncrs(lot_id=lot, status=NcrStatus.OPEN.value):
                    disposition_ncr(store, ncr["id"], "scrap", by="mrb", at=now)
                release_hold(
                    store, tx.replans, lot, by="mrb", at=now, note="parts out of tolerance scrapped"
                )
                self.reviewed.append((lot, now))
            tx.commit()
        if self.reviewed and self.reviewed[-1][1] == now:
            self.dispatcher.refresh()
            self.planning.serve_requests()

    def _purchasing_clerk(self) -> None:
        """The demo's purchasing clerk, once a round: receives the purchase orders that are
        due (a goods receipt is a staff action, not a shop-floor event: a new lot, and a
        replan for the work that waited for it) and places the orders MRP says must go out
        before the next round."""
        now = self.twin.now
        self.sync()
        with self.ports.uow() as tx:
            done = purchasing_round(
                tx, self.factory, now, order_ahead=timedelta(hours=self.config.purchase_hours)
            )
            tx.commit()
        self.purchases.extend(("received", po.id, now) for po in done.received)
        self.purchases.extend(("placed", po.id, now) for po in done.placed)
        if done.received:
            self.dispatcher.refresh()
            self.planning.serve_requests()

    @property
    def review_after(self) -> timedelta:
        return timedelta(hours=self.config.review_hours)

    def _arrive(self, order: GeneratedOrder) -> Callable[[], None]:
        def arrive() -> None:
            with self.ports.uow() as tx:
                req = OrderRequest(
                    customer=order.customer,
                    lines=order.lines,
                    due=order.due,
                    priority=order.priority,
                    rush=order.rush,
                    order_id=order.order_id,
                )
                place_order(tx, req, order.created, note="order received")
                release_order(tx, order.order_id, order.created)
                self._new_work = True
                if order.rush:
                    tx.replans.request(self.twin.now, "rush_order", order.order_id)
                tx.commit()
            if order.rush:
                self.sync()
                self.planning.serve_requests()

        return arrive

    def _periodic_plan(self) -> None:
        """The regular planning run, when orders arrived since the last plan."""
        if self._new_work:
            self._new_work = False
            self.sync()
            self.planning.plan("periodic", release_confirmed=False, trigger="periodic")

    def _every(self, hours: float, action: Callable[[], object], first: float) -> None:
        step = timedelta(hours=hours)

        def tick(when: datetime) -> Callable[[], None]:
            def run() -> None:
                action()
                self.twin.call_at(when + step, tick(when + step))

            return run

        start = self.config.start + timedelta(hours=first)
        self.twin.call_at(start, tick(start))

    # -- run -------------------------------------------------------------------------------

    def _run_fast(self, progress: Callable[[int], None] | None) -> None:
        cfg = self.config
        days = int(cfg.days) if float(cfg.days).is_integer() else int(cfg.days) + 1
        for day in range(1, days + 1):
            self.twin.run_until(min(day, cfg.days) * 1440.0)
            if self.ingester.error is not None:
                raise self.ingester.error
            if progress is not None:
                progress(day)

    def _run_realtime(
        self, factor: float, stop: threading.Event, progress: Callable[[int], None] | None
    ) -> None:
        if factor <= 0:
            raise ValueError("the real-time factor must be positive")
        end = self.config.days * 1440.0
        tick = 0.5  # wall seconds per step
        wall0 = time.monotonic()
        day = 0
        while self.twin.env.now < end and not stop.is_set():
            target = min(end, (time.monotonic() - wall0 + tick) * factor / 60.0)
            self.twin.run_until(target)
            self.sync()
            if self.ingester.error is not None:
                raise self.ingester.error
            if progress is not None and int(self.twin.env.now // 1440) > day:
                day = int(self.twin.env.now // 1440)
                progress(day)
            stop.wait(max(0.0, wall0 + target * 60.0 / factor - time.monotonic()))

    def run(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        realtime_factor: float | None = None,
        stop: threading.Event | None = None,
    ) -> LoopRun:
        """Run the whole horizon as fast as possible, or — with `realtime_factor` — in
        scaled real time (factor 60: one simulated minute per second), so a dashboard on the
        same database shows the shop live; `stop` ends it early."""
        began = time.perf_counter()
        cpu = time.process_time()
        cfg = self.config
        orders = order_stream(
            self.factory,
            cfg.start,
            cfg.days,
            random.Random(cfg.seed),
            orders_per_day=cfg.orders_per_day,
            rush_share=cfg.rush_share,
        )
        for order in orders:
            self.twin.call_at(order.created, self._arrive(order))
        for machine, at, hours in cfg.disruptions:
            self.twin.disrupt(machine, at, hours)
        self._every(cfg.plan_every_hours, self._periodic_plan, 0.01)
        self._every(cfg.ingest_minutes / 60.0, self.sync, 0.03)
        if self.review_board:
            self._every(1.0, self._review_board, 0.04)
        if self.purchasing:
            self._every(cfg.purchase_hours, self._purchasing_clerk, 2.05)
        pattern = f"{cfg.root}/v1/{self.site}/+/+/+"
        if self.synchronous:
            self.ports.bus.subscribe(pattern, self._collect)
        else:
            self.ingester.attach(self.ports.bus, pattern)
            self.ingester.start()
        try:
            if realtime_factor is not None:
                self._run_realtime(realtime_factor, stop or threading.Event(), progress)
            else:
                self._run_fast(progress)
            self.sync()
        finally:
            self.ingester.stop(120.0)
        if self.ingester.error is not None:
            raise self.ingester.error
        end = cfg.start + timedelta(days=cfg.days)
        figures = compute_figures(
            self.ports.uow, self.ports.records, self.ports.telemetry, self.factory, cfg.start, end
        )
        return LoopRun(
            figures=figures,
            twin=self.twin,
            ingest=self.ingester.counters.as_dict(),
            reactor=self.reactor.counters.as_dict(),
            orders=orders,
            wall_seconds=time.perf_counter() - began,
            cpu_seconds=time.process_time() - cpu,
            quality_alerts=list(self.quality_alerts),
            lots_reviewed=len(self.reviewed),
            warnings=list(self.warnings),
            predictor_name=self.predictor_name,
        )


def summary_dict(run: LoopRun, config: LoopConfig, bus: str) -> dict[str, Any]:
    """The `demo --json` summary."""
    f = run.figures
    predicted, caught, false, missed = score_warnings(
        run.warnings, run.twin.failures, config.true_warning_hours
    )
    out: dict[str, Any] = {
        "days": config.days if not float(config.days).is_integer() else int(config.days),
        "seed": config.seed,
        "bus": bus,
        "orders_received": f.orders_received,
        "orders_completed": f.orders_completed,
        "orders_late": f.orders_late,
        "on_time_rate": f.on_time_rate,
        "events_ingested": f.events_ingested,
        "samples_stored": f.samples_stored,
        "breakdowns": f.breakdowns,
        "preventive_maintenance_done": f.preventive_done,
        "predictive_maintenance_done": f.predictive_done,
        "replans": f.replans,
        "replans_by_trigger": f.replans_by_trigger,
        "plans": f.plans,
        "planned_vs_actual": f.plan_adherence,
        "oee": f.fleet_oee,
        "oee_by_day": f.oee_by_day,
        "oee_by_shift": f.oee_by_shift,
        "machines": f.machines,
        "downtime_pareto": f.pareto[:6],
        "six_big_losses_minutes": f.six_big_losses,
        "predicted_failures": predicted,
        "caught_failures": caught,
        "false_alarms": false,
        "missed_failures": missed,
        "predictive_maintenance": run.predictor_name,
        "quality_alerts": len(run.quality_alerts),
        "nonconformances": sum(1 for a in run.quality_alerts if a.ncr),
        "lots_held_and_released": run.lots_reviewed,
        "idle_while_late": f.idle_while_late,
        "materials": f.materials,
        "dead_letters": f.dead_letters,
        "wall_seconds": round(run.wall_seconds, 2),
        "cpu_seconds": round(run.cpu_seconds, 2),
    }
    return out


def score_warnings(
    warnings: list[WarningRecord],
    failures: list[FailureRecord],
    true_within_hours: float,
    lead: timedelta = timedelta(hours=8),
) -> tuple[int, int, int, int]:
    """predicted, caught, false alarms, missed — against the twin's hidden truth.

    A warning that opened a work order is a prediction. It is a false alarm when the twin's
    expected remaining run time was over `true_within_hours`; otherwise it caught a failure,
    unless the machine broke down less than `lead` after it. A breakdown with no warning at
    least `lead` before it is missed."""
    planned = [w for w in warnings if w.planned]
    caught = false = 0
    for w in planned:
        later = [f.at for f in failures if f.machine == w.machine and f.at >= w.at]
        if later and min(later) - w.at < lead:
            continue
        if w.true_rul_hours <= true_within_hours:
            caught += 1
        else:
            false += 1
    missed = sum(
        1
        for f in failures
        if not any(w.machine == f.machine and w.at <= f.at - lead for w in planned)
    )
    return len(planned), caught, false, missed


def compare(baseline: dict[str, Any], disrupted: dict[str, Any]) -> dict[str, Any]:
    """What changed between two summaries of the same seed (a what-if)."""
    keys = (
        "orders_received",
        "orders_completed",
        "orders_late",
        "on_time_rate",
        "breakdowns",
        "replans",
    )
    out: dict[str, Any] = {k: {"baseline": baseline[k], "disrupted": disrupted[k]} for k in keys}
    out["oee"] = {"baseline": baseline["oee"]["oee"], "disrupted": disrupted["oee"]["oee"]}
    a, b = baseline["on_time_rate"], disrupted["on_time_rate"]
    out["on_time_change"] = None if a is None or b is None else round(b - a, 4)
    return out
