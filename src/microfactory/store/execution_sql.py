"""SQL implementation of the execution / TPM store port (`services.execution.ExecutionStore`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from microfactory.store.base import Binding
from microfactory.store.tpm_tables import OpPlanRow, PlanRunRow, TpmWorkOrderRow, TwinRunRow


class SqlExecutionStore:
    """On an engine (each call its own transaction) or on a unit of work's session."""

    def __init__(self, target: Engine | Session) -> None:
        self.engine = Binding(target)

    def save_plan(
        self, plan_no: int, rows: Sequence[tuple[str, str, str, datetime, datetime]]
    ) -> None:
        """Replace the plan of the given operations: (operation, work_order, machine, start,
        end). The first planned end of each operation is kept."""
        if not rows:
            return
        with self.engine.begin() as conn:
            ids = [r[0] for r in rows]
            first: dict[str, datetime] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                found = conn.execute(
                    select(OpPlanRow.operation, OpPlanRow.first_end).where(
                        OpPlanRow.operation.in_(chunk)
                    )
                ).all()
                first.update((op, _aware(end)) for op, end in found)
                conn.execute(delete(OpPlanRow).where(OpPlanRow.operation.in_(chunk)))
            values: list[dict[str, Any]] = [
                {
                    "operation": op,
                    "work_order": wo,
                    "plan_no": plan_no,
                    "machine": machine,
                    "start": start,
                    "end": end,
                    "first_end": first.get(op, end),
                }
                for op, wo, machine, start, end in rows
            ]
            conn.execute(insert(OpPlanRow), values)

    def log_plan_run(
        self,
        at: datetime,
        trigger: str,
        reason: str,
        operations: int,
        solver: str,
        seconds: float,
        weighted_tardiness: int,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(PlanRunRow).values(
                    at=at,
                    trigger=trigger,
                    reason=reason,
                    operations=operations,
                    solver=solver,
                    seconds=seconds,
                    weighted_tardiness=weighted_tardiness,
                )
            )
            key = result.inserted_primary_key
            return int(key[0]) if key else 0

    def plan_runs(self) -> list[tuple[datetime, str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(PlanRunRow.at, PlanRunRow.trigger, PlanRunRow.reason).order_by(PlanRunRow.id)
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def save_maintenance(self, row: Mapping[str, Any]) -> None:
        """Insert or replace one maintenance work order (the columns of `tpm_work_orders`)."""
        values = dict(row)
        with self.engine.begin() as conn:
            conn.execute(delete(TpmWorkOrderRow).where(TpmWorkOrderRow.id == values["id"]))
            conn.execute(insert(TpmWorkOrderRow), [values])

    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]:
        query = select(TpmWorkOrderRow).order_by(TpmWorkOrderRow.created, TpmWorkOrderRow.id)
        if status is not None:
            query = query.where(TpmWorkOrderRow.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [dict(r) for r in rows]

    def save_run(
        self,
        seed: int,
        days: float,
        start: datetime,
        bus: str,
        summary: dict[str, Any],
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(TwinRunRow).values(
                    created=datetime.now(UTC),
                    seed=seed,
                    days=days,
                    start=start,
                    bus=bus,
                    summary=summary,
                )
            )
            key = result.inserted_primary_key
            return int(key[0]) if key else 0

    def latest_run(self) -> tuple[int, dict[str, Any], datetime, float, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(TwinRunRow).order_by(TwinRunRow.id.desc()).limit(1)).first()
        if row is None:
            return None
        return row.id, dict(row.summary), _aware(row.start), row.days, row.seed

    def planned_vs_actual(self) -> list[tuple[str, datetime, datetime, datetime | None]]:
        """Per planned operation: latest planned end, first planned end, actual end."""
        from microfactory.store.tables import OperationRow

        query = select(
            OpPlanRow.operation, OpPlanRow.end, OpPlanRow.first_end, OperationRow.actual_end
        ).join(OperationRow, OperationRow.id == OpPlanRow.operation)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            (r[0], _aware(r[1]), _aware(r[2]), None if r[3] is None else _aware(r[3])) for r in rows
        ]

    def plan_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(PlanRunRow)).scalar_one())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
