"""SQL repositories of the event path, bound to a unit of work's session: the committed
events in commit order (`tm_events`), the reactor's cursor and rejected events, replan
requests, and the TPM usage counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
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


class SqlEventLog:
    def __init__(self, session: Session) -> None:
        self.s = session

    def after(self, position: int, limit: int) -> list[StoredEvent]:
        t = EventRow.__table__
        rows = (
            self.s.connection()
            .execute(  # Core, not the ORM: thousands of rows a batch
                select(t.c.id, t.c.event_id, t.c.machine, t.c.kind, t.c.seq, t.c.ts_us, t.c.body)
                .where(t.c.id > position)
                .order_by(t.c.id)
                .limit(limit)
            )
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
        return int(self.s.scalar(select(func.coalesce(func.max(EventRow.id), 0))) or 0)


class SqlReactorLedger:
    def __init__(self, session: Session) -> None:
        self.s = session

    def lock(self, name: str) -> ReactorProgress:
        # the first statement of the transaction is a write, so a second reactor waits here
        # for the first one's commit (SQLite: the write lock; PostgreSQL: the row lock)
        result: CursorResult[Any] = self.s.execute(  # type: ignore[assignment]
            update(ReactorCursorRow)
            .where(ReactorCursorRow.name == name)
            .values(last_id=ReactorCursorRow.last_id)
        )
        found = result.rowcount
        if not found:
            self.s.add(ReactorCursorRow(name=name, last_id=0, applied=0, rejected=0))
            self.s.flush()
        return self.progress(name)

    def progress(self, name: str) -> ReactorProgress:
        row = self.s.get(ReactorCursorRow, name, populate_existing=True)
        if row is None:
            return ReactorProgress(0, 0, 0)
        return ReactorProgress(int(row.last_id), int(row.applied), int(row.rejected))

    def advance(self, name: str, progress: ReactorProgress) -> None:
        self.s.execute(
            update(ReactorCursorRow)
            .where(ReactorCursorRow.name == name)
            .values(last_id=progress.position, applied=progress.applied, rejected=progress.rejected)
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
