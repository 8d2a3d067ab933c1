"""Plan versions: the SQL store and its in-memory twin (same contract, same tests).

Rows are plain mappings so the store needs nothing above the adapter layer. A plan header
has the keys of `PlanRow` (without `id`, `version`, `current`); an operation row those of
`PlannedOperationRow` (without `id`, `plan_id`). Saving a plan makes it the current one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from microfactory.core.errors import NotFound
from microfactory.store import outbox
from microfactory.store.base import Binding
from microfactory.store.planning_tables import (
    DowntimeRow,
    ExclusionRow,
    PlannedOperationRow,
    PlanRow,
)

HEADER_KEYS = (
    "created_at",
    "origin",
    "objective",
    "objective_value",
    "status",
    "solver",
    "seconds",
    "reason",
    "weighted_tardiness",
    "moved",
)
OPERATION_KEYS = ("operation", "work_order", "machine", "start", "end", "due", "frozen")
OPTIONAL_KEYS = ("operator",)
"""Operation keys a row may leave out (stored as NULL): who attends it, when anyone must."""
Plan = tuple[dict[str, Any], list[dict[str, Any]]]
Downtime = tuple[datetime, datetime, str]


def _check_span(machine: str, start: datetime, end: datetime) -> None:
    if not machine:
        raise ValueError("a downtime needs its machine")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("downtime times must be timezone-aware")
    if end <= start:
        raise ValueError(f"downtime of {machine}: end {end} is not after start {start}")


class SqlPlanStore:
    """On an engine (each call its own transaction) or on a unit of work's session."""

    def __init__(self, target: Engine | Session) -> None:
        self.db = Binding(target)

    def save_plan(self, header: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> int:
        with self.db.session(write=True) as s:
            version = (s.scalar(select(func.max(PlanRow.version))) or 0) + 1
            s.execute(update(PlanRow).where(PlanRow.current.is_(True)).values(current=False))
            row = PlanRow(version=version, current=True, **{k: header[k] for k in HEADER_KEYS})
            s.add(row)
            s.flush()
            s.add_all(
                PlannedOperationRow(
                    plan_id=row.id,
                    **{k: op[k] for k in OPERATION_KEYS},
                    **{k: op.get(k) for k in OPTIONAL_KEYS},
                )
                for op in operations
            )
            outbox.enqueue(s, [outbox.plan_saved(version, header, operations)])
        return version

    def current_plan(self) -> Plan | None:
        with self.db.session() as s:
            row = s.scalars(select(PlanRow).where(PlanRow.current.is_(True))).first()
            return None if row is None else self._load(s, row)

    def get_plan(self, version: int) -> Plan:
        with self.db.session() as s:
            row = s.scalars(select(PlanRow).where(PlanRow.version == version)).first()
            if row is None:
                raise NotFound(f"plan version {version} does not exist")
            return self._load(s, row)

    def versions(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(PlanRow).order_by(PlanRow.version)).all()
            return [self._header(r) for r in rows]

    def add_downtime(self, machine: str, start: datetime, end: datetime, reason: str) -> None:
        _check_span(machine, start, end)
        with self.db.session(write=True) as s:
            s.add(DowntimeRow(machine=machine, start=start, end=end, reason=reason))

    def end_downtime(self, machine: str, at: datetime) -> int:
        """The machine is back at `at`: the downtimes it is in end there (those starting
        exactly at `at` are dropped); later windows are kept. Returns how many changed."""
        with self.db.session(write=True) as s:
            rows = s.scalars(
                select(DowntimeRow).where(
                    DowntimeRow.machine == machine, DowntimeRow.start <= at, DowntimeRow.end > at
                )
            ).all()
            for row in rows:
                if row.start == at:
                    s.execute(delete(DowntimeRow).where(DowntimeRow.id == row.id))
                else:
                    row.end = at
            return len(rows)

    def downtimes(self, since: datetime | None = None) -> dict[str, list[Downtime]]:
        """Machine -> its downtimes ending after `since` (all if None), by start."""
        query = select(DowntimeRow).order_by(DowntimeRow.start, DowntimeRow.id)
        if since is not None:
            query = query.where(DowntimeRow.end > since)
        out: dict[str, list[Downtime]] = {}
        with self.db.session() as s:
            for row in s.scalars(query):
                out.setdefault(row.machine, []).append((row.start, row.end, row.reason))
        return out

    def current_version(self) -> int | None:
        """The current plan's version number (cheap: no operations are read)."""
        with self.db.session() as s:
            return s.scalar(select(PlanRow.version).where(PlanRow.current.is_(True)))

    def add_exclusion(self, operation: str, machine: str, reason: str, at: datetime) -> bool:
        """Keep `operation` off `machine` in every plan from now on; True when it is new
        (an existing exclusion gets the new reason)."""
        with self.db.session(write=True) as s:
            row = s.scalars(
                select(ExclusionRow).where(
                    ExclusionRow.operation == operation, ExclusionRow.machine == machine
                )
            ).first()
            if row is not None:
                row.reason = reason
                return False
            s.add(ExclusionRow(operation=operation, machine=machine, reason=reason, since=at))
            return True

    def clear_exclusions(self, *, machine: str | None = None, operation: str | None = None) -> int:
        """Drop the exclusions of a machine and/or an operation (all with neither)."""
        query = delete(ExclusionRow)
        if machine is not None:
            query = query.where(ExclusionRow.machine == machine)
        if operation is not None:
            query = query.where(ExclusionRow.operation == operation)
        with self.db.session(write=True) as s:
            return int(getattr(s.execute(query), "rowcount", 0) or 0)

    def exclusions(self) -> dict[str, dict[str, str]]:
        """Operation -> {machine: reason} it must not be planned on."""
        out: dict[str, dict[str, str]] = {}
        with self.db.session() as s:
            for row in s.scalars(select(ExclusionRow).order_by(ExclusionRow.id)):
                out.setdefault(row.operation, {})[row.machine] = row.reason
        return out

    @staticmethod
    def _header(row: PlanRow) -> dict[str, Any]:
        header = {k: getattr(row, k) for k in HEADER_KEYS}
        header.update(version=row.version, current=row.current)
        return header

    def _load(self, s: Any, row: PlanRow) -> Plan:
        ops = s.scalars(
            select(PlannedOperationRow)
            .where(PlannedOperationRow.plan_id == row.id)
            .order_by(PlannedOperationRow.start, PlannedOperationRow.operation)
        ).all()
        keys = OPERATION_KEYS + OPTIONAL_KEYS
        return self._header(row), [{k: getattr(o, k) for k in keys} for o in ops]


class MemoryPlanStore:
    def __init__(self) -> None:
        self.plans: list[Plan] = []
        self.spans: list[tuple[str, datetime, datetime, str]] = []
        self.excluded: dict[str, dict[str, str]] = {}

    def save_plan(self, header: Mapping[str, Any], operations: Sequence[Mapping[str, Any]]) -> int:
        for old, _ in self.plans:
            old["current"] = False
        version = len(self.plans) + 1
        stored = {k: header[k] for k in HEADER_KEYS}
        stored.update(version=version, current=True)
        ops = sorted(
            (
                {**{k: op[k] for k in OPERATION_KEYS}, **{k: op.get(k) for k in OPTIONAL_KEYS}}
                for op in operations
            ),
            key=lambda o: (o["start"], o["operation"]),
        )
        self.plans.append((stored, ops))
        return version

    def current_plan(self) -> Plan | None:
        for header, ops in self.plans:
            if header["current"]:
                return deepcopy((header, ops))
        return None

    def get_plan(self, version: int) -> Plan:
        if not 1 <= version <= len(self.plans):
            raise NotFound(f"plan version {version} does not exist")
        return deepcopy(self.plans[version - 1])

    def versions(self) -> list[dict[str, Any]]:
        return [dict(header) for header, _ in self.plans]

    def add_downtime(self, machine: str, start: datetime, end: datetime, reason: str) -> None:
        _check_span(machine, start, end)
        self.spans.append((machine, start, end, reason))

    def end_downtime(self, machine: str, at: datetime) -> int:
        changed, kept = 0, []
        for span in self.spans:
            m, start, end, reason = span
            if m == machine and start <= at < end:
                changed += 1
                if start < at:
                    kept.append((m, start, at, reason))
            else:
                kept.append(span)
        self.spans = kept
        return changed

    def downtimes(self, since: datetime | None = None) -> dict[str, list[Downtime]]:
        out: dict[str, list[Downtime]] = {}
        for machine, start, end, reason in sorted(self.spans, key=lambda s: s[1]):
            if since is None or end > since:
                out.setdefault(machine, []).append((start, end, reason))
        return out

    def current_version(self) -> int | None:
        for header, _ in self.plans:
            if header["current"]:
                return int(header["version"])
        return None

    def add_exclusion(self, operation: str, machine: str, reason: str, at: datetime) -> bool:
        new = machine not in self.excluded.get(operation, {})
        self.excluded.setdefault(operation, {})[machine] = reason
        return new

    def clear_exclusions(self, *, machine: str | None = None, operation: str | None = None) -> int:
        dropped = 0
        for op, machines in list(self.excluded.items()):
            if operation is not None and op != operation:
                continue
            for m in list(machines):
                if machine is None or m == machine:
                    del machines[m]
                    dropped += 1
            if not machines:
                del self.excluded[op]
        return dropped

    def exclusions(self) -> dict[str, dict[str, str]]:
        return deepcopy(self.excluded)
