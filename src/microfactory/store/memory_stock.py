"""In-memory stock ports (lots and ledger, purchase orders), with the contract of
`stock_sql` (the shared contract tests prove it). Part of `memory.MemoryState`, so they
commit and roll back with the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from microfactory.core.errors import Conflict, NotFound
from microfactory.orders import Order, WorkOrder
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
    balances,
)


@dataclass
class MemoryStockState:
    lots: dict[str, MaterialLot] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    estimates: dict[str, tuple[str, MaterialEstimate]] = field(default_factory=dict)
    alerts: dict[str, StockAlert] = field(default_factory=dict)
    purchases: dict[str, PurchaseOrder] = field(default_factory=dict)


class ShopState(Protocol):
    """What the stock reads of the rest of the in-memory shop."""

    work_orders: dict[str, WorkOrder]
    orders: dict[str, Order]


def _fefo(lot: MaterialLot) -> tuple[str, int, datetime, datetime, str]:
    far = datetime.max.replace(tzinfo=UTC)
    return (lot.material, lot.expires is None, lot.expires or far, lot.received or far, lot.id)


class MemoryStockRepository:
    def __init__(self, state: MemoryStockState, shop: ShopState) -> None:
        self.st = state
        self.shop = shop

    def lot(self, lot_id: str) -> MaterialLot | None:
        return self.st.lots.get(lot_id)

    def lots(
        self,
        *,
        materials: Collection[str] | None = None,
        ids: Collection[str] | None = None,
        with_empty: bool = False,
        lock: bool = False,
    ) -> list[MaterialLot]:
        found = [
            lot
            for lot in self.st.lots.values()
            if (with_empty or lot.quantity > 0)
            and (
                (materials is None and ids is None)
                or (materials is not None and lot.material in materials)
                or (ids is not None and lot.id in ids)
            )
        ]
        return sorted(found, key=_fefo)

    def add_lot(self, lot: MaterialLot) -> None:
        if lot.id in self.st.lots:
            raise Conflict(f"material lot {lot.id} already exists")
        self.st.lots[lot.id] = replace(lot, quantity=0.0)

    def record(self, movements: Sequence[Movement]) -> None:
        for m in movements:
            self.st.movements.append(replace(m, id=len(self.st.movements) + 1))
            if m.lot is not None and m.delta != 0.0 and m.lot in self.st.lots:
                lot = self.st.lots[m.lot]
                self.st.lots[m.lot] = replace(lot, quantity=max(0.0, lot.quantity + m.delta))

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
        found = [
            m
            for m in self.st.movements
            if (material is None or m.material == material)
            and (lot is None or m.lot == lot)
            and (work_orders is None or m.work_order in work_orders)
            and (kinds is None or m.kind in kinds)
            and (since is None or m.at >= since)
            and (until is None or m.at < until)
        ]
        return found[-limit:] if limit else found

    def balances(self) -> list[LotBalance]:
        lots = sorted(self.st.lots.values(), key=lambda lot: (lot.material, lot.id))
        return balances(lots, self.st.movements)

    def operations(self, operation_ids: Collection[str]) -> dict[str, OperationMaterials]:
        wanted = set(operation_ids)
        out: dict[str, OperationMaterials] = {}
        for wo in self.shop.work_orders.values():
            for op in wo.operations:
                if op.id in wanted:
                    estimate = self.st.estimates.get(op.id)
                    out[op.id] = OperationMaterials(
                        op.id,
                        wo.id,
                        op.seq,
                        wo.product,
                        wo.quantity,
                        dict(wo.parameters),
                        None if estimate is None else estimate[1],
                    )
        return out

    def estimates(self, operation_ids: Collection[str]) -> dict[str, MaterialEstimate]:
        wanted = set(operation_ids)
        return {op: e for op, (_, e) in self.st.estimates.items() if op in wanted}

    def set_estimate(self, work_order: str, estimate: MaterialEstimate) -> None:
        self.st.estimates[estimate.operation] = (work_order, estimate)

    def consumers(self, lot: str) -> list[Consumer]:
        good = {op.id: op.good for wo in self.shop.work_orders.values() for op in wo.operations}
        merged: dict[str, tuple[float, int]] = {}
        for m in self.st.movements:
            if m.lot != lot or m.kind != MovementKind.ISSUE or m.work_order is None:
                continue
            quantity, parts = merged.get(m.work_order, (0.0, 0))
            merged[m.work_order] = (
                quantity + m.quantity,
                max(parts, good.get(m.operation or "", 0)),
            )
        out = []
        for wo_id, (quantity, parts) in sorted(merged.items()):
            wo = self.shop.work_orders.get(wo_id)
            if wo is None:
                continue
            order = self.shop.orders[wo.order]
            out.append(
                Consumer(wo_id, order.id, order.customer, wo.product, wo.lot, quantity, parts)
            )
        return out

    def add_alerts(self, alerts: Sequence[StockAlert]) -> None:
        for alert in alerts:
            self.st.alerts.setdefault(alert.id, alert)

    def alerts(
        self, *, kinds: Collection[str] | None = None, limit: int = 1000
    ) -> list[StockAlert]:
        found = [a for a in self.st.alerts.values() if kinds is None or a.kind in kinds]
        return sorted(found, key=lambda a: (a.at, a.id), reverse=True)[:limit]


class MemoryPurchaseRepository:
    def __init__(self, state: MemoryStockState) -> None:
        self.st = state

    def add(self, order: PurchaseOrder) -> None:
        if order.id in self.st.purchases:
            raise Conflict(f"purchase order {order.id} already exists")
        self.st.purchases[order.id] = order

    def get(self, order_id: str) -> PurchaseOrder:
        try:
            return self.st.purchases[order_id]
        except KeyError:
            raise NotFound(f"purchase order {order_id} does not exist") from None

    def find(
        self, *, status: PurchaseStatus | None = None, material: str | None = None
    ) -> list[PurchaseOrder]:
        found = [
            po
            for po in self.st.purchases.values()
            if (status is None or po.status == status)
            and (material is None or po.material == material)
        ]
        return sorted(found, key=lambda po: (po.due, po.id))

    def save(self, order: PurchaseOrder) -> None:
        self.get(order.id)
        self.st.purchases[order.id] = order

    def count(self) -> int:
        return len(self.st.purchases)
