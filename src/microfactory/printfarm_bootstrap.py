"""Composition of the print farm (beside bootstrap.py): its stores, the slicer and G-code
cache, the printer hosts of the factory's printers and the planning service it asks for
replans. Used by `microfactory run`, `microfactory printers` and the tests.

API keys are read here, once, from the environment variables the factory file names; a
printer whose variable is unset is left out with the reason (the others still run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microfactory.bootstrap import Container
from microfactory.connect.gcode_cache import DirectoryGcodeCache
from microfactory.connect.octoprint import OctoPrintHost
from microfactory.connect.prusa_slicer import PrusaSlicer
from microfactory.core.clock import Clock, SystemClock
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.orders import Factory
from microfactory.services.factory import current_factory
from microfactory.services.ingestion import Ingester, IngestSettings
from microfactory.services.planning import PlanningService, PlanningSettings
from microfactory.services.ports import Bus, PrinterHost, Slicer
from microfactory.services.printfarm import PrintFarm, PrintFarmSettings
from microfactory.services.printfarm_runtime import PrintFarmRuntime, RuntimeSettings
from microfactory.services.printfarm_slicing import JobSpecs, SlicingService
from microfactory.services.runtime import ShopRuntime
from microfactory.shopfloor.bus import publish_event
from microfactory.shopfloor.events import Event
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


@dataclass(frozen=True)
class ShopFloorOptions:
    """How the shop-floor runtime is wired (the options of `microfactory run`)."""

    bus: str = "memory"
    """memory (in-process) or mqtt."""
    broker: tuple[str, int] = ("127.0.0.1", 1883)
    client_id: str = "microfactory-run"
    root: str = "microfactory"
    ingest: bool = True
    """Store and apply the events here (off when a separate `ingest` does it, over MQTT)."""
    poll_s: float = 1.0
    gcode_cache: Path | None = None
    cache_entries: int = 200
    plan_time_limit: float = 5.0

    def __post_init__(self) -> None:
        if self.bus not in ("memory", "mqtt"):
            raise ValidationError("must be memory or mqtt", where="--bus")
        if self.bus == "memory" and not self.ingest:
            raise ValidationError(
                "on the in-process bus nobody else would store the events: use --bus mqtt "
                "with a separate `microfactory ingest`, or leave --ingest on",
                where="--no-ingest",
            )
        if self.poll_s <= 0:
            raise ValidationError("must be positive", where="--poll-s")


class ShopFloorRun:
    """The shop-floor runtime of `microfactory run` and `microfactory serve --run`: printer
    hosts, slicing ahead of the plan, dispatch, and the event path (ingester, reactor,
    replans), started and stopped as one. `stop` hands on what the print farm holds, applies
    what was stored and releases the hosts and the bus; the container stays open (its owner
    closes it)."""

    def __init__(
        self,
        container: Container,
        options: ShopFloorOptions | None = None,
        *,
        clock: Clock | None = None,
        hosts: Callable[[Machine], PrinterHost | str] | None = None,
    ) -> None:
        self.container = container
        self.options = options or ShopFloorOptions()
        self.clock = clock or SystemClock()
        self.hosts = hosts
        self.parts: PrintFarmParts | None = None
        self.runtime: PrintFarmRuntime | None = None
        self.shop: ShopRuntime | None = None
        self.ingester: Ingester | None = None
        self.bus: Bus | None = None

    def start(self) -> PrintFarmParts:
        """Start everything; returns the print farm's parts (`skipped`: printers left out)."""
        from microfactory.bootstrap import memory_bus, mqtt_bus

        opts = self.options
        parts = build_print_farm(
            self.container,
            clock=self.clock,
            cache_dir=opts.gcode_cache,
            cache_entries=opts.cache_entries,
            plan_time_limit=opts.plan_time_limit,
            hosts=self.hosts,
        )
        self.parts = parts
        for machine, why in sorted(parts.skipped.items()):
            parts.farm.note(machine, f"not driven: {why}")
        if opts.bus == "mqtt":
            self.bus = mqtt_bus(opts.broker[0], opts.broker[1], opts.client_id)
        else:
            self.bus = memory_bus()
        if opts.ingest:  # store the events and apply them: the ingester, the reactor, replans
            telemetry = self.container.telemetry()
            self.ingester = Ingester(
                telemetry,
                clock=self.clock,
                known_machines=telemetry.known_machine_ids() or None,
                settings=IngestSettings(root=opts.root),
            )
            self.shop = ShopRuntime(
                self.ingester, self.container.reactor(parts.factory), parts.planning
            )
            self.shop.start()
            if opts.bus == "mqtt":  # what other machines publish on the broker is taken too
                self.ingester.attach(self.bus)
        self.runtime = PrintFarmRuntime(
            parts.farm,
            parts.hosts,
            self._publish,
            replanner=parts.planning,
            settings=RuntimeSettings(poll_s=opts.poll_s),
        )
        self.runtime.start()
        return parts

    def _publish(self, events: Sequence[Event]) -> None:
        """Hand the print farm's events on; return once they are safe, so that the outbox
        marks them published only then: stored (in-process) or acknowledged by the broker."""
        assert self.parts is not None and self.bus is not None
        site = self.parts.factory.site.id
        areas = {m.id: m.area for m in self.parts.factory.machines}
        if self.options.bus == "memory" and self.ingester is not None:
            self.ingester.process_events(list(events))
        for event in events:
            publish_event(
                self.bus,
                event,
                site=site,
                area=areas.get(event.machine, "shop"),
                root=self.options.root,
            )
        if self.options.bus == "mqtt" and not self.bus.flush(30.0):
            raise ConnectorError("the MQTT broker did not acknowledge the print farm's events")

    def check(self) -> None:
        """Raise what stopped the ingester, if anything did."""
        if self.ingester is not None and self.ingester.error is not None:
            raise self.ingester.error

    def counters(self) -> dict[str, Any]:
        runtime = self.runtime
        if runtime is None:
            return {}
        out: dict[str, Any] = {
            "printers": len(runtime.hosts),
            **runtime.farm.counters.as_dict(),
            **runtime.counters.as_dict(),
            "sliced": runtime.farm.slicing.sliced,
            "slice_failures": runtime.farm.slicing.failed,
        }
        if self.shop is not None:
            out["events"] = self.shop.as_dict()
        return out

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        if self.bus is not None:
            self.bus.flush(10.0)
        if self.shop is not None:
            self.shop.stop(30.0)
        if self.bus is not None:
            self.bus.close()
        if self.parts is not None:
            self.parts.close()
