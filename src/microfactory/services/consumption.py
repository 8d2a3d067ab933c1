"""Consumption on the event path: when an operation finishes, its material leaves stock.

The reactor calls `MaterialsHandler.apply` for every committed `job` event, after execution
applied it (a `finished` that execution rejected never reaches it), in the same transaction:
the operation's move to `done` and its material's issue commit together, exactly once.

What is issued: per part made (good + scrap: a scrapped part took material too), the BOM
lines of the operation's routing step — with the order's options ("pla-{colour}") — or an
estimate that replaces them (an accepted quote's grams; a slicer's G-code estimate).

From which lot: the one the machine or the operator reported (`material_lot` of the job
event), else first-expiry-first-out. What no lot holds is never taken below zero: it is a
`discrepancy` movement and an alert. A reported lot that is unknown or of another material
is noted in an alert, and the issue goes first-expiry-first-out. When stock of a material
crosses below its safety stock, a low-stock alert; lots about to expire raise an expiry
alert (checked once a day of event time).

Fast path: a batch's operations and the lots of the materials they use are loaded once
(`prepare`), issues are worked out in memory, and the movements written in bulk (`finish`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from microfactory.orders import Factory, Material
from microfactory.orders.stock import (
    LotStock,
    Movement,
    MovementKind,
    Need,
    OperationMaterials,
    StockAlert,
    allocate,
    operation_needs,
)
from microfactory.services.materials import low_stock_alert
from microfactory.services.ports import UnitOfWork
from microfactory.services.reactor import Applied
from microfactory.shopfloor.events import JobEvent
from microfactory.shopfloor.records import StoredEvent


@dataclass(frozen=True)
class ConsumptionSettings:
    expiry_warning_days: float = 14.0
    """A lot that expires within this many days raises an expiry alert."""


class MaterialsHandler:
    kinds = frozenset({"job"})

    def __init__(self, factory: Factory, settings: ConsumptionSettings | None = None) -> None:
        self.factory = factory
        self.settings = settings or ConsumptionSettings()
        self.materials = factory.material_map
        self.products = factory.product_map
        self._needs: dict[tuple[str, int, tuple[tuple[str, object], ...]], list[Need]] = {}
        self._tx: UnitOfWork | None = None
        self._ops: dict[str, OperationMaterials] = {}
        self._lots: dict[str, LotStock] = {}
        self._by_material: dict[str, list[LotStock]] = defaultdict(list)
        self._on_hand: dict[str, float] = {}
        self._moves: list[Movement] = []
        self._alerts: list[StockAlert] = []
        self._issued_at: dict[str, datetime] = {}
        self._expiry_checked: datetime | None = None

    # -- the batch ---------------------------------------------------------------------------

    def prepare(self, tx: UnitOfWork, events: list[StoredEvent]) -> None:
        self._tx = tx
        self._moves, self._alerts, self._issued_at = [], [], {}
        self._lots, self._by_material, self._on_hand = {}, defaultdict(list), {}
        finished = [
            e.event
            for e in events
            if isinstance(e.event, JobEvent) and e.event.action == "finished"
        ]
        self._ops = tx.stock.operations({e.operation for e in finished}) if finished else {}
        materials = {need.material for op in self._ops.values() for need in self._needs_of(op)}
        reported = {e.material_lot for e in finished if e.material_lot}
        if not materials and not reported:
            return
        lots = tx.stock.lots(materials=materials, ids=reported or None, lock=True)
        for lot in lots:
            stock = LotStock.of(lot)
            self._lots[lot.id] = stock
            self._by_material[lot.material].append(stock)
        for material in materials:
            self._on_hand[material] = self._usable(material)

    def apply(self, tx: UnitOfWork, stored: StoredEvent, out: Applied) -> None:
        e = stored.event
        assert isinstance(e, JobEvent)
        if e.action != "finished":
            return
        if tx is not self._tx:  # applied without `prepare` (one event at a time)
            self.prepare(tx, [stored])
        op = self._ops.get(e.operation)
        parts = e.good + e.reject
        if op is None or parts <= 0:
            return
        for need in self._needs_of(op):
            self._issue(op, need, need.per_part * parts, e, out)

    def finish(self, tx: UnitOfWork, out: Applied) -> None:
        if tx is self._tx:
            if self._moves:
                tx.stock.record(self._moves)
                out.stock_changed = True
            for material, at in self._issued_at.items():
                found = self.materials.get(material)
                before = self._on_hand.get(material)
                if found is not None and before is not None:
                    alert = low_stock_alert(found, before, self._usable(material), at)
                    if alert is not None:
                        self._alerts.append(alert)
            if out.newest is not None:
                self._check_expiry(tx, out.newest)
            if self._alerts:
                tx.stock.add_alerts(self._alerts)
                out.stock_alerts.extend(self._alerts)
        self._tx, self._ops, self._moves, self._alerts = None, {}, [], []
        self._issued_at = {}
        self._lots, self._by_material, self._on_hand = {}, defaultdict(list), {}

    # -- one issue -----------------------------------------------------------------------------

    def _issue(
        self, op: OperationMaterials, need: Need, quantity: float, e: JobEvent, out: Applied
    ) -> None:
        material = self.materials[need.material]
        preferred = None
        if e.material_lot:
            lot = self._lots.get(e.material_lot)
            if lot is not None and lot.material == material.id:
                preferred = lot.id
                if lot.expires is not None and lot.expires <= e.ts:
                    self._alert(
                        "expiry",
                        material,
                        lot.id,
                        e.ts,
                        f"expired lot {lot.id} was used for {op.operation}",
                        key=f"expired-use:{op.operation}:{lot.id}",
                    )
            elif lot is None or len(self._needs_of(op)) == 1:
                reason = "is unknown" if lot is None else f"holds {lot.material}"
                self._alert(
                    "discrepancy",
                    material,
                    e.material_lot,
                    e.ts,
                    f"{op.operation} reported lot {e.material_lot}, which {reason}; "
                    f"{material.id} issued first-expiry-first-out",
                    key=f"lot:{op.operation}",
                )
        source = e.source or f"machine:{e.machine}"
        self._issued_at[material.id] = e.ts
        got = allocate(self._by_material.get(material.id, []), quantity, e.ts, preferred=preferred)
        for lot_id, taken in got.taken:
            self._moves.append(
                Movement(
                    MovementKind.ISSUE,
                    material.id,
                    lot_id,
                    taken,
                    e.ts,
                    op.work_order,
                    op.operation,
                    source=source,
                )
            )
        if got.shortfall > 0:
            lot_named = preferred or e.material_lot
            self._moves.append(
                Movement(
                    MovementKind.DISCREPANCY,
                    material.id,
                    lot_named,
                    got.shortfall,
                    e.ts,
                    op.work_order,
                    op.operation,
                    reason=f"{got.requested:.6g} {material.unit} needed, "
                    f"{got.requested - got.shortfall:.6g} in stock",
                    source=source,
                )
            )
            self._alert(
                "discrepancy",
                material,
                lot_named,
                e.ts,
                f"{op.operation} used {got.requested:.4g} {material.unit} of {material.id}; "
                f"{got.shortfall:.4g} {material.unit} more than stock holds (count the stock)",
                key=f"short:{op.operation}:{material.id}",
            )

    # -- helpers ---------------------------------------------------------------------------------

    def _needs_of(self, op: OperationMaterials) -> list[Need]:
        if op.estimate is not None:
            return operation_needs(None, op.seq, {}, self.materials, op.estimate)
        key = (op.product, op.seq, tuple(sorted(op.parameters.items())))
        found = self._needs.get(key)
        if found is None:
            found = operation_needs(
                self.products.get(op.product), op.seq, op.parameters, self.materials
            )
            self._needs[key] = found
        return found

    def _usable(self, material: str) -> float:
        return sum(lot.quantity for lot in self._by_material.get(material, []))

    def _alert(
        self,
        kind: str,
        material: Material,
        lot: str | None,
        at: datetime,
        message: str,
        *,
        key: str,
    ) -> None:
        self._alerts.append(StockAlert(f"{kind}:{key}", kind, material.id, lot, at, message))

    def _check_expiry(self, tx: UnitOfWork, now: datetime) -> None:
        """Once a day of event time: lots with stock that expire within the warning days."""
        if self._expiry_checked is not None and now - self._expiry_checked < timedelta(days=1):
            return
        self._expiry_checked = now
        horizon = now + timedelta(days=self.settings.expiry_warning_days)
        for lot in tx.stock.lots():
            if lot.expires is None or lot.expires > horizon:
                continue
            material = self.materials.get(lot.material)
            if material is None:
                continue
            verb = "expired" if lot.expires <= now else "expires"
            self._alert(
                "expiry",
                material,
                lot.id,
                now,
                f"lot {lot.id} of {material.id} {verb} on {lot.expires:%Y-%m-%d} with "
                f"{lot.quantity:.4g} {material.unit} left",
                key=lot.id,
            )
