"""SQLAlchemy implementations of the repository ports and the unit of work."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cached_property
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from microfactory.core.errors import Conflict, NotFound
from microfactory.orders import (
    Customer,
    Factory,
    OperationState,
    Order,
    OrderLine,
    OrderStatus,
    SerialNumber,
    WorkOrder,
    WorkOrderOperation,
    WorkStatus,
)
from microfactory.orders.factory_file import factory_from_dict
from microfactory.orders.orders import ORDER_TRANSITIONS, WORK_TRANSITIONS, check_transition
from microfactory.store import outbox
from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.store.pins_store import SqlPinRepository
from microfactory.store.planning_sql import SqlPlanStore
from microfactory.store.progress_sql import SqlProgressRepository
from microfactory.store.quality_store import SqlQualityStore
from microfactory.store.reactor_sql import (
    SqlEventLog,
    SqlReactorLedger,
    SqlReplanQueue,
    SqlUsageRepository,
)
from microfactory.store.stock_sql import SqlPurchaseRepository, SqlStockRepository
from microfactory.store.tables import (
    CustomerRow,
    FactoryRow,
    MachineRow,
    OperationRow,
    OrderEventRow,
    OrderLineRow,
    OrderRow,
    SerialRow,
    WorkOrderRow,
)


def jsonable(value: Any) -> Any:
    """Make parsed YAML JSON-safe (dates become RFC 3339 text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


_PARSED: dict[tuple[str, int], tuple[Any, Factory]] = {}
"""Parsed factories by (database, row id) with the definition they were parsed from: parsing
and validating the definition costs milliseconds, and every unit of work asks for the
factory. A `Factory` is immutable; a definition changed in place is parsed again."""


class SqlFactoryRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def current(self) -> Factory | None:
        row = self.s.execute(
            select(FactoryRow.id, FactoryRow.definition).order_by(FactoryRow.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        bind = self.s.get_bind()
        key = (str(bind.engine.url), row.id)
        hit = _PARSED.get(key)
        if hit is not None and hit[0] == row.definition:
            return hit[1]
        factory = factory_from_dict(row.definition)
        if len(_PARSED) >= 64:
            _PARSED.clear()
        _PARSED[key] = (row.definition, factory)
        return factory

    def save(self, factory: Factory, definition: Mapping[str, Any], source_file: str) -> None:
        self.s.add(
            FactoryRow(
                site_id=factory.site.id,
                name=factory.site.name,
                loaded_at=datetime.now(UTC),
                source_file=source_file,
                definition=jsonable(definition),
            )
        )
        self.s.execute(delete(MachineRow))
        for m in factory.machines:
            self.s.add(
                MachineRow(
                    id=m.id,
                    name=m.name,
                    type=m.type,
                    area=m.area,
                    capabilities=sorted(m.capabilities),
                    cost_per_hour=m.cost_per_hour,
                )
            )
        for c in factory.customers:
            self.s.merge(CustomerRow(id=c.id, name=c.name, email=c.email, segment=c.segment))
        self.s.flush()

    def definition(self) -> dict[str, Any] | None:
        row = self.s.scalars(select(FactoryRow).order_by(FactoryRow.id.desc()).limit(1)).first()
        return None if row is None else dict(row.definition)


def _order_from_rows(row: OrderRow, lines: Sequence[OrderLineRow]) -> Order:
    return Order(
        id=row.id,
        customer=row.customer,
        lines=tuple(
            OrderLine(
                product=ln.product,
                quantity=ln.quantity,
                parameters=dict(ln.parameters),
                model_ref=ln.model_ref,
                unit_price=ln.unit_price,
            )
            for ln in sorted(lines, key=lambda x: x.line_no)
        ),
        due=row.due,
        created=row.created,
        priority=row.priority,
        status=OrderStatus(row.status),
        notes=row.notes,
        rush=row.rush,
    )


class SqlOrderRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, order: Order, note: str = "") -> None:
        if self.s.get(OrderRow, order.id) is not None:
            raise Conflict(f"order {order.id} already exists")
        self.s.add(
            OrderRow(
                id=order.id,
                customer=order.customer,
                due=order.due,
                created=order.created,
                priority=order.priority,
                status=order.status.value,
                rush=order.rush,
                notes=order.notes,
            )
        )
        self.s.flush()
        self._add_lines(order)
        self.s.add(
            OrderEventRow(order_id=order.id, status=order.status.value, at=order.created, note=note)
        )
        self.s.flush()
        outbox.enqueue(self.s, [outbox.order_added(order, note)])

    def _add_lines(self, order: Order) -> None:
        for n, line in enumerate(order.lines, start=1):
            self.s.add(
                OrderLineRow(
                    order_id=order.id,
                    line_no=n,
                    product=line.product,
                    quantity=line.quantity,
                    parameters=dict(line.parameters),
                    model_ref=line.model_ref,
                    unit_price=line.unit_price,
                )
            )

    def _row(self, order_id: str) -> OrderRow:
        row = self.s.get(OrderRow, order_id)
        if row is None:
            raise NotFound(f"order {order_id} does not exist")
        return row

    def _lines(self, order_ids: Sequence[str]) -> dict[str, list[OrderLineRow]]:
        out: dict[str, list[OrderLineRow]] = {oid: [] for oid in order_ids}
        if order_ids:
            stmt = select(OrderLineRow).where(OrderLineRow.order_id.in_(list(order_ids)))
            for ln in self.s.scalars(stmt):
                out[ln.order_id].append(ln)
        return out

    def get(self, order_id: str) -> Order:
        row = self._row(order_id)
        return _order_from_rows(row, self._lines([order_id])[order_id])

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        out: dict[str, Order] = {}
        wanted = list(dict.fromkeys(order_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = list(self.s.scalars(select(OrderRow).where(OrderRow.id.in_(chunk))))
            lines = self._lines([r.id for r in rows])
            out.update((r.id, _order_from_rows(r, lines[r.id])) for r in rows)
        return out

    def line_models(self, order_ids: Sequence[str]) -> dict[tuple[str, int], str]:
        out: dict[tuple[str, int], str] = {}
        wanted = list(dict.fromkeys(order_ids))
        for start in range(0, len(wanted), 500):
            stmt = select(
                OrderLineRow.order_id, OrderLineRow.line_no, OrderLineRow.model_ref
            ).where(
                OrderLineRow.order_id.in_(wanted[start : start + 500]),
                OrderLineRow.model_ref.is_not(None),
            )
            out.update(((order, n), ref) for order, n, ref in self.s.execute(stmt) if ref)
        return out

    def find(
        self,
        *,
        status: Sequence[OrderStatus] | None = None,
        customer: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Order]:
        stmt = select(OrderRow).order_by(OrderRow.created, OrderRow.id)
        if status:
            stmt = stmt.where(OrderRow.status.in_([s.value for s in status]))
        if customer:
            stmt = stmt.where(OrderRow.customer == customer)
        rows = list(self.s.scalars(stmt.limit(limit).offset(offset)))
        lines = self._lines([r.id for r in rows])
        return [_order_from_rows(r, lines[r.id]) for r in rows]

    def count(self, *, status: Sequence[OrderStatus] | None = None) -> int:
        stmt = select(func.count()).select_from(OrderRow)
        if status:
            stmt = stmt.where(OrderRow.status.in_([s.value for s in status]))
        return int(self.s.scalar(stmt) or 0)

    def set_status(self, order_id: str, status: OrderStatus, at: datetime, note: str = "") -> Order:
        row = self._row(order_id)
        current = OrderStatus(row.status)
        check_transition(ORDER_TRANSITIONS, current, status, f"order {order_id}")
        if status != current:
            row.status = status.value
            if status == OrderStatus.DONE:
                row.completed = at
            self.s.add(OrderEventRow(order_id=order_id, status=status.value, at=at, note=note))
            self.s.flush()
            outbox.enqueue(self.s, [outbox.order_status(order_id, status, at, note)])
        return self.get(order_id)

    def timeline(self, order_id: str) -> list[tuple[OrderStatus, datetime, str]]:
        self._row(order_id)
        stmt = (
            select(OrderEventRow)
            .where(OrderEventRow.order_id == order_id)
            .order_by(OrderEventRow.at, OrderEventRow.id)
        )
        return [(OrderStatus(e.status), e.at, e.note) for e in self.s.scalars(stmt)]

    def set_tracking_token(self, order_id: str, token: str) -> None:
        self._row(order_id).tracking_token = token
        self.s.flush()

    def by_tracking_token(self, token: str) -> Order:
        row = self.s.scalars(select(OrderRow).where(OrderRow.tracking_token == token)).first()
        if row is None:
            raise NotFound("unknown tracking link")
        return self.get(row.id)

    def completed_at(self, order_id: str) -> datetime | None:
        return self._row(order_id).completed

    def revise(self, order: Order, at: datetime, note: str) -> Order:
        row = self._row(order.id)
        row.due, row.priority, row.rush, row.notes = (
            order.due,
            order.priority,
            order.rush,
            order.notes,
        )
        if order.lines != self.get(order.id).lines:  # the lines were edited: store them anew
            self.s.execute(delete(OrderLineRow).where(OrderLineRow.order_id == order.id))
            self.s.flush()
            self._add_lines(order)
        self.s.add(OrderEventRow(order_id=order.id, status=row.status, at=at, note=note))
        self.s.flush()
        revised = self.get(order.id)
        outbox.enqueue(self.s, [outbox.order_added(revised, note)])  # the hub sees new terms
        return revised


def _op_from_row(r: OperationRow) -> WorkOrderOperation:
    return WorkOrderOperation(
        id=r.id,
        work_order=r.work_order,
        seq=r.seq,
        name=r.name,
        capability=r.capability,
        minutes=r.minutes,
        setup_family=r.setup_family,
        machines=tuple(r.machines),
        predecessors=tuple(r.predecessors),
        status=WorkStatus(r.status),
        machine=r.machine,
        actual_start=r.actual_start,
        actual_end=r.actual_end,
        good=r.good,
        rejected=r.rejected,
    )


class SqlWorkOrderRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, work_order: WorkOrder) -> None:
        if self.s.get(WorkOrderRow, work_order.id) is not None:
            raise Conflict(f"work order {work_order.id} already exists")
        self.s.add(
            WorkOrderRow(
                id=work_order.id,
                order_id=work_order.order,
                line_no=work_order.line_no,
                product=work_order.product,
                quantity=work_order.quantity,
                due=work_order.due,
                weight=work_order.weight,
                release=work_order.release,
                status=work_order.status.value,
                lot=work_order.lot,
                parameters=dict(work_order.parameters),
            )
        )
        self.s.flush()
        for op in work_order.operations:
            self.s.add(
                OperationRow(
                    id=op.id,
                    work_order=work_order.id,
                    seq=op.seq,
                    name=op.name,
                    capability=op.capability,
                    minutes=op.minutes,
                    setup_family=op.setup_family,
                    machines=list(op.machines),
                    predecessors=list(op.predecessors),
                    status=op.status.value,
                    machine=op.machine,
                    actual_start=op.actual_start,
                    actual_end=op.actual_end,
                    good=op.good,
                    rejected=op.rejected,
                )
            )
        self.s.flush()

    def _assemble(self, rows: Sequence[WorkOrderRow]) -> list[WorkOrder]:
        ids = [r.id for r in rows]
        ops: dict[str, list[WorkOrderOperation]] = {i: [] for i in ids}
        if ids:
            for chunk_start in range(0, len(ids), 500):
                chunk = ids[chunk_start : chunk_start + 500]
                stmt = select(OperationRow).where(OperationRow.work_order.in_(chunk))
                for r in self.s.scalars(stmt):
                    ops[r.work_order].append(_op_from_row(r))
        return [
            WorkOrder(
                id=r.id,
                order=r.order_id,
                line_no=r.line_no,
                product=r.product,
                quantity=r.quantity,
                due=r.due,
                weight=r.weight,
                operations=tuple(sorted(ops[r.id], key=lambda o: o.seq)),
                release=r.release,
                status=WorkStatus(r.status),
                lot=r.lot,
                parameters=dict(r.parameters),
            )
            for r in rows
        ]

    def get(self, work_order_id: str) -> WorkOrder:
        row = self.s.get(WorkOrderRow, work_order_id)
        if row is None:
            raise NotFound(f"work order {work_order_id} does not exist")
        return self._assemble([row])[0]

    def get_many(self, work_order_ids: Sequence[str]) -> dict[str, WorkOrder]:
        out: dict[str, WorkOrder] = {}
        wanted = list(dict.fromkeys(work_order_ids))
        for start in range(0, len(wanted), 500):
            stmt = select(WorkOrderRow).where(WorkOrderRow.id.in_(wanted[start : start + 500]))
            out.update((w.id, w) for w in self._assemble(list(self.s.scalars(stmt))))
        return out

    def find(
        self,
        *,
        status: Sequence[WorkStatus] | None = None,
        order: str | None = None,
        running_on: str | None = None,
    ) -> list[WorkOrder]:
        stmt = select(WorkOrderRow).order_by(WorkOrderRow.due, WorkOrderRow.id)
        if status:
            stmt = stmt.where(WorkOrderRow.status.in_([s.value for s in status]))
        if order:
            stmt = stmt.where(WorkOrderRow.order_id == order)
        if running_on is not None:
            running = select(OperationRow.work_order).where(
                OperationRow.machine == running_on,
                OperationRow.status == WorkStatus.RUNNING.value,
            )
            stmt = stmt.where(WorkOrderRow.id.in_(running))
        return self._assemble(list(self.s.scalars(stmt)))

    def set_status(self, work_order_id: str, status: WorkStatus) -> WorkOrder:
        row = self.s.get(WorkOrderRow, work_order_id)
        if row is None:
            raise NotFound(f"work order {work_order_id} does not exist")
        check_transition(
            WORK_TRANSITIONS, WorkStatus(row.status), status, f"work order {work_order_id}"
        )
        row.status = status.value
        self.s.flush()
        return self.get(work_order_id)

    def set_terms(self, work_order_id: str, due: datetime, weight: int) -> WorkOrder:
        row = self.s.get(WorkOrderRow, work_order_id)
        if row is None:
            raise NotFound(f"work order {work_order_id} does not exist")
        row.due, row.weight = due, weight
        if row.release is not None and row.release > due:
            row.release = due
        self.s.flush()
        return self.get(work_order_id)

    def set_line(self, work_order_id: str, line_no: int) -> WorkOrder:
        row = self.s.get(WorkOrderRow, work_order_id)
        if row is None:
            raise NotFound(f"work order {work_order_id} does not exist")
        row.line_no = line_no
        self.s.flush()
        return self.get(work_order_id)

    def update_operation(self, operation: WorkOrderOperation) -> None:
        row = self.s.get(OperationRow, operation.id)
        if row is None:
            raise NotFound(f"operation {operation.id} does not exist")
        row.status = operation.status.value
        row.machine = operation.machine
        row.actual_start = operation.actual_start
        row.actual_end = operation.actual_end
        row.good = operation.good
        row.rejected = operation.rejected
        self.s.flush()

    def get_operation(self, operation_id: str) -> WorkOrderOperation:
        row = self.s.get(OperationRow, operation_id)
        if row is None:
            raise NotFound(f"operation {operation_id} does not exist")
        return _op_from_row(row)

    def operation_states(
        self, operation_ids: Sequence[str], *, running_on: str | None = None
    ) -> dict[str, OperationState]:
        runs: list[tuple[Any, dict[str, Any]]] = [
            (_STATES_OF, {"ids": list(operation_ids[k : k + 500])})
            for k in range(0, len(operation_ids), 500)
        ]
        if running_on is not None:
            runs.append((_STATES_RUNNING_ON, {"machine": running_on}))
        out: dict[str, OperationState] = {}
        for stmt, params in runs:
            for op, status, machine, good, rejected, started, wo_status, wo in self.s.execute(
                stmt, params
            ):
                out[op] = OperationState(
                    WorkStatus(status), machine, good, rejected, started, WorkStatus(wo_status), wo
                )
        return out


# The operator terminal reads these on every view: built once (SQLAlchemy then reuses their
# compiled form without building and hashing a new statement each time).
_STATES = select(
    OperationRow.id,
    OperationRow.status,
    OperationRow.machine,
    OperationRow.good,
    OperationRow.rejected,
    OperationRow.actual_start,
    WorkOrderRow.status,
    OperationRow.work_order,
).join(WorkOrderRow, WorkOrderRow.id == OperationRow.work_order)
_STATES_OF = _STATES.where(OperationRow.id.in_(bindparam("ids", expanding=True)))
_STATES_RUNNING_ON = _STATES.where(
    OperationRow.machine == bindparam("machine"),
    OperationRow.status == WorkStatus.RUNNING.value,
)


class SqlCustomerRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def find(self) -> list[Customer]:
        rows = self.s.scalars(select(CustomerRow).order_by(CustomerRow.id))
        return [Customer(id=r.id, name=r.name, email=r.email, segment=r.segment) for r in rows]

    def get(self, customer_id: str) -> Customer:
        r = self.s.get(CustomerRow, customer_id)
        if r is None:
            raise NotFound(f"customer {customer_id} does not exist")
        return Customer(id=r.id, name=r.name, email=r.email, segment=r.segment)


class SqlTraceRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_serial(self, serial: SerialNumber) -> None:
        self.s.add(
            SerialRow(
                serial=serial.serial, work_order=serial.work_order, lot=serial.lot, made=serial.made
            )
        )

    def serials(self, work_order: str) -> list[SerialNumber]:
        return self.serials_of([work_order])

    def serial(self, serial: str) -> SerialNumber | None:
        r = self.s.get(SerialRow, serial)
        return None if r is None else _serial(r)

    def serials_of(self, work_orders: Collection[str]) -> list[SerialNumber]:
        ids = sorted(set(work_orders))
        out: list[SerialNumber] = []
        for i in range(0, len(ids), 500):
            stmt = select(SerialRow).where(SerialRow.work_order.in_(ids[i : i + 500]))
            out.extend(_serial(r) for r in self.s.scalars(stmt))
        return sorted(out, key=lambda s: (s.work_order, s.serial))

    def work_orders_of_lot(self, lot: str) -> list[str]:
        stmt = select(WorkOrderRow.id).where(WorkOrderRow.lot == lot).order_by(WorkOrderRow.id)
        return list(self.s.scalars(stmt))


def _serial(r: SerialRow) -> SerialNumber:
    return SerialNumber(serial=r.serial, work_order=r.work_order, lot=r.lot, made=r.made)


class SqlUnitOfWork:
    """One session, one transaction. Use as a context manager; call `commit()` to keep the
    work — leaving the block without it (or with an exception) rolls everything back."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.factory = SqlFactoryRepository(self.session)
        self.orders = SqlOrderRepository(self.session)
        self.work_orders = SqlWorkOrderRepository(self.session)
        self.customers = SqlCustomerRepository(self.session)
        self.trace = SqlTraceRepository(self.session)
        return self

    # the other areas' repositories, on the same session (built on first use)

    @cached_property
    def quality(self) -> SqlQualityStore:
        return SqlQualityStore(self.session)

    @cached_property
    def plans(self) -> SqlPlanStore:
        return SqlPlanStore(self.session)

    @cached_property
    def records(self) -> SqlExecutionStore:
        return SqlExecutionStore(self.session)

    @cached_property
    def usage(self) -> SqlUsageRepository:
        return SqlUsageRepository(self.session)

    @cached_property
    def events(self) -> SqlEventLog:
        return SqlEventLog(self.session)

    @cached_property
    def reactor(self) -> SqlReactorLedger:
        return SqlReactorLedger(self.session)

    @cached_property
    def replans(self) -> SqlReplanQueue:
        return SqlReplanQueue(self.session)

    @cached_property
    def pins(self) -> SqlPinRepository:
        return SqlPinRepository(self.session)

    @cached_property
    def progress(self) -> SqlProgressRepository:
        return SqlProgressRepository(self.session)

    @cached_property
    def stock(self) -> SqlStockRepository:
        return SqlStockRepository(self.session)

    @cached_property
    def purchases(self) -> SqlPurchaseRepository:
        return SqlPurchaseRepository(self.session)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise Conflict(f"the change conflicts with stored data: {exc.orig}") from exc

    def rollback(self) -> None:
        self.session.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)
