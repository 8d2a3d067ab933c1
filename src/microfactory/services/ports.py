"""Ports: what services need from the outside world, declared once, in domain types. Each has a
real implementation (store, connect) and an in-memory one, and the same contract tests run
against both.

A unit of work is one transaction over every repository: what a use case reads and writes
through `tx.orders`, `tx.work_orders`, `tx.quality`, `tx.plans`, `tx.tpm`, ... commits or
rolls back together. The event reactor relies on it: the changes an event makes and the
reactor's cursor move in the same commit (`tx.reactor`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from microfactory.access import ApiToken, AuditRecord, Role, Session, StoredUser, User
from microfactory.orders import (
    Customer,
    Factory,
    OperationState,
    Order,
    OrderStatus,
    SerialNumber,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.orders.documents import Document
from microfactory.orders.materials import MaterialLot
from microfactory.orders.pins import OperationPin
from microfactory.orders.progress import ProgressSnapshot
from microfactory.orders.stock import (
    Consumer,
    LotBalance,
    MaterialEstimate,
    Movement,
    MovementKind,
    OperationMaterials,
    PurchaseOrder,
    PurchaseStatus,
    StockAlert,
)

# The shop-floor bus port is declared with the domain's `Message` in `shopfloor.bus` (its
# adapters in `connect` need both); services take it from here like every other port.
from microfactory.shopfloor.bus import Bus as Bus
from microfactory.shopfloor.bus import Handler as Handler
from microfactory.shopfloor.bus import Message as Message
from microfactory.shopfloor.events import (
    DeadLetter,
    Event,
    MachineStatus,
    Quarantined,
    SampleRows,
    SeqGap,
)
from microfactory.shopfloor.records import (
    PlanUsage,
    ReactorProgress,
    Rejection,
    ReplanRequest,
    StoredEvent,
)

Row = dict[str, Any]
Interval = tuple[datetime, datetime, str]


class FactoryRepository(Protocol):
    def current(self) -> Factory | None:
        """The factory most recently loaded, or None on an empty database."""
        ...

    def save(self, factory: Factory, definition: Mapping[str, Any], source_file: str) -> None:
        """Make `factory` current (machines and customers are synced; its material lots
        enter stock as receipts, `services.materials.receive_opening_lots`)."""
        ...

    def definition(self) -> dict[str, Any] | None:
        """The current factory's definition as loaded (the factory file's mapping), or None
        on an empty database: master-data edits change it and save a new version."""
        ...


class OrderRepository(Protocol):
    def add(self, order: Order, note: str = "") -> None:
        """Store a new order; Conflict if the id exists."""
        ...

    def get(self, order_id: str) -> Order:
        """NotFound if missing."""
        ...

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        """The orders with these ids, by id, in one read; ids that do not exist are absent."""
        ...

    def line_models(self, order_ids: Sequence[str]) -> dict[tuple[str, int], str]:
        """The model (`model_ref`) of each line of these orders that has one, by (order,
        line number from 1), in one read."""
        ...

    def find(
        self,
        *,
        status: Sequence[OrderStatus] | None = None,
        customer: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Order]: ...

    def count(self, *, status: Sequence[OrderStatus] | None = None) -> int: ...

    def set_status(self, order_id: str, status: OrderStatus, at: datetime, note: str = "") -> Order:
        """Apply a lifecycle transition (Conflict when illegal) and append it to the timeline."""
        ...

    def timeline(self, order_id: str) -> list[tuple[OrderStatus, datetime, str]]: ...

    def set_tracking_token(self, order_id: str, token: str) -> None: ...

    def by_tracking_token(self, token: str) -> Order:
        """NotFound for an unknown token."""
        ...

    def completed_at(self, order_id: str) -> datetime | None: ...

    def revise(self, order: Order, at: datetime, note: str) -> Order:
        """Store the order's new due date, priority, rush flag, notes and lines (its status is
        kept) and note the change on its timeline."""
        ...


class WorkOrderRepository(Protocol):
    def add(self, work_order: WorkOrder) -> None: ...

    def get(self, work_order_id: str) -> WorkOrder: ...

    def get_many(self, work_order_ids: Sequence[str]) -> dict[str, WorkOrder]:
        """The work orders with these ids, by id, in one read; missing ids are absent."""
        ...

    def find(
        self,
        *,
        status: Sequence[WorkStatus] | None = None,
        order: str | None = None,
        running_on: str | None = None,
    ) -> list[WorkOrder]:
        """By due date; `running_on`: only those with an operation running on that machine."""
        ...

    def set_status(self, work_order_id: str, status: WorkStatus) -> WorkOrder: ...

    def set_terms(self, work_order_id: str, due: datetime, weight: int) -> WorkOrder:
        """New due date and tardiness weight (the order was revised or rushed)."""
        ...

    def set_line(self, work_order_id: str, line_no: int) -> WorkOrder:
        """The order line the work order makes (its lines were edited); 0: none any more."""
        ...

    def update_operation(self, operation: WorkOrderOperation) -> None:
        """Persist an operation's status, machine, actual times and counts."""
        ...

    def get_operation(self, operation_id: str) -> WorkOrderOperation: ...

    def operation_states(
        self, operation_ids: Sequence[str], *, running_on: str | None = None
    ) -> dict[str, OperationState]:
        """The state of these operations and of every operation running on `running_on`, by
        operation id, in one read (ids that do not exist are absent)."""
        ...


class CustomerRepository(Protocol):
    def find(self) -> list[Customer]: ...

    def get(self, customer_id: str) -> Customer: ...


class TraceRepository(Protocol):
    """Serial numbers and the production lots of work orders (genealogy below the stock
    ledger, which is `StockRepository`)."""

    def add_serial(self, serial: SerialNumber) -> None: ...

    def serials(self, work_order: str) -> list[SerialNumber]: ...

    def serial(self, serial: str) -> SerialNumber | None: ...

    def serials_of(self, work_orders: Collection[str]) -> list[SerialNumber]:
        """The serials of all these work orders (in bulk)."""
        ...

    def work_orders_of_lot(self, lot: str) -> list[str]:
        """The work orders whose production lot is `lot`."""
        ...


class QualityStore(Protocol):
    """Quality records (rows are dicts with the column names of `store.quality_tables`)."""

    def add_measurement(self, row: Mapping[str, Any]) -> bool:
        """False, storing nothing, when the event id is already known."""
        ...

    def known_measurements(self, event_ids: Collection[str]) -> set[str]:
        """Which of these event ids are stored measurements already."""
        ...

    def add_measurements(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store new measurements in bulk (their event ids must be new)."""
        ...

    def measurement_count(self, product: str, characteristic: str) -> int: ...

    def recent_values(self, product: str, characteristic: str, limit: int) -> list[float]:
        """The latest `limit` values, oldest first."""
        ...

    def measurements(
        self,
        *,
        part_id: str | None = None,
        lot_id: str | None = None,
        product: str | None = None,
        characteristic: str | None = None,
    ) -> list[Row]: ...

    def limits(self, product: str, characteristic: str) -> Row | None: ...

    def save_limits(self, row: Mapping[str, Any]) -> None: ...

    def add_alert(self, row: Mapping[str, Any]) -> None:
        """Insert a new alert; `Conflict` when its id is taken (another writer took it
        between the look-up of the next free id and this insert)."""
        ...

    def alerts(self, *, lot_id: str | None = None, limit: int = 1000) -> list[Row]: ...

    def alert(self, alert_id: str) -> Row | None:
        """One stored alert; None when unknown."""
        ...

    def add_ncr(self, row: Mapping[str, Any]) -> None:
        """Insert a new NCR; `Conflict` when its id is taken (nothing is replaced)."""
        ...

    def save_ncr(self, row: Mapping[str, Any]) -> None:
        """Store a changed NCR (its disposition, CAPA or closing) in place."""
        ...

    def ncr(self, ncr_id: str) -> Row | None: ...

    def ncrs(
        self,
        *,
        lot_id: str | None = None,
        part_id: str | None = None,
        status: str | None = None,
    ) -> list[Row]: ...

    def add_hold(self, row: Mapping[str, Any]) -> None: ...

    def release_hold(
        self, lot: str, released_at: datetime, released_by: str, note: str
    ) -> None: ...

    def holds(self, *, lot: str | None = None, active_only: bool = False) -> list[Row]: ...

    def held_lots(self) -> set[str]: ...


class PlanStore(Protocol):
    def save_plan(
        self, header: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]
    ) -> int: ...

    def current_plan(self) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...

    def current_version(self) -> int | None: ...

    def get_plan(self, version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]: ...

    def versions(self) -> list[dict[str, Any]]: ...

    def add_downtime(self, machine: str, start: datetime, end: datetime, reason: str) -> None: ...

    def end_downtime(self, machine: str, at: datetime) -> int: ...

    def downtimes(self, since: datetime | None = None) -> dict[str, list[Interval]]: ...

    def exclusions(self) -> dict[str, dict[str, str]]:
        """Operation -> {machine: reason}: machines an operation must not be planned on (the
        print farm found the printer cannot run it now)."""
        ...


class ExecutionRecords(Protocol):
    """What execution keeps besides work orders: maintenance work orders (rows with the
    columns of `store.tpm_tables.TpmWorkOrderRow`), the log of planning runs and each
    operation's latest and first planned end (planned versus actual)."""

    def save_maintenance(self, row: Mapping[str, Any]) -> None:
        """Insert or replace one maintenance work order."""
        ...

    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]: ...

    def save_plan(
        self, plan_no: int, rows: Sequence[tuple[str, str, str, datetime, datetime]]
    ) -> None:
        """(operation, work order, machine, start, end) of a new plan; first ends are kept."""
        ...

    def log_plan_run(
        self,
        at: datetime,
        trigger: str,
        reason: str,
        operations: int,
        solver: str,
        seconds: float,
        weighted_tardiness: int,
    ) -> int: ...

    def plan_runs(self) -> list[tuple[datetime, str, str]]: ...

    def planned_vs_actual(self) -> list[tuple[str, datetime, datetime, datetime | None]]:
        """Per planned operation: latest planned end, first planned end, actual end."""
        ...


class UsageRepository(Protocol):
    """TPM usage counters, kept durable so a restart goes on counting where it stopped."""

    def usage(self, machine: str) -> dict[str, PlanUsage]:
        """Plan id -> usage of `machine` (empty when nothing was counted yet)."""
        ...

    def save_usage(self, machine: str, usage: PlanUsage) -> None: ...

    def processing_since(self, machine: str) -> datetime | None: ...

    def set_processing_since(self, machine: str, at: datetime | None) -> None: ...


class EventLog(Protocol):
    """The committed events of the event store, in commit order."""

    def after(self, position: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events stored after `position`, oldest first."""
        ...

    def last_position(self) -> int:
        """The position of the newest stored event (0 when there is none)."""
        ...


class ReactorLedger(Protocol):
    """The reactor's durable cursor and the events it could not apply."""

    def lock(self, name: str) -> ReactorProgress:
        """Take the reactor `name`'s lock for this transaction (a second reactor on the same
        database waits) and return where it stands."""
        ...

    def advance(self, name: str, progress: ReactorProgress) -> None: ...

    def progress(self, name: str) -> ReactorProgress: ...

    def reject(self, rejection: Rejection) -> None: ...

    def rejections(
        self, *, machine: str | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Rejection]:
        """The newest first; `event_id`: that event's rejection only (none: it was applied,
        or is not applied yet)."""
        ...


class ReplanQueue(Protocol):
    """Requests to plan again, raised where the change happens (in the same transaction) and
    served by the planning service after the commit."""

    def request(self, at: datetime, trigger: str, reason: str = "") -> None: ...

    def pending(self) -> list[ReplanRequest]: ...

    def mark_done(self, ids: Sequence[int], at: datetime, plan_version: int | None) -> None: ...


class PinRepository(Protocol):
    """A planner's pins (one per operation) and the orders a rush event marked rush."""

    def put(self, pin: OperationPin) -> None:
        """Pin (or pin again: the new pin replaces the operation's old one)."""
        ...

    def remove(self, operation: str) -> bool:
        """Unpin; False when the operation was not pinned."""
        ...

    def all(self) -> list[OperationPin]:
        """Every pin, by operation id."""
        ...

    def mark_rush(self, order: str, at: datetime) -> None: ...

    def rush_orders(self) -> set[str]: ...


class StockRepository(Protocol):
    """Stock by lot and its ledger. A lot's quantity changes only by `record`, which
    appends the movements and moves the lots' quantities by their deltas in the same
    transaction; nothing else edits either."""

    def lot(self, lot_id: str) -> MaterialLot | None: ...

    def lots(
        self,
        *,
        materials: Collection[str] | None = None,
        ids: Collection[str] | None = None,
        with_empty: bool = False,
        lock: bool = False,
    ) -> list[MaterialLot]:
        """Lots (of these materials / with these ids), by material then FEFO; without
        `with_empty` only lots that hold something. `lock`: keep other writers off these
        lots until the transaction ends (PostgreSQL `FOR UPDATE`)."""
        ...

    def add_lot(self, lot: MaterialLot) -> None:
        """A new lot, empty: its receipt movement fills it. Conflict when the id exists."""
        ...

    def record(self, movements: Sequence[Movement]) -> None:
        """Append to the ledger and move each lot's quantity by the movement's delta."""
        ...

    def movements(
        self,
        *,
        material: str | None = None,
        lot: str | None = None,
        work_orders: Collection[str] | None = None,
        kinds: Collection[MovementKind] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Movement]:
        """Oldest first (the newest `limit` when limited)."""
        ...

    def balances(self) -> list[LotBalance]:
        """Every lot's ledger sums against its quantity on hand (the mass balance)."""
        ...

    def operations(self, operation_ids: Collection[str]) -> dict[str, OperationMaterials]:
        """For consumption: each known operation's product step, work order quantity and
        options, and its material estimate if one replaces its BOM."""
        ...

    def estimates(self, operation_ids: Collection[str]) -> dict[str, MaterialEstimate]:
        """The material estimates of these operations (most have none)."""
        ...

    def set_estimate(self, work_order: str, estimate: MaterialEstimate) -> None:
        """Insert or replace an operation's material estimate."""
        ...

    def consumers(self, lot: str) -> list[Consumer]:
        """Forward genealogy: the work orders that took material from `lot`."""
        ...

    def add_alerts(self, alerts: Sequence[StockAlert]) -> None:
        """Store new alerts (an id already stored is skipped)."""
        ...

    def alerts(
        self, *, kinds: Collection[str] | None = None, limit: int = 1000
    ) -> list[StockAlert]:
        """The newest first."""
        ...


class PurchaseRepository(Protocol):
    def add(self, order: PurchaseOrder) -> None:
        """Conflict when the id exists."""
        ...

    def get(self, order_id: str) -> PurchaseOrder:
        """NotFound when unknown."""
        ...

    def find(
        self, *, status: PurchaseStatus | None = None, material: str | None = None
    ) -> list[PurchaseOrder]:
        """By due date."""
        ...

    def save(self, order: PurchaseOrder) -> None:
        """Store a changed purchase order (status, receipt)."""
        ...

    def count(self) -> int: ...


class MaterialAvailability(Protocol):
    """When material is there for work: on hand now, or due with an open purchase order, or
    (neither) as soon as a purchase could arrive. The planner takes these as operations'
    earliest starts; capable-to-promise as the earliest start of a quote's print."""

    def ready_times(
        self,
        work_orders: Sequence[WorkOrder],
        now: datetime,
        sequence: Mapping[str, datetime] | None = None,
    ) -> dict[str, datetime]:
        """Operation id -> the earliest time its material is there, for the operations whose
        material is not all on hand for them now. The operations draw in the order of
        `sequence` (the current plan's starts; the rest by due date)."""
        ...

    def ready_for(
        self, material: str, quantity: float, unit: str, now: datetime
    ) -> tuple[datetime, str]:
        """When `quantity` more of `material` is there, after every open operation's need,
        and why (on hand, due with a purchase order, or a supplier's lead time)."""
        ...


class UnitOfWork(Protocol):
    """A transaction over all repositories: commit on success, roll back otherwise."""

    @property
    def factory(self) -> FactoryRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def work_orders(self) -> WorkOrderRepository: ...

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def trace(self) -> TraceRepository: ...

    @property
    def quality(self) -> QualityStore: ...

    @property
    def plans(self) -> PlanStore: ...

    @property
    def records(self) -> ExecutionRecords: ...

    @property
    def usage(self) -> UsageRepository: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def reactor(self) -> ReactorLedger: ...

    @property
    def replans(self) -> ReplanQueue: ...

    @property
    def progress(self) -> ProgressRepository: ...

    @property
    def stock(self) -> StockRepository: ...

    @property
    def purchases(self) -> PurchaseRepository: ...

    @property
    def pins(self) -> PinRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class ProgressRepository(Protocol):
    """Execution progress for the event path, in bulk (`orders.progress`)."""

    def load(self, operation_ids: Collection[str]) -> ProgressSnapshot:
        """The known operations among `operation_ids`, their work orders with every sibling
        operation's status, and their orders with every sibling work order's status."""
        ...

    def save(self, snapshot: ProgressSnapshot) -> None:
        """Write what the snapshot marks as changed (and append its order timeline)."""
        ...


class ExclusiveLock(Protocol):
    """A named lock across every process of one database (`store.locks.DatabaseLock`):
    whoever plans holds it from releasing orders to storing the version, so plans made at
    once by the CLI, the API and the runtime follow each other."""

    def hold(self, wait_s: float | None = None) -> AbstractContextManager[None]:
        """Conflict after `wait_s` seconds of another process holding it (None: wait)."""
        ...


class TelemetryTx(Protocol):
    """Port: one write transaction of the telemetry store."""

    def insert_events(self, events: Sequence[Event | SampleRows], received_us: int) -> set[str]: ...
    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...
    def insert_quarantined(self, items: Sequence[Quarantined]) -> None: ...
    def quarantined(
        self, *, status: str, machine: str | None = None, max_seq: int | None = None
    ) -> list[Quarantined]: ...
    def set_quarantine_status(self, ids: Sequence[int], status: str, decided: datetime) -> None: ...
    def save_statuses(self, statuses: Sequence[MachineStatus]) -> None: ...
    def record_gap(self, gap: SeqGap) -> None: ...
    def fill_gap(self, machine: str, seq: int) -> bool: ...


class TelemetryWriter(Protocol):
    """Port: what the ingester needs from a store (`SqlTelemetryStore` implements it)."""

    def transaction(self) -> AbstractContextManager[TelemetryTx]: ...
    def machine_statuses(self) -> list[MachineStatus]: ...


class EventReader(Protocol):
    """Stored shop-floor events (the narrow read OEE needs)."""

    def events(
        self,
        *,
        machine: str | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10_000,
    ) -> list[Event]:
        """Stored non-sample events in (ts, seq) order."""
        ...


class BucketLike(Protocol):
    """One downsampling bucket of a signal: [start, start + width)."""

    @property
    def start(self) -> datetime: ...
    @property
    def count(self) -> int: ...
    @property
    def min(self) -> float: ...
    @property
    def max(self) -> float: ...
    @property
    def mean(self) -> float: ...


class SampleReader(EventReader, Protocol):
    """Stored events and sensor samples (what predictive maintenance reads)."""

    def samples(
        self, machine: str, signal: str, start: datetime, end: datetime, limit: int = 100_000
    ) -> list[tuple[datetime, float]]: ...


class TelemetryReader(SampleReader, Protocol):
    """The read side of the telemetry store (`SqlTelemetryStore`): stored events, samples,
    machine states, sequence gaps, totals — for OEE, predictive maintenance, the dashboard,
    summaries."""

    def downsample(
        self, machine: str, signal: str, start: datetime, end: datetime, bucket: timedelta
    ) -> Sequence[BucketLike]: ...

    def machine_statuses(self) -> list[MachineStatus]: ...

    def gaps(self, machine: str | None = None) -> list[SeqGap]: ...

    def counts(self) -> dict[str, int]:
        """Rows per telemetry table (events, samples, dead_letters, gaps, missing)."""
        ...

    def delete_before(self, cutoff: datetime) -> Any: ...

    def quarantine_counts(self) -> dict[str, int]:
        """Held events (implausible sequence jumps) per machine, awaiting review."""
        ...

    def quarantine(
        self, *, status: str | None = None, machine: str | None = None, limit: int = 1000
    ) -> list[Quarantined]: ...

    def decide_quarantined(self, ids: Sequence[int], status: str, decided: datetime) -> list[int]:
        """Accept or reject held events; returns the ids that changed."""
        ...


# -- the other areas' stores ------------------------------------------------------------


class AuthStore(Protocol):
    """Port: persistence of users, tokens and sessions."""

    def add_user(self, username: str, password_hash: str, role: Role, at: datetime) -> User:
        """Conflict when the username exists."""
        ...

    def user_by_name(self, username: str) -> StoredUser | None: ...

    def set_password(self, username: str, password_hash: str) -> None: ...

    def set_role(self, username: str, role: Role, active: bool) -> User: ...

    def list_users(self) -> list[User]: ...

    def add_token(self, user_id: int, name: str, digest: str, at: datetime) -> ApiToken: ...

    def user_by_token(self, digest: str) -> User | None: ...

    def list_tokens(self, user_id: int | None = None) -> list[ApiToken]: ...

    def revoke_token(self, token_id: int) -> None:
        """NotFound when the token does not exist."""
        ...

    def add_session(
        self, digest: str, user_id: int, csrf_token: str, at: datetime, expires: datetime
    ) -> None: ...

    def session(self, digest: str, now: datetime) -> Session | None:
        """The live session for this digest (None when unknown or expired)."""
        ...

    def delete_session(self, digest: str) -> None: ...


class LoginAttempts(Protocol):
    """Port: failed-login counters per key, shared by every process of the site."""

    def failures(self, keys: Sequence[str], since: datetime) -> dict[str, tuple[int, datetime]]:
        """key → (failures, time of the last one) for the keys whose last failure is at or
        after `since` (older counters count as none)."""
        ...

    def record_failure(self, keys: Sequence[str], at: datetime, reset_before: datetime) -> None:
        """One more failure for each key (restarting at 1 when its last failure is before
        `reset_before`); drops counters idle since before `reset_before` now and then."""
        ...

    def clear(self, keys: Sequence[str]) -> None: ...


class AuditStore(Protocol):
    """Port: append-only audit storage."""

    def append(self, record: AuditRecord) -> None: ...

    def append_many(self, records: Sequence[AuditRecord]) -> None:
        """Store these records in one transaction, in order."""
        ...

    def find(
        self, *, actor: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[AuditRecord]:
        """Newest first."""
        ...

    def count(self, *, actor: str | None = None) -> int: ...


class AckStore(Protocol):
    def acknowledge(self, alert_id: str, source: str, by: str, at: datetime, note: str) -> bool:
        """False when acknowledged already."""
        ...

    def acks(self) -> dict[str, tuple[str, datetime]]: ...


class QuoteStore(Protocol):
    """Quotes and their reservations (SqlQuoteStore / MemoryQuoteStore)."""

    def add(self, quote: Mapping[str, Any], reservations: Sequence[Mapping[str, Any]]) -> None: ...

    def get(self, quote_id: str) -> dict[str, Any]: ...

    def set_status(self, quote_id: str, status: str, order_id: str | None = None) -> None: ...

    def held_reservations(self, now: datetime) -> list[dict[str, Any]]: ...

    def reservations(self, quote_id: str) -> list[dict[str, Any]]: ...

    def expired_ids(self, now: datetime) -> list[str]: ...

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest quotes first, every state."""
        ...


class RegisteredModel(Protocol):
    """What the registry says about a stored model version."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def trained_on(self) -> str: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...


class ModelRegistry(Protocol):
    """Port: versioned storage of trained models (`SqlModelRegistry` implements it)."""

    def register(
        self,
        *,
        name: str,
        kind: str,
        model: bytes,
        trained_on: str,
        data_digest: str,
        metrics: dict[str, Any],
        params: dict[str, Any],
        created_at: datetime,
    ) -> RegisteredModel: ...

    def load(self, name: str, version: int | None = None) -> tuple[RegisteredModel, bytes]: ...


class DashboardQueries(Protocol):
    """Port: small reads over other areas' tables that no service offers yet."""

    def signals(self, machine: str) -> list[str]: ...

    def live_plan(self) -> list[dict[str, Any]]:
        """The closed loop's current plan: operation, work_order, machine, start, end."""
        ...

    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]: ...


# --- print farm: printer hosts and the slicer ------------------------------------------------
# (imported here, not at the top, so this section stays an append-only block for merges)
from pathlib import Path  # noqa: E402

from microfactory.shopfloor.printers import PrinterStatus, SliceResult  # noqa: E402


class PrinterHost(Protocol):
    """Port: one printer's host (OctoPrint, ...). Adapters translate their errors at this
    boundary: `ConnectorError` when the host cannot be reached, refuses the API key or fails
    an upload; `Conflict` when the printer is busy (a job runs, it is not operational);
    `NotFound` for a file the host does not have. Messages name the host and the reason."""

    @property
    def name(self) -> str:
        """Where the host is (its URL), for messages; never the key."""
        ...

    def status(self) -> PrinterStatus:
        """State, current (or last) job, progress, time left and temperatures."""
        ...

    def upload(self, name: str, gcode: bytes, *, start: bool = False) -> str:
        """Store a G-code file on the host under `name`; return the name it has there. With
        `start`, select and print it in the same request (Conflict when the printer is busy:
        the file is then stored but not printing)."""
        ...

    def start(self, name: str) -> None:
        """Select the uploaded file `name` and start printing it (Conflict when busy)."""
        ...

    def pause(self) -> None:
        """Pause the running job (Conflict when nothing prints)."""
        ...

    def resume(self) -> None:
        """Resume a paused job (Conflict when nothing is paused)."""
        ...

    def cancel(self) -> None:
        """Cancel the running or paused job (Conflict when there is none)."""
        ...

    def files(self) -> list[str]:
        """Names of the G-code files stored on the host."""
        ...

    def remove(self, name: str) -> None:
        """Delete a stored file (NotFound when absent, Conflict while it prints)."""
        ...


class Slicer(Protocol):
    """Port: turn a model into G-code with a printer profile. Raises `ValidationError` for a
    model the slicer refuses (naming the model and the slicer's reason) and `ConnectorError`
    when the slicer is missing, crashes or times out."""

    def profile_settings(self, profile: Path) -> dict[str, str]:
        """The settings a profile file holds (`nozzle_diameter`, `bed_shape`, ...)."""
        ...

    def slice(
        self,
        model: bytes,
        name: str,
        profile: Path,
        out: Path,
        *,
        copies: int = 1,
        overrides: Mapping[str, str] | None = None,
    ) -> SliceResult:
        """Slice `model` (file bytes; `name`'s extension says the format) into `out`,
        `copies` times on one plate, with `overrides` of the profile's settings."""
        ...


class GcodeCache(Protocol):
    """Port: a bounded store of sliced G-code by slice key (least recently used goes first)."""

    def get(self, key: str) -> Path | None:
        """The G-code of `key` if it is still cached (marks it used)."""
        ...

    def staging(self, key: str) -> Path:
        """A fresh path to slice into; `put` then makes it the entry of `key`."""
        ...

    def put(self, key: str, staged: Path) -> Path: ...

    def read(self, key: str) -> bytes | None: ...


# --- print farm: its records and the quotes' model files --------------------------------------

from microfactory.shopfloor.printers import (  # noqa: E402
    JobState,
    PrinterRecord,
    PrintJob,
    SliceRecord,
)


class PrintFarmTx(Protocol):
    """One transaction over the print farm's records (store/printfarm_tables.py)."""

    def printer(self, machine: str) -> PrinterRecord | None: ...

    def printers(self) -> list[PrinterRecord]: ...

    def save_printer(self, record: PrinterRecord, *, first_seq: int = 0) -> None:
        """Insert or update; a new printer's event sequence starts at `first_seq`."""
        ...

    def allocate_seq(self, machine: str, count: int = 1) -> int:
        """Reserve `count` consecutive sequence numbers of the machine; return the first."""
        ...

    def add_job(self, job: PrintJob) -> None: ...

    def save_job(self, job: PrintJob) -> None: ...

    def job(self, job_id: str) -> PrintJob | None: ...

    def jobs(
        self,
        *,
        machine: str | None = None,
        operation: str | None = None,
        states: Sequence[JobState] | None = None,
    ) -> list[PrintJob]: ...

    def slice(self, key: str) -> SliceRecord | None: ...

    def save_slice(self, record: SliceRecord) -> None: ...

    def slices(self) -> list[SliceRecord]: ...

    def add_events(self, events: Sequence[Event], at: datetime) -> None:
        """Put events in the outbox (published after the commit)."""
        ...


class PrintFarmStore(Protocol):
    def transaction(self) -> AbstractContextManager[PrintFarmTx]: ...

    def pending_events(self, limit: int = 500) -> list[tuple[int, Event]]: ...

    def mark_published(self, ids: Sequence[int], at: datetime) -> None: ...


class ModelStore(Protocol):
    """The model files of quotes (store/model_file_tables.py)."""

    def put(self, quote_id: str, filename: str, data: bytes) -> str:
        """Keep the model of `quote_id`; return its SHA-256."""
        ...

    def for_quote(self, quote_id: str) -> tuple[str, str] | None:
        """(sha256, filename), or None when the quote's model was not kept."""
        ...

    def data(self, sha256: str) -> bytes: ...


class DocumentRenderer(Protocol):
    """Prints a shop document (traveller, labels, certificate, packing slip) as PDF bytes."""

    def render(self, document: Document) -> bytes: ...


class MailSender(Protocol):
    """Sends one e-mail (`connect/smtp.py`); raises ConnectorError when it cannot."""

    def send(self, recipient: str, subject: str, body: str) -> None: ...


class NotificationStore(Protocol):
    """The e-mail outbox, users' notification settings and marks (`store/notification_tables`).
    Outbox rows are dicts with the columns of `NotificationOutboxRow`."""

    def known_keys(self, keys: Sequence[str]) -> set[str]: ...

    def enqueue(self, rows: Sequence[dict[str, Any]]) -> int:
        """Adds the rows whose key is new; returns how many were added."""
        ...

    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]: ...

    def mark_sent(self, row_id: int, at: datetime) -> None: ...

    def mark_failed(self, row_id: int, error: str, retry_at: datetime) -> None: ...

    def outbox(self, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]: ...

    def prefs(self) -> list[dict[str, Any]]: ...

    def save_prefs(
        self, username: str, email: str, kinds: Sequence[str], min_severity: str
    ) -> None: ...

    def mark(self, name: str, at: datetime) -> datetime:
        """The mark `name`, set to `at` the first time."""
        ...

    def recent_quotes(self, since: datetime) -> list[dict[str, Any]]:
        """Quotes made for a customer since `since` (id, status, customer, created_at,
        expires_at, material, quantity, price, currency, promised_date, model)."""
        ...

    def quote(self, quote_id: str) -> dict[str, Any] | None:
        """One quote in the shape of `recent_quotes`; None when unknown."""
        ...
