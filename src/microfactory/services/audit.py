"""The audit log: one record per state-changing call (who, what, when, outcome), written by
the API for every POST / PUT / PATCH / DELETE whatever its outcome (outcome = HTTP status),
and by the CLI for user and token changes (actor `cli:<OS user>`, role `cli`, action
`cli users ...`, outcome = exit code, 0 when done); readable by admins. Times are the wall
clock's, whatever the shop's clock says."""

from __future__ import annotations

from microfactory.access import AuditRecord
from microfactory.core.clock import Clock
from microfactory.services.ports import AuditStore


class AuditLog:
    def __init__(self, store: AuditStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def record(
        self, actor: str, role: str, action: str, outcome: int, detail: str = ""
    ) -> AuditRecord:
        rec = AuditRecord(
            at=self.clock.now(),
            actor=(actor or "anonymous")[:64],
            role=(role or "-")[:20],
            action=action[:300],
            outcome=outcome,
            detail=detail[:2000],
        )
        self.store.append(rec)
        return rec

    def find(
        self, *, actor: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[AuditRecord]:
        return self.store.find(actor=actor, limit=limit, offset=offset)

    def count(self, *, actor: str | None = None) -> int:
        return self.store.count(actor=actor)
