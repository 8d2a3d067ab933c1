"""Ports: what services need from the outside world. Each has a real implementation (store,
connect) and an in-memory one, and the same contract tests run against both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
