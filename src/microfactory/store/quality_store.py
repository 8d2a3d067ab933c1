"""Quality store: the SQL implementation (SQLite / PostgreSQL) and an in-memory one with the
same contract (`services.quality.QualityStore`).

Rows are plain dicts with the column names of `quality_tables`, so the store needs nothing
above the domain layer. Each call is its own transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from microfactory.core.errors import Conflict
from microfactory.store import outbox
from microfactory.store.base import Binding
from microfactory.store.quality_tables import (
    LotHoldRow,
    NonconformanceRow,
    QualityAlertRow,
    QualityLimitsRow,
    QualityMeasurementRow,
)

Row = dict[str, Any]


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _dict(mapping: Mapping[Any, Any]) -> Row:
    return {str(k): _aware(v) for k, v in mapping.items()}


class SqlQualityStore:
    """On an engine (each call its own transaction) or on a unit of work's session."""

    def __init__(self, target: Engine | Session) -> None:
        self.engine = Binding(target)

    # -- measurements and limits -----------------------------------------------------------

    def add_measurement(self, row: Mapping[str, Any]) -> bool:
        """Store one measurement; False (and nothing stored) when its event id is known."""
        with self.engine.connect() as conn:
            known = conn.execute(
                select(QualityMeasurementRow.id).where(
                    QualityMeasurementRow.event_id == row["event_id"]
                )
            ).first()
        if known is not None:
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(QualityMeasurementRow), [dict(row)])
        except IntegrityError:
            return False
        return True

    def known_measurements(self, event_ids: Collection[str]) -> set[str]:
        ids = sorted(set(event_ids))
        found: set[str] = set()
        t = QualityMeasurementRow
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                found.update(
                    conn.execute(select(t.event_id).where(t.event_id.in_(chunk))).scalars()
                )
        return found

    def add_measurements(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(QualityMeasurementRow), [dict(r) for r in rows])

    def measurement_count(self, product: str, characteristic: str) -> int:
        query = select(func.count()).where(
            QualityMeasurementRow.product == product,
            QualityMeasurementRow.characteristic == characteristic,
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def recent_values(self, product: str, characteristic: str, limit: int) -> list[float]:
        """The latest `limit` values, oldest first."""
        query = (
            select(QualityMeasurementRow.value)
            .where(
                QualityMeasurementRow.product == product,
                QualityMeasurementRow.characteristic == characteristic,
            )
            .order_by(QualityMeasurementRow.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            values = [float(v) for v in conn.execute(query).scalars()]
        return values[::-1]

    def measurements(
        self,
        *,
        part_id: str | None = None,
        lot_id: str | None = None,
        product: str | None = None,
        characteristic: str | None = None,
    ) -> list[Row]:
        query = select(QualityMeasurementRow).order_by(QualityMeasurementRow.id)
        for column, value in (
            (QualityMeasurementRow.part_id, part_id),
            (QualityMeasurementRow.lot_id, lot_id),
            (QualityMeasurementRow.product, product),
            (QualityMeasurementRow.characteristic, characteristic),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_dict(r) for r in rows]

    def limits(self, product: str, characteristic: str) -> Row | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(QualityLimitsRow).where(
                        QualityLimitsRow.product == product,
                        QualityLimitsRow.characteristic == characteristic,
                    )
                )
                .mappings()
                .first()
            )
        return _dict(row) if row is not None else None

    def save_limits(self, row: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(QualityLimitsRow).where(
                    QualityLimitsRow.product == row["product"],
                    QualityLimitsRow.characteristic == row["characteristic"],
                )
            )
            conn.execute(insert(QualityLimitsRow), [dict(row)])

    # -- alerts and nonconformances -------------------------------------------------------------

    def add_alert(self, row: Mapping[str, Any]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(QualityAlertRow), [dict(row)])
                outbox.enqueue(conn, [outbox.quality_alert(row)])
        except IntegrityError:
            if self.alert(row["id"]) is None:
                raise
            raise Conflict(f"quality alert {row['id']} exists already") from None

    def alerts(self, *, lot_id: str | None = None, limit: int = 1000) -> list[Row]:
        query = select(QualityAlertRow).order_by(QualityAlertRow.at, QualityAlertRow.id)
        if lot_id is not None:
            query = query.where(QualityAlertRow.lot_id == lot_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return [_dict(r) for r in rows]

    def alert(self, alert_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(QualityAlertRow).where(QualityAlertRow.id == alert_id))
                .mappings()
                .first()
            )
        return _dict(row) if row is not None else None

    def add_ncr(self, row: Mapping[str, Any]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(NonconformanceRow), [dict(row)])
                outbox.enqueue(conn, [outbox.nonconformance(row)])
        except IntegrityError:
            if self.ncr(row["id"]) is None:
                raise
            raise Conflict(f"nonconformance {row['id']} exists already") from None

    def save_ncr(self, row: Mapping[str, Any]) -> None:
        """Insert or replace one NCR."""
        with self.engine.begin() as conn:
            conn.execute(delete(NonconformanceRow).where(NonconformanceRow.id == row["id"]))
            conn.execute(insert(NonconformanceRow), [dict(row)])
            outbox.enqueue(conn, [outbox.nonconformance(row)])

    def ncr(self, ncr_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(NonconformanceRow).where(NonconformanceRow.id == ncr_id))
                .mappings()
                .first()
            )
        return _dict(row) if row is not None else None

    def ncrs(
        self,
        *,
        lot_id: str | None = None,
        part_id: str | None = None,
        status: str | None = None,
    ) -> list[Row]:
        query = select(NonconformanceRow).order_by(NonconformanceRow.opened, NonconformanceRow.id)
        for column, value in (
            (NonconformanceRow.lot_id, lot_id),
            (NonconformanceRow.part_id, part_id),
            (NonconformanceRow.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_dict(r) for r in rows]

    # -- lot holds ---------------------------------------------------------------------------

    def add_hold(self, row: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(LotHoldRow), [dict(row)])

    def release_hold(self, lot: str, released_at: datetime, released_by: str, note: str) -> None:
        """Mark the active hold of `lot` released."""
        with self.engine.begin() as conn:
            conn.execute(
                update(LotHoldRow)
                .where(LotHoldRow.lot == lot, LotHoldRow.released_at.is_(None))
                .values(released_at=released_at, released_by=released_by, release_note=note)
            )

    def holds(self, *, lot: str | None = None, active_only: bool = False) -> list[Row]:
        query = select(LotHoldRow).order_by(LotHoldRow.held_at, LotHoldRow.id)
        if lot is not None:
            query = query.where(LotHoldRow.lot == lot)
        if active_only:
            query = query.where(LotHoldRow.released_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{k: _aware(v) for k, v in r.items() if k != "id"} for r in rows]

    def held_lots(self) -> set[str]:
        query = select(LotHoldRow.lot).where(LotHoldRow.released_at.is_(None))
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())


class MemoryQualityStore:
    """The same contract in memory (for tests and what-if runs)."""

    def __init__(self) -> None:
        self.measurement_rows: list[Row] = []
        self.event_ids: set[str] = set()
        self.limit_rows: dict[tuple[str, str], Row] = {}
        self.alert_rows: list[Row] = []
        self.ncr_rows: dict[str, Row] = {}
        self.hold_rows: list[Row] = []

    def add_measurement(self, row: Mapping[str, Any]) -> bool:
        if row["event_id"] in self.event_ids:
            return False
        self.event_ids.add(row["event_id"])
        self.measurement_rows.append(dict(row))
        return True

    def _of(self, product: str, characteristic: str) -> list[Row]:
        return [
            r
            for r in self.measurement_rows
            if r["product"] == product and r["characteristic"] == characteristic
        ]

    def known_measurements(self, event_ids: Collection[str]) -> set[str]:
        return self.event_ids & set(event_ids)

    def add_measurements(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self.add_measurement(row)

    def measurement_count(self, product: str, characteristic: str) -> int:
        return len(self._of(product, characteristic))

    def recent_values(self, product: str, characteristic: str, limit: int) -> list[float]:
        rows = self._of(product, characteristic)
        return [float(r["value"]) for r in rows[max(0, len(rows) - limit) :]]

    def measurements(
        self,
        *,
        part_id: str | None = None,
        lot_id: str | None = None,
        product: str | None = None,
        characteristic: str | None = None,
    ) -> list[Row]:
        wanted = {
            "part_id": part_id,
            "lot_id": lot_id,
            "product": product,
            "characteristic": characteristic,
        }
        return [
            copy.deepcopy(r)
            for r in self.measurement_rows
            if all(v is None or r.get(k) == v for k, v in wanted.items())
        ]

    def limits(self, product: str, characteristic: str) -> Row | None:
        row = self.limit_rows.get((product, characteristic))
        return dict(row) if row else None

    def save_limits(self, row: Mapping[str, Any]) -> None:
        self.limit_rows[(row["product"], row["characteristic"])] = dict(row)

    def add_alert(self, row: Mapping[str, Any]) -> None:
        if any(r["id"] == row["id"] for r in self.alert_rows):
            raise Conflict(f"quality alert {row['id']} exists already")
        self.alert_rows.append(dict(row))

    def alerts(self, *, lot_id: str | None = None, limit: int = 1000) -> list[Row]:
        rows = sorted(self.alert_rows, key=lambda r: (r["at"], r["id"]))
        return [dict(r) for r in rows if lot_id is None or r["lot_id"] == lot_id][:limit]

    def alert(self, alert_id: str) -> Row | None:
        return next((dict(r) for r in self.alert_rows if r["id"] == alert_id), None)

    def add_ncr(self, row: Mapping[str, Any]) -> None:
        if row["id"] in self.ncr_rows:
            raise Conflict(f"nonconformance {row['id']} exists already")
        self.ncr_rows[row["id"]] = dict(row)

    def save_ncr(self, row: Mapping[str, Any]) -> None:
        self.ncr_rows[row["id"]] = dict(row)

    def ncr(self, ncr_id: str) -> Row | None:
        row = self.ncr_rows.get(ncr_id)
        return dict(row) if row else None

    def ncrs(
        self,
        *,
        lot_id: str | None = None,
        part_id: str | None = None,
        status: str | None = None,
    ) -> list[Row]:
        wanted = {"lot_id": lot_id, "part_id": part_id, "status": status}
        rows = sorted(self.ncr_rows.values(), key=lambda r: (r["opened"], r["id"]))
        return [dict(r) for r in rows if all(v is None or r.get(k) == v for k, v in wanted.items())]

    def add_hold(self, row: Mapping[str, Any]) -> None:
        self.hold_rows.append(dict(row))

    def release_hold(self, lot: str, released_at: datetime, released_by: str, note: str) -> None:
        for row in self.hold_rows:
            if row["lot"] == lot and row["released_at"] is None:
                row.update(released_at=released_at, released_by=released_by, release_note=note)

    def holds(self, *, lot: str | None = None, active_only: bool = False) -> list[Row]:
        return [
            dict(r)
            for r in self.hold_rows
            if (lot is None or r["lot"] == lot) and (not active_only or r["released_at"] is None)
        ]

    def held_lots(self) -> set[str]:
        return {r["lot"] for r in self.hold_rows if r["released_at"] is None}
