"""Composition of the print farm (beside bootstrap.py): its stores, the slicer and G-code
cache, the printer hosts of the factory's printers and the planning service it asks for
replans. Used by `microfactory run`, `microfactory printers` and the tests.

API keys are read here, once, from the environment variables the factory file names; a
printer whose variable is unset is left out with the reason (the others still run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from microfactory.bootstrap import Container
from microfactory.connect.gcode_cache import DirectoryGcodeCache
from microfactory.connect.octoprint import OctoPrintHost
from microfactory.connect.prusa_slicer import PrusaSlicer
from microfactory.core.clock import Clock, SystemClock
from microfactory.orders import Factory
from microfactory.services.factory import current_factory
from microfactory.services.planning import PlanningService, PlanningSettings
from microfactory.services.ports import PrinterHost, Slicer
from microfactory.services.printfarm import PrintFarm, PrintFarmSettings
from microfactory.services.printfarm_slicing import JobSpecs, SlicingService
from microfactory.shopfloor.machines import Machine
from microfactory.store.model_file_tables import SqlModelStore
from microfactory.store.planning_sql import SqlPlanStore
from microfactory.store.printfarm_tables import SqlPrintFarmStore
from microfactory.store.quoting_tables import SqlQuoteStore
from microfactory.store.telemetry_tables import SqlTelemetryStore


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "microfactory" / "gcode"


@dataclass
class PrintFarmParts:
    factory: Factory
    farm: PrintFarm
    planning: PlanningService
    store: SqlPrintFarmStore
    hosts: dict[str, PrinterHost] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    """Printers left out of the runtime, with the reason."""

    def close(self) -> None:
        for host in self.hosts.values():
            close = getattr(host, "close", None)
            if callable(close):
                close()


def octoprint_host(machine: Machine, env: Mapping[str, str]) -> PrinterHost | str:
    """The host adapter of a printer, or why there is none."""
    spec = machine.host
    if spec is None:
        return f"{machine.id} has no host"
    key = env.get(spec.api_key_env)
    if not key:
        return (
            f"{machine.id}: the environment variable {spec.api_key_env} with its "
            f"{spec.type} API key is not set"
        )
    return OctoPrintHost(spec.url, key, timeout_s=spec.timeout_s, key_source=f"${spec.api_key_env}")


def build_print_farm(
    container: Container,
    *,
    clock: Clock | None = None,
    slicer: Slicer | None = None,
    cache_dir: Path | None = None,
    cache_entries: int = 200,
    settings: PrintFarmSettings | None = None,
    plan_time_limit: float = 5.0,
    env: Mapping[str, str] | None = None,
    hosts: Callable[[Machine], PrinterHost | str] | None = None,
) -> PrintFarmParts:
    clock = clock or SystemClock()
    engine = container.engine
    with container.uow() as tx:
        factory = current_factory(tx)
    store = SqlPrintFarmStore(engine)
    plans = SqlPlanStore(engine)
    models = SqlModelStore(engine)
    telemetry = SqlTelemetryStore(engine)
    last_seq = {s.machine: s.last_seq for s in telemetry.machine_statuses()}
    materials = factory.material_map
    slicing = SlicingService(
        slicer or PrusaSlicer(),
        DirectoryGcodeCache(cache_dir or default_cache_dir(), max_entries=cache_entries),
        store,
        models,
        clock,
        density=lambda m: materials[m].density_g_cm3 if m in materials else None,
    )
    farm = PrintFarm(
        container.uow,
        store,
        plans,
        JobSpecs(container.uow, SqlQuoteStore(engine), models),
        slicing,
        clock,
        settings or PrintFarmSettings(),
        seq_start=lambda machine: last_seq.get(machine, -1) + 1,
    )
    farm.sync(factory)
    planning = container.planning(PlanningSettings(time_limit=plan_time_limit, workers=1), clock)
    parts = PrintFarmParts(factory, farm, planning, store)
    make = hosts or (lambda m: octoprint_host(m, os.environ if env is None else env))
    for machine_id in sorted(farm.machines):
        made = make(farm.machines[machine_id])
        if isinstance(made, str):
            parts.skipped[machine_id] = made
        else:
            parts.hosts[machine_id] = made
    return parts
