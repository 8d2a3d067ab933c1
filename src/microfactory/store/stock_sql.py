"""SQL implementations of the stock ports: lots and their ledger (`SqlStockRepository`) and
purchase orders (`SqlPurchaseRepository`), bound to a unit of work's session. Statements are
Core and run through the session (so what the session holds is flushed first, and everything
commits or rolls back with the unit of work); the hot path — a reactor batch's issues — is
one multi-row insert and one executemany update."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import RowMapping, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from microfactory.core.errors import Conflict, NotFound
from microfactory.orders.materials import MaterialLot
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
from microfactory.store.materials_tables import (
    MaterialEstimateRow,
    MaterialMovementRow,
    PurchaseOrderRow,
    StockAlertRow,
)
from microfactory.store.tables import MaterialLotRow, OperationRow, OrderRow, WorkOrderRow

LOTS = cast(Table, MaterialLotRow.__table__)
MOVES = cast(Table, MaterialMovementRow.__table__)
ESTIMATES = cast(Table, MaterialEstimateRow.__table__)
ALERTS = cast(Table, StockAlertRow.__table__)
POS = cast(Table, PurchaseOrderRow.__table__)
OPS = cast(Table, OperationRow.__table__)
WOS = cast(Table, WorkOrderRow.__table__)
ORDERS = cast(Table, OrderRow.__table__)
CHUNK = 500


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _chunks(values: Collection[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _lot(row: RowMapping) -> MaterialLot:
    return MaterialLot(
        id=row["id"],
        material=row["material"],
        quantity=max(0.0, float(row["quantity"])),
        received=_aware(row["received"]),
        supplier=row["supplier"],
        location=row["location"],
        expires=_aware(row["expires"]),
        cost=row["cost"],
        purchase_order=row["purchase_order"],
    )


def _movement(row: RowMapping) -> Movement:
    return Movement(
        kind=MovementKind(row["kind"]),
        material=row["material"],
        lot=row["lot"],
        quantity=float(row["quantity"]),
        at=_aware(row["at"]),
        work_order=row["work_order"],
        operation=row["operation"],
        reason=row["reason"],
        source=row["source"],
        id=int(row["id"]),
    )


def _fefo(lot: MaterialLot) -> tuple[str, int, datetime, datetime, str]:
    far = datetime.max.replace(tzinfo=UTC)
    return (lot.material, lot.expires is None, lot.expires or far, lot.received or far, lot.id)


class SqlStockRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- lots ----------------------------------------------------------------------------------

    def lot(self, lot_id: str) -> MaterialLot | None:
        row = self.s.execute(select(LOTS).where(LOTS.c.id == lot_id)).mappings().first()
        return None if row is None else _lot(row)

    def lots(
        self,
        *,
        materials: Collection[str] | None = None,
        ids: Collection[str] | None = None,
        with_empty: bool = False,
        lock: bool = False,
    ) -> list[MaterialLot]:
        query = select(LOTS)
        if not with_empty:
            query = query.where(LOTS.c.quantity > 0)
        if lock and self.s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        found: list[MaterialLot] = []
        if materials is None and ids is None:
            found = [_lot(r) for r in self.s.execute(query).mappings()]
        else:
            for column, values in ((LOTS.c.material, materials), (LOTS.c.id, ids)):
                if values is None:
                    continue
                for chunk in _chunks(values):
                    rows = self.s.execute(query.where(column.in_(chunk))).mappings()
                    found.extend(_lot(r) for r in rows)
        unique = {lot.id: lot for lot in found}
        return sorted(unique.values(), key=_fefo)

    def add_lot(self, lot: MaterialLot) -> None:
        if self.s.execute(select(LOTS.c.id).where(LOTS.c.id == lot.id)).first() is not None:
            raise Conflict(f"material lot {lot.id} already exists")
        self.s.execute(
            insert(LOTS).values(
                id=lot.id,
                material=lot.material,
                quantity=0.0,
                received=lot.received,
                supplier=lot.supplier,
                location=lot.location,
                expires=lot.expires,
                cost=lot.cost,
                purchase_order=lot.purchase_order,
            )
        )

    # -- the ledger ----------------------------------------------------------------------------

    def record(self, movements: Sequence[Movement]) -> None:
        if not movements:
            return
        self.s.execute(
            insert(MOVES),
            [
                {
                    "kind": m.kind.value,
                    "material": m.material,
                    "lot": m.lot,
                    "quantity": m.quantity,
                    "at": m.at,
                    "work_order": m.work_order,
                    "operation": m.operation,
                    "reason": m.reason[:2000],
                    "source": m.source[:100],
                }
                for m in movements
            ],
        )
        deltas: dict[str, float] = defaultdict(float)
        for m in movements:
            if m.lot is not None and m.delta != 0.0:
                deltas[m.lot] += m.delta
        if deltas:
            self.s.execute(
                update(LOTS)
                .where(LOTS.c.id == bindparam("b_id"))
                .values(quantity=LOTS.c.quantity + bindparam("b_delta")),
                [{"b_id": lot, "b_delta": delta} for lot, delta in deltas.items()],
                execution_options={"synchronize_session": False},
            )

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
        query = select(MOVES)
        if material is not None:
            query = query.where(MOVES.c.material == material)
        if lot is not None:
            query = query.where(MOVES.c.lot == lot)
        if kinds is not None:
            query = query.where(MOVES.c.kind.in_([k.value for k in kinds]))
        if since is not None:
            query = query.where(MOVES.c.at >= since)
        if until is not None:
            query = query.where(MOVES.c.at < until)
        if work_orders is not None:
            out: list[Movement] = []
            for chunk in _chunks(work_orders):
                rows = self.s.execute(query.where(MOVES.c.work_order.in_(chunk))).mappings()
                out.extend(_movement(r) for r in rows)
            out.sort(key=lambda m: m.id or 0)
            return out[-limit:] if limit else out
        if limit is not None:
            newest = query.order_by(MOVES.c.id.desc()).limit(limit)
            return [_movement(r) for r in reversed(self.s.execute(newest).mappings().all())]
        return [_movement(r) for r in self.s.execute(query.order_by(MOVES.c.id)).mappings()]

    def balances(self) -> list[LotBalance]:
        sums: dict[str, dict[str, float]] = defaultdict(dict)
        query = select(MOVES.c.lot, MOVES.c.kind, func.sum(MOVES.c.quantity)).group_by(
            MOVES.c.lot, MOVES.c.kind
        )
        for lot, kind, total in self.s.execute(query):
            if lot is not None:
                sums[lot][kind] = float(total or 0.0)
        out = []
        for row in self.s.execute(select(LOTS).order_by(LOTS.c.material, LOTS.c.id)).mappings():
            got = sums.get(row["id"], {})
            out.append(
                LotBalance(
                    material=row["material"],
                    lot=row["id"],
                    receipts=got.get("receipt", 0.0),
                    issues=got.get("issue", 0.0),
                    adjusted_out=-got.get("adjustment", 0.0),
                    discrepancies=got.get("discrepancy", 0.0),
                    on_hand=float(row["quantity"]),
                )
            )
        return out

    # -- consumption and genealogy -------------------------------------------------------------

    def operations(self, operation_ids: Collection[str]) -> dict[str, OperationMaterials]:
        out: dict[str, OperationMaterials] = {}
        query = (
            select(
                OPS.c.id,
                OPS.c.work_order,
                OPS.c.seq,
                WOS.c.product,
                WOS.c.quantity,
                WOS.c.parameters,
                ESTIMATES.c.material,
                ESTIMATES.c.quantity.label("estimate"),
                ESTIMATES.c.unit,
                ESTIMATES.c.source,
            )
            .join(WOS, WOS.c.id == OPS.c.work_order)
            .join(ESTIMATES, ESTIMATES.c.operation == OPS.c.id, isouter=True)
        )
        for chunk in _chunks(operation_ids):
            for r in self.s.execute(query.where(OPS.c.id.in_(chunk))).mappings():
                estimate = None
                if r["material"] is not None:
                    estimate = MaterialEstimate(
                        r["id"], r["material"], float(r["estimate"]), r["unit"], r["source"]
                    )
                out[r["id"]] = OperationMaterials(
                    r["id"],
                    r["work_order"],
                    int(r["seq"]),
                    r["product"],
                    int(r["quantity"]),
                    dict(r["parameters"] or {}),
                    estimate,
                )
        return out

    def estimates(self, operation_ids: Collection[str]) -> dict[str, MaterialEstimate]:
        out: dict[str, MaterialEstimate] = {}
        for chunk in _chunks(operation_ids):
            rows = self.s.execute(select(ESTIMATES).where(ESTIMATES.c.operation.in_(chunk)))
            for r in rows.mappings():
                out[r["operation"]] = MaterialEstimate(
                    r["operation"], r["material"], float(r["quantity"]), r["unit"], r["source"]
                )
        return out

    def set_estimate(self, work_order: str, estimate: MaterialEstimate) -> None:
        self.s.execute(delete(ESTIMATES).where(ESTIMATES.c.operation == estimate.operation))
        self.s.execute(
            insert(ESTIMATES).values(
                operation=estimate.operation,
                work_order=work_order,
                material=estimate.material,
                quantity=estimate.quantity,
                unit=estimate.unit,
                source=estimate.source,
            )
        )

    def consumers(self, lot: str) -> list[Consumer]:
        query = (
            select(
                MOVES.c.work_order,
                MOVES.c.operation,
                func.sum(MOVES.c.quantity).label("quantity"),
                WOS.c.order_id,
                WOS.c.product,
                WOS.c.lot,
                ORDERS.c.customer,
                OPS.c.good,
            )
            .join(WOS, WOS.c.id == MOVES.c.work_order)
            .join(ORDERS, ORDERS.c.id == WOS.c.order_id)
            .join(OPS, OPS.c.id == MOVES.c.operation, isouter=True)
            .where(MOVES.c.lot == lot, MOVES.c.kind == MovementKind.ISSUE.value)
            .group_by(
                MOVES.c.work_order,
                MOVES.c.operation,
                WOS.c.order_id,
                WOS.c.product,
                WOS.c.lot,
                ORDERS.c.customer,
                OPS.c.good,
            )
        )
        merged: dict[str, list[Any]] = {}
        for r in self.s.execute(query).mappings():
            row = merged.setdefault(
                r["work_order"],
                [r["order_id"], r["customer"], r["product"], r["lot"], 0.0, 0],
            )
            row[4] += float(r["quantity"])
            row[5] = max(row[5], int(r["good"] or 0))
        return [
            Consumer(wo, order, customer, product, part_lot, quantity, parts)
            for wo, (order, customer, product, part_lot, quantity, parts) in sorted(merged.items())
        ]

    # -- alerts --------------------------------------------------------------------------------

    def add_alerts(self, alerts: Sequence[StockAlert]) -> None:
        if not alerts:
            return
        ids = [a.id for a in alerts]
        known: set[str] = set()
        for chunk in _chunks(ids):
            known.update(
                self.s.execute(select(ALERTS.c.id).where(ALERTS.c.id.in_(chunk))).scalars()
            )
        rows = {}
        for a in alerts:
            if a.id not in known:
                rows[a.id] = {
                    "id": a.id,
                    "kind": a.kind,
                    "material": a.material,
                    "lot": a.lot,
                    "at": a.at,
                    "message": a.message,
                }
        if rows:
            self.s.execute(insert(ALERTS), list(rows.values()))

    def alerts(
        self, *, kinds: Collection[str] | None = None, limit: int = 1000
    ) -> list[StockAlert]:
        query = select(ALERTS).order_by(ALERTS.c.at.desc(), ALERTS.c.id.desc()).limit(limit)
        if kinds is not None:
            query = query.where(ALERTS.c.kind.in_(list(kinds)))
        return [
            StockAlert(r["id"], r["kind"], r["material"], r["lot"], _aware(r["at"]), r["message"])
            for r in self.s.execute(query).mappings()
        ]


def _purchase(r: RowMapping) -> PurchaseOrder:
    return PurchaseOrder(
        id=r["id"],
        material=r["material"],
        supplier=r["supplier"],
        quantity=float(r["quantity"]),
        ordered=_aware(r["ordered"]),
        due=_aware(r["due"]),
        status=PurchaseStatus(r["status"]),
        received=_aware(r["received"]),
        received_quantity=r["received_quantity"],
        lot=r["lot"],
        price=r["price"],
        note=r["note"],
    )


def _purchase_values(po: PurchaseOrder) -> dict[str, Any]:
    return {
        "id": po.id,
        "material": po.material,
        "supplier": po.supplier,
        "quantity": po.quantity,
        "ordered": po.ordered,
        "due": po.due,
        "status": po.status.value,
        "received": po.received,
        "received_quantity": po.received_quantity,
        "lot": po.lot,
        "price": po.price,
        "note": po.note,
    }


class SqlPurchaseRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, order: PurchaseOrder) -> None:
        if self.s.execute(select(POS.c.id).where(POS.c.id == order.id)).first() is not None:
            raise Conflict(f"purchase order {order.id} already exists")
        self.s.execute(insert(POS).values(**_purchase_values(order)))

    def get(self, order_id: str) -> PurchaseOrder:
        row = self.s.execute(select(POS).where(POS.c.id == order_id)).mappings().first()
        if row is None:
            raise NotFound(f"purchase order {order_id} does not exist")
        return _purchase(row)

    def find(
        self, *, status: PurchaseStatus | None = None, material: str | None = None
    ) -> list[PurchaseOrder]:
        query = select(POS).order_by(POS.c.due, POS.c.id)
        if status is not None:
            query = query.where(POS.c.status == status.value)
        if material is not None:
            query = query.where(POS.c.material == material)
        return [_purchase(r) for r in self.s.execute(query).mappings()]

    def save(self, order: PurchaseOrder) -> None:
        values = _purchase_values(order)
        values.pop("id")
        done = self.s.execute(update(POS).where(POS.c.id == order.id).values(**values))
        if getattr(done, "rowcount", 1) == 0:
            raise NotFound(f"purchase order {order.id} does not exist")

    def count(self) -> int:
        return int(self.s.execute(select(func.count()).select_from(POS)).scalar() or 0)
