"""Small reads for the dashboard over other areas' tables (telemetry samples, the closed
loop's live plan, maintenance work orders). Read-only; the owning areas write them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.store.telemetry_tables import SignalRow
from microfactory.store.tpm_tables import OpPlanRow


class SqlDashboardQueries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def signals(self, machine: str) -> list[str]:
        query = select(SignalRow.signal).where(SignalRow.machine == machine).distinct()
        with self.engine.connect() as conn:
            return sorted(str(s) for s in conn.execute(query).scalars())

    def live_plan(self) -> list[dict[str, Any]]:
        query = select(
            OpPlanRow.operation,
            OpPlanRow.work_order,
            OpPlanRow.machine,
            OpPlanRow.start,
            OpPlanRow.end,
        ).order_by(OpPlanRow.start)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def maintenance_orders(self, status: str | None = None) -> list[dict[str, Any]]:
        return SqlExecutionStore(self.engine).maintenance_orders(status)
