"""Predictive maintenance as a use case of the loop.

`PredictiveMaintenance` reads each machine's states and sensor samples from the telemetry
store (through the `EventSource` port), splits them into lives, learns one `HealthModel`
per machine type from the fleet's own lives (refitted whenever a machine of that type breaks
down), and scores every machine: a health index and a RUL with an interval, explained by
the signals that drive it. `warnings(now)` implements the closed loop's `FailurePredictor`
port: a machine whose predicted RUL falls below `lead_hours` gets a `FailureWarning`.
`plan_predictive_maintenance` turns an assessment into a predictive work order with a
maintenance window, which the scheduler plans around. `train_rul_model` / `predict_rul`
train a fleet RUL model on run-to-failure histories, keep it in the model registry and
predict with a registered version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from microfactory.core import Clock, Conflict, ValidationError
from microfactory.maintenance.cmapss import read_cmapss
from microfactory.maintenance.health import HealthAssessment, HealthModel, Life
from microfactory.maintenance.lives import LifeTracker
from microfactory.maintenance.rul import FleetRULModel
from microfactory.maintenance.tpm import MaintenanceWorkOrder
from microfactory.orders import Factory
from microfactory.services.ports import (
    ModelRegistry,
    RegisteredModel,
    SampleReader,
    UnitOfWork,
    UnitOfWorkFactory,
)
from microfactory.services.reactor import Applied
from microfactory.services.tpm import open_predictive
from microfactory.shopfloor.events import StateChanged
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.records import StoredEvent
from microfactory.twin.degradation import signals_for

# (time, 0 for a state change / 1 for a row of samples, the event or the row)
_Item = tuple[datetime, int, object]
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class FailureWarning:
    """A predicted failure: the machine, why (signals, trend) and the remaining useful life."""

    machine: str
    reason: str
    rul_hours: float | None = None


@runtime_checkable
class FailurePredictor(Protocol):
    """Port for online predictive maintenance: asked at most every `every_hours` of event
    time; returns the machines whose predicted RUL fell below the lead time."""

    def warnings(self, now: datetime) -> list[FailureWarning]: ...


@dataclass(frozen=True)
class PredictiveOutcome:
    """A warning and whether it opened a work order (one open work order per machine)."""

    warning: FailureWarning
    at: datetime
    work_order: str | None


class PredictiveHandler:
    """Health signals feed predictive maintenance, on the event path: every event moves the
    handler's clock (event time); at most every `every_hours` of it, the predictor reads the
    committed telemetry and each machine predicted to fail within the lead gets a
    predictive work order with its window, in the reactor's transaction."""

    kinds = frozenset({"state", "counter", "sample", "job", "measurement"})

    def __init__(
        self, factory: Factory, predictor: FailurePredictor, *, every_hours: float = 6.0
    ) -> None:
        if every_hours <= 0:
            raise ValueError("every_hours must be positive")
        self.factory = factory
        self.predictor = predictor
        self.every = timedelta(hours=every_hours)
        self.next_due: datetime | None = None
        self._newest: datetime | None = None

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        if self._newest is None or stored.ts > self._newest:
            self._newest = stored.ts

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        return None

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        now, self._newest = self._newest, None
        if now is None:
            return
        if self.next_due is None:
            self.next_due = now + self.every
            return
        if now < self.next_due:
            return
        self.next_due = now + self.every
        for w in self.predictor.warnings(now):
            if w.machine not in self.factory.machine_map:
                continue
            wo = open_predictive(tx, self.factory, w.machine, now, w.reason, out)
            out.warnings.append(PredictiveOutcome(w, now, None if wo is None else wo.id))


class PredictiveOrders:
    """`PredictiveWorkOrders` in a unit of work of its own (a user or a script opening one
    outside the reactor)."""

    def __init__(self, uow: UnitOfWorkFactory, factory: Factory) -> None:
        self.uow = uow
        self.factory = factory

    def open_predictive(
        self, machine: str, now: datetime, reason: str, minutes: float = 60.0
    ) -> MaintenanceWorkOrder | None:
        with self.uow() as tx:
            wo = open_predictive(tx, self.factory, machine, now, reason, Applied(), minutes)
            tx.commit()
        return wo


class PredictiveWorkOrders(Protocol):
    """Port: what opens a predictive work order and plans its window."""

    def open_predictive(
        self, machine: str, now: datetime, reason: str, minutes: float = 60.0
    ) -> MaintenanceWorkOrder | None: ...


@dataclass(frozen=True)
class PredictiveSettings:
    """`lead_hours`: warn when the predicted RUL (run hours) is below it; `use_lower_bound`:
    compare the interval's lower bound instead (earlier, more false alarms);
    `min_failed_lives`: failures of a machine type needed before its RUL is trusted (before
    that, a machine is flagged only when its degradation index reaches the failure level);
    `min_run_hours`: run time of the current life before a machine is scored."""

    lead_hours: float = 24.0
    use_lower_bound: bool = False
    min_failed_lives: int = 1
    min_run_hours: float = 2.0
    batch_limit: int = 10_000

    def __post_init__(self) -> None:
        if self.lead_hours <= 0:
            raise ValueError("lead_hours must be positive")
        if self.min_failed_lives < 0 or self.min_run_hours < 0:
            raise ValueError("min_failed_lives and min_run_hours must not be negative")


class PredictiveMaintenance:
    """Online scoring of a fleet; implements the loop's `FailurePredictor` port."""

    def __init__(
        self,
        telemetry: SampleReader,
        machine_types: Mapping[str, str],
        settings: PredictiveSettings | None = None,
        *,
        model_factory: Callable[[], HealthModel] = HealthModel,
    ) -> None:
        self.telemetry = telemetry
        self.machine_types = dict(machine_types)
        self.settings = settings or PredictiveSettings()
        self.model_factory = model_factory
        self.trackers = {
            m: LifeTracker(tuple(p.name for p in signals_for(t)))
            for m, t in self.machine_types.items()
        }
        self.models: dict[str, HealthModel] = {}
        self._fitted_on: dict[str, tuple[int, int]] = {}
        self._cursor: datetime | None = None

    # -- reading telemetry -----------------------------------------------------------------

    def _fetch(self, machine: str, start: datetime, end: datetime) -> list[_Item]:
        """States and sample rows of one machine in [start, end), in time order."""
        limit = self.settings.batch_limit
        items: list[_Item] = []
        since = start
        while True:
            batch = self.telemetry.events(
                machine=machine, kind="state", start=since, end=end, limit=limit
            )
            items.extend((e.ts, 0, e) for e in batch if isinstance(e, StateChanged))
            if len(batch) < limit:
                break
            since = batch[-1].ts + _TICK
        rows: dict[datetime, dict[str, float]] = {}
        for signal in self.trackers[machine].signal_names:
            since = start
            while True:
                got = self.telemetry.samples(machine, signal, since, end, limit)
                for ts, value in got:
                    rows.setdefault(ts, {})[signal] = value
                if len(got) < limit:
                    break
                since = got[-1][0] + _TICK
        items.extend((ts, 1, row) for ts, row in rows.items())
        items.sort(key=lambda item: (item[0], item[1]))
        return items

    def update(self, now: datetime) -> None:
        """Read every machine's telemetry since the previous call into its life tracker
        (windows are half-open, [previous now, now), so nothing is read twice), then refit
        the models whose machine type has new lives."""
        start = self._cursor or datetime(1970, 1, 1, tzinfo=UTC)
        if now <= start:
            return
        for machine, tracker in self.trackers.items():
            _feed(tracker, self._fetch(machine, start, now))
        self._cursor = now
        self._refit()

    def _refit(self) -> None:
        by_type: dict[str, list[str]] = {}
        for machine, mtype in self.machine_types.items():
            by_type.setdefault(mtype, []).append(machine)
        for mtype, machines in by_type.items():
            trackers = [self.trackers[m] for m in machines]
            failed = sum(t.failures for t in trackers)
            samples = sum(
                t.n_samples + sum(life.history.n_samples for life in t.completed) for t in trackers
            )
            before = self._fitted_on.get(mtype)
            # Refit after a breakdown of this type, or when the data has doubled since the
            # last fit (so the healthy baseline firms up early on): O(log n) refits.
            if samples < 2 or (
                before is not None and before[0] == failed and samples < 2 * before[1]
            ):
                continue
            lives: list[Life] = []
            for t in trackers:
                lives.extend(t.completed)
                if t.n_samples >= 2:
                    lives.append(Life(t.current(), failed=False))
            try:
                self.models[mtype] = self.model_factory().fit(lives)
            except ValidationError:
                continue
            self._fitted_on[mtype] = (failed, samples)

    # -- scoring ---------------------------------------------------------------------------

    def assess(self, machine: str) -> HealthAssessment | None:
        """The machine's current assessment, or None (down, too new, no model yet)."""
        if machine not in self.trackers:
            raise ValidationError(f"unknown machine {machine!r}")
        tracker = self.trackers[machine]
        model = self.models.get(self.machine_types[machine])
        history = tracker.current()
        if model is None or not tracker.alive or history.n_samples < 2:
            return None
        if float(history.run_hours[-1]) < self.settings.min_run_hours:
            return None
        return model.assess(history)

    def assessments(self, now: datetime) -> dict[str, HealthAssessment]:
        """Read new telemetry, then assess every machine that can be assessed."""
        self.update(now)
        out = {}
        for machine in self.trackers:
            a = self.assess(machine)
            if a is not None:
                out[machine] = a
        return out

    def is_due(self, machine: str, assessment: HealthAssessment) -> bool:
        """Whether this assessment calls for maintenance now."""
        model = self.models[self.machine_types[machine]]
        s = self.settings
        if model.n_failed_lives_ < s.min_failed_lives:
            return assessment.degradation >= 1.0
        return assessment.due_within(s.lead_hours, use_lower=s.use_lower_bound)

    def warnings(self, now: datetime) -> list[FailureWarning]:
        """The loop's `FailurePredictor` port: machines predicted to fail within the lead."""
        return [
            FailureWarning(machine, a.explanation, a.rul_hours)
            for machine, a in sorted(self.assessments(now).items())
            if self.is_due(machine, a)
        ]


def plan_predictive_maintenance(
    work_orders: PredictiveWorkOrders,
    machine: str,
    assessment: HealthAssessment,
    now: datetime,
    *,
    lead_hours: float,
    minutes: float = 60.0,
    use_lower_bound: bool = False,
) -> MaintenanceWorkOrder | None:
    """When the predicted RUL is below `lead_hours`, open a predictive work order whose
    window the scheduler plans around; returns it (its `window` is the maintenance window),
    or None when no maintenance is due or one is already open for the machine."""
    if lead_hours <= 0:
        raise ValidationError("lead_hours must be positive")
    if not assessment.due_within(lead_hours, use_lower=use_lower_bound):
        return None
    return work_orders.open_predictive(machine, now, assessment.explanation, minutes)


def _feed(tracker: LifeTracker, items: list[_Item]) -> None:
    for ts, kind, payload in items:
        if kind == 0:
            assert isinstance(payload, StateChanged)
            processing = (
                payload.state == MachineState.EXECUTING and payload.mode == MachineMode.PROCESSING
            )
            tracker.state(ts, processing, payload.reason)
        else:
            assert isinstance(payload, dict)
            tracker.sample(ts, payload)


# -- model registry ------------------------------------------------------------------------


RUL_KIND = "fleet_rul"


@dataclass(frozen=True)
class RulPrediction:
    unit: int
    rul: float
    lower: float
    upper: float


def _digest(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ValidationError(f"cannot read file: {exc.strerror}", where=str(path)) from exc


def train_rul_model(
    registry: ModelRegistry,
    train_path: Path,
    clock: Clock,
    *,
    name: str = "rul",
    model: FleetRULModel | None = None,
    test_path: Path | None = None,
    rul_path: Path | None = None,
) -> RegisteredModel:
    """Train a fleet RUL model on run-to-failure histories (C-MAPSS layout), evaluate it on
    a test set when one is given (protocol of `bench rul`), and register a new version."""
    import pickle
    import time

    from microfactory.maintenance.benchmark import run_rul_benchmark

    fleet = model if model is not None else FleetRULModel()
    metrics: dict[str, Any] = {}
    if (test_path is None) != (rul_path is None):
        raise ValidationError("give both a test file and its RUL file, or neither")
    if test_path is not None and rul_path is not None:
        result = run_rul_benchmark(train_path, test_path, rul_path, fleet)
        metrics = {k: v for k, v in result.summary().items() if k != "model"}
    else:
        runs = read_cmapss(train_path)
        start = time.perf_counter()
        fleet.fit(runs)
        metrics = {"train_seconds": round(time.perf_counter() - start, 2)}
    metrics["n_train_units"] = fleet.n_units_
    trained_on = str(train_path)
    if test_path is not None:
        trained_on += f" (evaluated on {test_path})"
    return registry.register(
        name=name,
        kind=RUL_KIND,
        model=pickle.dumps(fleet, protocol=pickle.HIGHEST_PROTOCOL),
        trained_on=trained_on,
        data_digest=_digest(train_path),
        metrics=metrics,
        params={"rul_cap": fleet.rul_cap, "description": fleet.description},
        created_at=clock.now(),
    )


def predict_rul(
    registry: ModelRegistry, data_path: Path, *, name: str = "rul", version: int | None = None
) -> tuple[RegisteredModel, list[RulPrediction]]:
    """RUL with its interval at the last observed cycle of every unit of `data_path`, from
    a registered model (the latest version unless `version` is given).

    The registry holds pickled models: only load a database you trust."""
    import pickle

    info, blob = registry.load(name, version)
    if info.kind != RUL_KIND:
        raise Conflict(f"model {name} is a {info.kind!r} model, not a RUL model")
    fleet = pickle.loads(blob)
    if not isinstance(fleet, FleetRULModel):
        raise Conflict(f"model {name} version {info.version} is not a fleet RUL model")
    runs = read_cmapss(data_path)
    point, lower, upper = fleet.predict_last(runs)
    units = runs.units
    return info, [
        RulPrediction(int(u), float(p), float(lo), float(hi))
        for u, p, lo, hi in zip(units, point, lower, upper, strict=True)
    ]
