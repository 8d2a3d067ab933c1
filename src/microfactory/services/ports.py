"""Ports: what services need from the outside world, declared once, in domain types. Each has a
real implementation (store, connect) and an in-memory one, and the same contract tests run
against both.

A unit of work is one transaction over every repository: what a use case reads and writes
through `tx.orders`, `tx.work_orders`, `tx.quality`, `tx.plans`, `tx.tpm`, ... commits or
rolls back together. The event reactor relies on it: the changes an event makes and the
reactor's cursor move in the same commit (`tx.reactor`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from microfactory.orders import (
    Customer,
    Factory,
    Order,
    OrderStatus,
    SerialNumber,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.orders.progress import ProgressSnapshot
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
        """Make `factory` current (machines, customers and material lots are synced)."""
        ...


class OrderRepository(Protocol):
    def add(self, order: Order, note: str = "") -> None:
        """Store a new order; Conflict if the id exists."""
        ...

    def get(self, order_id: str) -> Order:
        """NotFound if missing."""
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


class WorkOrderRepository(Protocol):
    def add(self, work_order: WorkOrder) -> None: ...

    def get(self, work_order_id: str) -> WorkOrder: ...

    def find(
        self,
        *,
        status: Sequence[WorkStatus] | None = None,
        order: str | None = None,
    ) -> list[WorkOrder]: ...

    def set_status(self, work_order_id: str, status: WorkStatus) -> WorkOrder: ...

    def update_operation(self, operation: WorkOrderOperation) -> None:
        """Persist an operation's status, machine, actual times and counts."""
        ...

    def get_operation(self, operation_id: str) -> WorkOrderOperation: ...


class CustomerRepository(Protocol):
    def find(self) -> list[Customer]: ...

    def get(self, customer_id: str) -> Customer: ...


class TraceRepository(Protocol):
    def record_consumption(
        self, material_lot: str, work_order: str, operation: str, quantity_kg: float, at: datetime
    ) -> None: ...

    def add_serial(self, serial: SerialNumber) -> None: ...

    def serials(self, work_order: str) -> list[SerialNumber]: ...


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

    def add_alert(self, row: Mapping[str, Any]) -> None: ...

    def alerts(self, *, lot_id: str | None = None, limit: int = 1000) -> list[Row]: ...

    def save_ncr(self, row: Mapping[str, Any]) -> None: ...

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


class GenealogyReader(Protocol):
    """Reads of the foundation's trace tables that the unit of work does not offer."""

    def serial(self, serial: str) -> Row | None: ...

    def serials_of(self, work_order: str) -> list[Row]: ...

    def work_orders_of_lot(self, lot: str) -> list[str]: ...

    def consumption(
        self, *, work_order: str | None = None, material_lot: str | None = None
    ) -> list[Row]: ...

    def material_lot(self, lot: str) -> Row | None: ...


class PlanStore(Protocol):
    def save_plan(
        self, header: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]
    ) -> int: ...

    def current_plan(self) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...

    def get_plan(self, version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]: ...

    def versions(self) -> list[dict[str, Any]]: ...

    def add_downtime(self, machine: str, start: datetime, end: datetime, reason: str) -> None: ...

    def end_downtime(self, machine: str, at: datetime) -> int: ...

    def downtimes(self, since: datetime | None = None) -> dict[str, list[Interval]]: ...


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

    def rejections(self, *, machine: str | None = None, limit: int = 100) -> list[Rejection]:
        """The newest first."""
        ...


class ReplanQueue(Protocol):
    """Requests to plan again, raised where the change happens (in the same transaction) and
    served by the planning service after the commit."""

    def request(self, at: datetime, trigger: str, reason: str = "") -> None: ...

    def pending(self) -> list[ReplanRequest]: ...

    def mark_done(self, ids: Sequence[int], at: datetime, plan_version: int | None) -> None: ...


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
