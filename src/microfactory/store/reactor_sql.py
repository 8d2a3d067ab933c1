"""SQL repositories of the event path, bound to a unit of work's session: the committed
events in commit order (`tm_events`), the reactor's cursor and rejected events, replan
requests, and the TPM usage counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from microfactory.shopfloor.events import parse_event
from microfactory.shopfloor.records import (
    PlanUsage,
    ReactorProgress,
    Rejection,
    ReplanRequest,
    StoredEvent,
)
from microfactory.store.reactor_tables import ReactorCursorRow, RejectionRow, ReplanRequestRow
from microfactory.store.telemetry_tables import EventRow, from_us
from microfactory.store.tpm_tables import TpmMachineRow, TpmUsageRow

# The event path's bookkeeping statements, built once: the applier runs them for every
# batch (a station action is often a batch of one), and building a new statement each time
# (then hashing it for SQLAlchemy's compiled cache, or an ORM update's compile step) cost
# about as much as running it.
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
_CURSORS: Table = ReactorCursorRow.__table__  # type: ignore[assignment]
_REJECTIONS: Table = RejectionRow.__table__  # type: ignore[assignment]
_AFTER = (
    select(
        _EVENTS.c.id,
        _EVENTS.c.event_id,
        _EVENTS.c.machine,
        _EVENTS.c.kind,
        _EVENTS.c.seq,
        _EVENTS.c.ts_us,
        _EVENTS.c.body,
    )
    .where(_EVENTS.c.id > bindparam("position"))
    .order_by(_EVENTS.c.id)
    .limit(bindparam("limit"))
)
_LAST_POSITION = select(func.coalesce(func.max(_EVENTS.c.id), 0))
_LOCK = (
    update(_CURSORS)
    .where(_CURSORS.c.name == bindparam("cursor"))
    .values(last_id=_CURSORS.c.last_id)
)
_PROGRESS = select(_CURSORS.c.last_id, _CURSORS.c.applied, _CURSORS.c.rejected).where(
    _CURSORS.c.name == bindparam("cursor")
)
_ADVANCE = (
    update(_CURSORS)
    .where(_CURSORS.c.name == bindparam("cursor"))
    .values(
        last_id=bindparam("last_id"),
        applied=bindparam("applied"),
        rejected=bindparam("rejected"),
    )
)
_REJECTION_OF = (
    select(
        _REJECTIONS.c.event_row,
        _REJECTIONS.c.event_id,
        _REJECTIONS.c.machine,
        _REJECTIONS.c.kind,
        _REJECTIONS.c.ts,
        _REJECTIONS.c.reason,
    )
    .where(_REJECTIONS.c.event_id == bindparam("event_id"))
    .order_by(_REJECTIONS.c.id.desc())
)


class SqlEventLog:
    def __init__(self, session: Session) -> None:
        self.s = session

    def after(self, position: int, limit: int) -> list[StoredEvent]:
        rows = (
            self.s.connection()  # Core, not the ORM: thousands of rows a batch
            .execute(_AFTER, {"position": position, "limit": limit})
            .all()
        )
        return [
            StoredEvent(
                position=int(r.id),
                event_id=r.event_id,
                machine=r.machine,
                kind=r.kind,
                seq=int(r.seq),
                ts=from_us(int(r.ts_us)),
                event=None if r.body is None else parse_event(r.body, r.kind),
            )
            for r in rows
        ]

    def last_position(self) -> int:
        return int(self.s.scalar(_LAST_POSITION) or 0)


class SqlReactorLedger:
    def __init__(self, session: Session) -> None:
        self.s = session

    def lock(self, name: str) -> ReactorProgress:
        # the first statement of the transaction is a write, so a second reactor waits here
        # for the first one's commit (SQLite: the write lock; PostgreSQL: the row lock)
        result: CursorResult[Any] = self.s.execute(  # type: ignore[assignment]
            _LOCK, {"cursor": name}
        )
        found = result.rowcount
        if not found:
            self.s.add(ReactorCursorRow(name=name, last_id=0, applied=0, rejected=0))
            self.s.flush()
        return self.progress(name)

    def progress(self, name: str) -> ReactorProgress:
        row = self.s.execute(_PROGRESS, {"cursor": name}).first()
        if row is None:
            return ReactorProgress(0, 0, 0)
        return ReactorProgress(int(row.last_id), int(row.applied), int(row.rejected))

    def advance(self, name: str, progress: ReactorProgress) -> None:
        self.s.execute(
            _ADVANCE,
            {
                "cursor": name,
                "last_id": progress.position,
                "applied": progress.applied,
                "rejected": progress.rejected,
            },
        )

    def reject(self, rejection: Rejection) -> None:
        self.s.add(
            RejectionRow(
                event_row=rejection.position,
                event_id=rejection.event_id,
                machine=rejection.machine,
                kind=rejection.kind,
                ts=rejection.ts,
                reason=rejection.reason,
            )
        )

    def rejections(
        self, *, machine: str | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Rejection]:
        if event_id is not None:  # a station's refusal, looked up after every action
            found = [
                Rejection(*row)
                for row in self.s.execute(_REJECTION_OF, {"event_id": event_id})
                if machine is None or row.machine == machine
            ]
            return found[:limit]
        query = select(RejectionRow).order_by(RejectionRow.id.desc()).limit(limit)
        if machine is not None:
            query = query.where(RejectionRow.machine == machine)
        if event_id is not None:
            query = query.where(RejectionRow.event_id == event_id)
        return [
            Rejection(r.event_row, r.event_id, r.machine, r.kind, r.ts, r.reason)
            for r in self.s.scalars(query)
        ]


class SqlReplanQueue:
    def __init__(self, session: Session) -> None:
        self.s = session

    def request(self, at: datetime, trigger: str, reason: str = "") -> None:
        self.s.add(ReplanRequestRow(at=at, trigger=trigger[:32], reason=reason))
        self.s.flush()

    def pending(self) -> list[ReplanRequest]:
        rows = self.s.scalars(
            select(ReplanRequestRow)
            .where(ReplanRequestRow.done.is_(None))
            .order_by(ReplanRequestRow.id)
        )
        return [ReplanRequest(r.id, r.at, r.trigger, r.reason) for r in rows]

    def mark_done(self, ids: Sequence[int], at: datetime, plan_version: int | None) -> None:
        for start in range(0, len(ids), 500):
            self.s.execute(
                update(ReplanRequestRow)
                .where(ReplanRequestRow.id.in_(list(ids[start : start + 500])))
                .values(done=at, plan_version=plan_version)
            )


class SqlUsageRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def usage(self, machine: str) -> dict[str, PlanUsage]:
        rows = self.s.scalars(select(TpmUsageRow).where(TpmUsageRow.machine == machine))
        return {r.plan: PlanUsage(r.plan, r.run_hours, int(r.cycles), r.since) for r in rows}

    def save_usage(self, machine: str, usage: PlanUsage) -> None:
        row = self.s.get(TpmUsageRow, (machine, usage.plan))
        if row is None:
            self.s.add(
                TpmUsageRow(
                    machine=machine,
                    plan=usage.plan,
                    run_hours=usage.run_hours,
                    cycles=usage.cycles,
                    since=usage.since,
                )
            )
        else:
            row.run_hours, row.cycles, row.since = usage.run_hours, usage.cycles, usage.since

    def processing_since(self, machine: str) -> datetime | None:
        row = self.s.get(TpmMachineRow, machine)
        return None if row is None else row.processing_since

    def set_processing_since(self, machine: str, at: datetime | None) -> None:
        row = self.s.get(TpmMachineRow, machine)
        if row is None:
            self.s.add(TpmMachineRow(machine=machine, processing_since=at))
        else:
            row.processing_since = at
