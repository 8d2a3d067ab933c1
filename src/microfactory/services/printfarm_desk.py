"""The operator's side of the print farm: confirming a clear plate, loading a spool, changing
a printer's settings, and the printers' status report. This is printer state the print farm
owns (not shop state the event reactor applies), so it is written here directly, with who
changed it and when. A spool or nozzle change lifts the plan exclusions it may have caused
(`material:`, `filament:`, `nozzle:`) and marks the printer so the runtime replans."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from microfactory.core.clock import Clock
from microfactory.core.errors import Conflict, NotFound, ValidationError
from microfactory.orders import Factory
from microfactory.services.ports import PrintFarmStore, PrintFarmTx
from microfactory.shopfloor.machines import Machine
from microfactory.shopfloor.printers import JobState, PlateClearing, PrinterRecord, Spool

OPEN = (JobState.UPLOADING, JobState.STARTING, JobState.PRINTING)
RE_ROUTE = ("material", "filament", "nozzle")
"""Exclusion categories an operator's spool or nozzle change may lift."""


class ExclusionView(Protocol):
    def clear_exclusions(
        self, *, machine: str | None = None, operation: str | None = None
    ) -> int: ...

    def exclusions(self) -> dict[str, dict[str, str]]: ...


def record_of(tx: PrintFarmTx, machine: str) -> PrinterRecord:
    record = tx.printer(machine)
    if record is None:
        raise NotFound(f"printer {machine} has no record: run the print farm once")
    return record


class PrinterDesk:
    def __init__(
        self,
        store: PrintFarmStore,
        plans: ExclusionView,
        clock: Clock,
        factory: Factory,
        machines: Mapping[str, Machine],
    ) -> None:
        self.store = store
        self.plans = plans
        self.clock = clock
        self.factory = factory
        self.machines = dict(machines)

    def _machine(self, machine: str) -> Machine:
        if machine not in self.machines:
            known = ", ".join(sorted(self.machines)) or "none"
            raise NotFound(f"{machine} is not a printer with a host (printers: {known})")
        return self.machines[machine]

    def plate_clear(self, machine: str, by: str) -> PrinterRecord:
        """An operator confirms the build plate is clear."""
        self._machine(machine)
        now = self.clock.now()
        with self.store.transaction() as tx:
            record = record_of(tx, machine)
            running = tx.jobs(machine=machine, states=OPEN)
            if running:
                raise Conflict(
                    f"{machine} is printing {running[0].operation}: its plate is not free"
                )
            record = replace(
                record,
                plate_clear=True,
                changed_by=by,
                changed_at=now,
                message=f"plate confirmed clear by {by}",
            )
            tx.save_printer(record)
        return record

    def load_spool(
        self, machine: str, material: str, *, lot: str | None, grams: float | None, by: str
    ) -> PrinterRecord:
        """An operator loads a spool: its material (a factory material), lot and grams.
        Operations kept off this printer for its material or filament may come back: the
        runtime replans."""
        self._machine(machine)
        factory = self.factory
        if material not in factory.material_map:
            known = ", ".join(sorted(factory.material_map))
            raise ValidationError(
                f"unknown material {material!r} (known: {known})", where="--material"
            )
        if grams is not None and grams < 0:
            raise ValidationError("must not be negative", where="--grams")
        lots = [lot.id for lot in factory.material_map[material].lots]
        if lot is not None and lots and lot not in lots:
            raise ValidationError(
                f"{lot!r} is not a lot of {material} (lots: {', '.join(lots)})", where="--lot"
            )
        now = self.clock.now()
        with self.store.transaction() as tx:
            running = tx.jobs(machine=machine, states=OPEN)
        if running:
            raise Conflict(
                f"{machine} is printing {running[0].operation}: change the spool after it"
            )
        lifted = self._lift_exclusions(machine)
        with self.store.transaction() as tx:
            record = record_of(tx, machine)
            spool = Spool(material, lot, 1000.0 if grams is None else grams)
            record = replace(
                record,
                spool=spool,
                changed_by=by,
                changed_at=now,
                replan_wanted=record.replan_wanted or lifted > 0,
                message=f"spool loaded by {by}: {material}"
                + (f" lot {lot}" if lot else "")
                + f", {spool.remaining_g:g} g",
            )
            tx.save_printer(record)
        return record

    def configure(
        self,
        machine: str,
        *,
        by: str,
        nozzle_mm: float | None = None,
        plate_clearing: PlateClearing | None = None,
        retry_limit: int | None = None,
    ) -> PrinterRecord:
        """Change a printer's settings (nozzle fitted, who clears the plate, retry limit)."""
        self._machine(machine)
        now = self.clock.now()
        lifted = 0 if nozzle_mm is None else self._lift_exclusions(machine)
        with self.store.transaction() as tx:
            record = record_of(tx, machine)
            try:
                record = replace(
                    record,
                    nozzle_mm=record.nozzle_mm if nozzle_mm is None else nozzle_mm,
                    plate_clearing=plate_clearing or record.plate_clearing,
                    retry_limit=record.retry_limit if retry_limit is None else retry_limit,
                    changed_by=by,
                    changed_at=now,
                    replan_wanted=record.replan_wanted or lifted > 0,
                    message=f"settings changed by {by}",
                )
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            tx.save_printer(record)
        return record

    def _lift_exclusions(self, machine: str) -> int:
        lifted = 0
        for operation, machines in self.plans.exclusions().items():
            reason = machines.get(machine)
            if reason is not None and reason.split(":", 1)[0] in RE_ROUTE:
                lifted += self.plans.clear_exclusions(machine=machine, operation=operation)
        return lifted

    def report(self) -> list[dict[str, Any]]:
        """Every printer: host, state, job, progress, time left, plate, spool, message."""
        with self.store.transaction() as tx:
            records = {r.machine: r for r in tx.printers()}
            jobs = {j.machine: j for j in tx.jobs(states=OPEN)}
        out = []
        for machine_id in sorted(set(records) | set(self.machines)):
            record = records.get(machine_id) or PrinterRecord(machine=machine_id)
            machine = self.machines.get(machine_id)
            status = record.status
            spool = record.spool
            job = jobs.get(machine_id)
            out.append(
                {
                    "machine": machine_id,
                    "host": None if machine is None or machine.host is None else machine.host.url,
                    "state": status.state.value,
                    "job": None if job is None else job.operation,
                    "progress": None if status.progress is None else round(status.progress, 1),
                    "time_left_s": status.time_left_s,
                    "plate_clear": record.plate_clear,
                    "material": None if spool is None else spool.material,
                    "remaining_g": None if spool is None else round(spool.remaining_g, 1),
                    "lot": None if spool is None else spool.lot,
                    "nozzle_mm": record.nozzle_mm,
                    "temperatures": {t.heater: t.actual for t in status.temperatures},
                    "message": record.message,
                    "seen_at": None if record.status_at is None else record.status_at.isoformat(),
                    "changed_by": record.changed_by or None,
                }
            )
        return out
