"""The pin repository (`services.ports.PinRepository`): in memory and in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from microfactory.orders.pins import OperationPin
from microfactory.store.pins_tables import PlanPinRow, RushOrderRow


@dataclass
class MemoryPinState:
    pins: dict[str, OperationPin] = field(default_factory=dict)
    rush: dict[str, datetime] = field(default_factory=dict)


class MemoryPinRepository:
    def __init__(self, state: MemoryPinState) -> None:
        self.st = state

    def put(self, pin: OperationPin) -> None:
        self.st.pins[pin.operation] = pin

    def remove(self, operation: str) -> bool:
        return self.st.pins.pop(operation, None) is not None

    def all(self) -> list[OperationPin]:
        return [self.st.pins[key] for key in sorted(self.st.pins)]

    def mark_rush(self, order: str, at: datetime) -> None:
        self.st.rush.setdefault(order, at)

    def rush_orders(self) -> set[str]:
        return set(self.st.rush)


class SqlPinRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def put(self, pin: OperationPin) -> None:
        row = self.s.get(PlanPinRow, pin.operation)
        if row is None:
            self.s.add(
                PlanPinRow(
                    operation=pin.operation,
                    machine=pin.machine,
                    start=pin.start,
                    by=pin.by[:64],
                    at=pin.at,
                )
            )
        else:
            row.machine, row.start, row.by, row.at = pin.machine, pin.start, pin.by[:64], pin.at
        self.s.flush()

    def remove(self, operation: str) -> bool:
        row = self.s.get(PlanPinRow, operation)
        if row is None:
            return False
        self.s.delete(row)
        self.s.flush()
        return True

    def all(self) -> list[OperationPin]:
        rows = self.s.scalars(select(PlanPinRow).order_by(PlanPinRow.operation))
        return [OperationPin(r.operation, r.machine, r.start, r.by, r.at) for r in rows]

    def mark_rush(self, order: str, at: datetime) -> None:
        if self.s.get(RushOrderRow, order) is None:
            self.s.add(RushOrderRow(order=order, at=at))
            self.s.flush()

    def rush_orders(self) -> set[str]:
        return set(self.s.scalars(select(RushOrderRow.order)))
