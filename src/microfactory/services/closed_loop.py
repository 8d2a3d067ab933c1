"""The closed loop: orders arrive, the scheduler plans them, the dispatcher releases work to
the machines of the digital twin, the machines report over the shop-floor bus, ingestion
stores what they say, TPM plans maintenance from usage, breakdowns and windows trigger
replans — and at the end every figure of the summary is computed from the database.

All adapters come in through ports (`LoopPorts`); the composition (CLI) builds them.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from microfactory.connect.bus import Bus, Message
from microfactory.maintenance.tpm import MaintenanceWorkOrder
from microfactory.orders import Factory
from microfactory.orders.generator import GeneratedOrder, order_stream
from microfactory.quality.records import NcrStatus, QualityAlert
from microfactory.services.execution import Execution, ExecutionStore
from microfactory.services.ingestion import Ingester, IngestSettings, TelemetryWriter
from microfactory.services.loop_planning import DispatchPlanner, LoopPlanner
from microfactory.services.loop_summary import LoopFigures, compute_figures
from microfactory.services.orders import OrderRequest, place_order, release_order
from microfactory.services.planning import EventKind, PlanStore, ReplanEvent
from microfactory.services.ports import UnitOfWorkFactory
from microfactory.services.quality import (
    QualityService,
    disposition_ncr,
    held_lots,
    list_ncrs,
)
from microfactory.services.tpm import MaintenanceStore, TpmService
from microfactory.shopfloor.events import Event
from microfactory.shopfloor.topics import ROOT, topic_for
from microfactory.twin.jobs import TwinConfig
from microfactory.twin.model import FailureRecord, Twin


class TelemetryReader(Protocol):
    def events(
        self,
        *,
        machine: str | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
    ) -> list[Event]: ...

    def counts(self) -> dict[str, int]: ...


class LoopStore(ExecutionStore, MaintenanceStore, Protocol):
    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]: ...

    def plan_runs(self) -> list[tuple[datetime, str, str]]: ...

    def planned_vs_actual(self) -> list[tuple[str, datetime, datetime, datetime | None]]: ...

    def save_run(
        self, seed: int, days: float, start: datetime, bus: str, summary: dict[str, Any]
    ) -> int: ...


class TelemetryStore(TelemetryWriter, TelemetryReader, Protocol):
    pass


@dataclass(frozen=True)
class FailureWarning:
    """A predicted failure: the machine, why (signals, trend) and the remaining useful life."""

    machine: str
    reason: str
    rul_hours: float | None = None


class FailurePredictor(Protocol):
    """Port for online predictive maintenance: called every `predict_hours` of simulated
    time; returns the machines whose predicted RUL fell below the lead time."""

    def warnings(self, now: datetime) -> list[FailureWarning]: ...


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
    uow: UnitOfWorkFactory
    store: LoopStore
    telemetry: TelemetryStore
    bus: Bus
    plans: PlanStore | None = None
    bus_name: str = "memory"


@dataclass(frozen=True)
class LoopConfig:
    start: datetime
    days: float = 30.0
    seed: int = 7
    orders_per_day: float = 12.0
    rush_share: float = 0.08
    plan_every_hours: float = 6.0
    tpm_check_hours: float = 1.0
    preventive_maintenance: bool = True
    root: str = ROOT
    flush_minutes: float = 60.0
    ingest_minutes: float = 120.0
    review_hours: float = 4.0
    predict_hours: float = 6.0
    true_warning_hours: float = 72.0
    disruptions: tuple[tuple[str, datetime, float], ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("loop start must be timezone-aware")
        if not 0 < self.days <= 366:
            raise ValueError("days must be in (0, 366]")
        if self.plan_every_hours <= 0 or self.tpm_check_hours <= 0:
            raise ValueError("planning and TPM intervals must be positive")


@dataclass
class LoopRun:
    """What a finished run leaves: the figures and the hidden truth of the twin."""

    figures: LoopFigures
    twin: Twin
    execution: Execution
    tpm: TpmService
    ingest: dict[str, object]
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
        planner: LoopPlanner | None = None,
        measurement_hook: Callable[[Event], None] | None = None,
        quality: QualityService | None = None,
        predictor: FailurePredictor | None = None,
    ) -> None:
        self.ports = ports
        self.factory = factory
        self.config = config
        self.area = {m.id: m.area for m in factory.machines}
        self.site = factory.site.id
        self.measurement_hook = measurement_hook
        self.quality = quality
        self.predictor = predictor
        self.warnings: list[WarningRecord] = []
        self.quality_alerts: list[QualityAlert] = []
        self.reviewed: list[tuple[str, datetime]] = []
        self.planner = planner or DispatchPlanner(ports.uow, ports.plans, factory=factory)
        self.execution = Execution(ports.uow, ports.store, factory, planner=self.planner)
        self.twin = Twin(
            factory,
            TwinConfig(start=config.start, seed=config.seed, tag=f"s{config.seed}"),
            self.execution,
            self._sink,
        )
        self.execution.wake = self.twin.wake
        if quality is not None:
            quality.on_hold = self.execution.hold_lot
            quality.on_release = self.execution.release_lot
        self.tpm = TpmService(
            ports.store,
            factory,
            config.start,
            self._window,
            enabled=config.preventive_maintenance,
        )
        self.ingester = Ingester(
            ports.telemetry,
            clock=_SimClock(self.twin),
            known_machines=[m.id for m in factory.machines],
            settings=IngestSettings(
                root=config.root, max_future=None, max_batch=5000, max_delay_s=0.2
            ),
        )
        self.published = 0
        self._inbox: list[Message] = []

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
            self.execution.flush()
            if self.synchronous:
                self._ingest()
            if self.ingester.error is not None:
                raise self.ingester.error
            if progress is not None and int(self.twin.env.now // 1440) > day:
                day = int(self.twin.env.now // 1440)
                progress(day)
            stop.wait(max(0.0, wall0 + target * 60.0 / factor - time.monotonic()))

    def _await_delivery(self, timeout: float) -> None:
        """Wait until the ingester has received every published event (over a broker,
        messages are still on the way when the publisher's flush returns)."""
        deadline = time.monotonic() + timeout
        while self.ingester.counters.received + self.ingester.queued < self.published:
            if time.monotonic() > deadline or self.ingester.error is not None:
                break
            time.sleep(0.05)

    def _predict(self) -> None:
        """Ask the predictor; a warning opens a predictive work order whose window the
        scheduler plans around (one open work order per machine at a time)."""
        assert self.predictor is not None
        # the predictor reads the telemetry store: everything published so far must be in it
        if self.synchronous:
            self._ingest()
        else:
            self.ports.bus.flush(60.0)
            self._await_delivery(60.0)
            self.ingester.drain(60.0)
        now = self.twin.now
        for w in self.predictor.warnings(now):
            if w.machine not in self.area:
                continue
            wo = self.tpm.open_predictive(w.machine, now, w.reason)
            truth = self.twin.expected_run_minutes_to_failure(w.machine) / 60.0
            self.warnings.append(WarningRecord(w.machine, now, w.reason, truth, wo is not None))

    def _review_board(self) -> None:
        """The demo's material review board: a lot held for `review_hours` gets its open
        NCRs dispositioned (the twin already scrapped the parts out of tolerance) and is
        released, so its remaining operations run."""
        assert self.quality is not None
        now = self.twin.now
        store = self.quality.store
        for lot in sorted(held_lots(store)):
            holds = [h for h in store.holds(lot=lot, active_only=True)]
            if not holds or min(h["held_at"] for h in holds) > now - self.review_after:
                continue
            for ncr in list_ncrs(store, lot=lot, status=NcrStatus.OPEN):
                disposition_ncr(store, ncr.id, "scrap", by="mrb", at=now)
            self.quality.release(lot, by="mrb", at=now, note="parts out of tolerance scrapped")
            self.reviewed.append((lot, now))

    @property
    def review_after(self) -> timedelta:
        return timedelta(hours=self.config.review_hours)

    @property
    def clock(self) -> _SimClock:
        """Simulated time, for services built around the loop (e.g. the planning service)."""
        return _SimClock(self.twin)

    @property
    def synchronous(self) -> bool:
        return self.ports.bus_name == "memory"

    def _collect(self, message: Message) -> None:
        self._inbox.append(message)

    def _ingest(self) -> None:
        inbox, self._inbox = self._inbox, []
        if not inbox:
            return
        for i in range(0, len(inbox), self.ingester.settings.max_batch):
            chunk = inbox[i : i + self.ingester.settings.max_batch]
            self.ingester.process([(m.topic, m.payload) for m in chunk])
            for m in chunk:
                self.ports.bus.ack(m)

    # -- wiring ----------------------------------------------------------------------------

    def _sink(self, event: Any) -> None:
        topic = topic_for(
            self.site, self.area[event.machine], event.machine, event.kind, self.config.root
        )
        self.ports.bus.publish(topic, event.to_json())
        self.published += 1
        kind = event.kind
        if kind in ("job", "state"):
            self.execution.on_event(event)
        if kind in ("state", "counter"):
            self.tpm.on_event(event)
        if kind == "measurement":
            if self.measurement_hook is not None:
                self.measurement_hook(event)
            if self.quality is not None:
                self.quality_alerts.extend(self.quality.on_measurement(event))

    def _window(self, wo: MaintenanceWorkOrder) -> None:
        assert wo.window is not None
        self.twin.schedule_maintenance(wo.machine, wo.window.start, wo.minutes, wo.id)
        self.execution.add_maintenance_window(
            wo.machine, wo.window.start, wo.window.end, wo.id, self.twin.now
        )

    def _arrive(self, order: GeneratedOrder) -> Callable[[], None]:
        def arrive() -> None:
            self.execution.flush()
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
                work_orders = release_order(tx, order.order_id, order.created)
                tx.commit()
            self.execution.take(work_orders)
            if order.rush:
                event = ReplanEvent(EventKind.RUSH_ORDER, self.twin.now, order=order.order_id)
                self.execution.replan(self.twin.now, "rush_order", order.order_id, event)

        return arrive

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

    def run(
        self,
        progress: Callable[[int], None] | None = None,
        *,
        realtime_factor: float | None = None,
        stop: threading.Event | None = None,
    ) -> LoopRun:
        """Run the whole horizon as fast as possible, or — with `realtime_factor` — in
        scaled real time (factor 60: one simulated minute per second), ingesting as it goes
        so a dashboard on the same database shows the shop live; `stop` ends it early."""
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
        self._every(cfg.plan_every_hours, lambda: self.execution.plan_periodic(self.twin.now), 0.01)
        self._every(cfg.tpm_check_hours, lambda: self.tpm.check(self.twin.now), 0.5)
        self._every(cfg.flush_minutes / 60.0, self.execution.flush, 0.02)
        if self.quality is not None:
            self._every(1.0, self._review_board, 0.04)
        if self.predictor is not None:
            self._every(cfg.predict_hours, self._predict, 0.05)
        pattern = f"{cfg.root}/v1/{self.site}/+/+/+"
        if self.synchronous:
            # in-process bus: ingest in this thread every tick (one writer, no lock waits)
            self.ports.bus.subscribe(pattern, self._collect)
            self._every(cfg.ingest_minutes / 60.0, self._ingest, 0.03)
        else:
            self.ingester.attach(self.ports.bus, pattern)
            self.ingester.start()
        try:
            if realtime_factor is not None:
                self._run_realtime(realtime_factor, stop or threading.Event(), progress)
            else:
                self._run_fast(progress)
            self.execution.flush()
            self.ports.bus.flush(60.0)
            self._ingest()
            self._await_delivery(120.0)
            self.ingester.drain(120.0)
        finally:
            self.ingester.stop(120.0)
        if self.ingester.error is not None:
            raise self.ingester.error
        end = cfg.start + timedelta(days=cfg.days)
        figures = compute_figures(
            self.ports.uow,
            self.ports.store,
            self.ports.telemetry,
            self.factory,
            cfg.start,
            end,
        )
        wall = time.perf_counter() - began
        return LoopRun(
            figures=figures,
            twin=self.twin,
            execution=self.execution,
            tpm=self.tpm,
            ingest=self.ingester.counters.as_dict(),
            orders=orders,
            wall_seconds=wall,
            cpu_seconds=time.process_time() - cpu,
            quality_alerts=list(self.quality_alerts),
            lots_reviewed=len(self.reviewed),
            warnings=list(self.warnings),
            predictor_name="none" if self.predictor is None else type(self.predictor).__name__,
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
