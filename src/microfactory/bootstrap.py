"""Composition root: read settings once, build the engine, run migrations, wire the stores and
the services. Interfaces (CLI, API) call `bootstrap()` and use the typed `Container` it
returns; this module (and `api/composition.py` for the web app) is the only place where
concrete adapters meet services.

The services that run with a clock (planning, quoting, the reactor and its handlers) are
built by the container's methods, so that a simulation can hand them its own clock and a
command its own settings (a time limit, a planner) as arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from microfactory.core.clock import Clock, SystemClock
from microfactory.settings import Settings
from microfactory.store.base import check_connection, make_engine
from microfactory.store.migrate import upgrade
from microfactory.store.sql import SqlUnitOfWorkFactory

if TYPE_CHECKING:
    from microfactory.connect.bus import Bus
    from microfactory.orders import Factory
    from microfactory.services.closed_loop import LoopPorts
    from microfactory.services.planning import PlanningService, PlanningSettings, PlanVersion
    from microfactory.services.quoting import QuoteService
    from microfactory.services.reactor import Listener, Reactor, ReactorSettings
    from microfactory.services.stations import StationService
    from microfactory.store.telemetry_tables import SqlTelemetryStore

PACKAGE_ROOT = Path(__file__).resolve().parent
DEMO_FACTORY = PACKAGE_ROOT / "data" / "demo-factory.yaml"


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    uow: SqlUnitOfWorkFactory

    def close(self) -> None:
        self.engine.dispose()

    def timezone(self) -> str:
        """The site's time zone, in which people read every time (UTC before `init`)."""
        with self.uow() as tx:
            factory = tx.factory.current()
        return "UTC" if factory is None else factory.site.timezone

    def telemetry(self) -> SqlTelemetryStore:
        from microfactory.store.telemetry_tables import SqlTelemetryStore

        return SqlTelemetryStore(self.engine)

    def planning(
        self,
        settings: PlanningSettings | None = None,
        clock: Clock | None = None,
        listeners: Sequence[Callable[[PlanVersion], None]] = (),
    ) -> PlanningService:
        """The planning service; held quotes' capacity is kept free in every plan."""
        from microfactory.services.planning import PlanningService
        from microfactory.services.quoting import HeldQuotes
        from microfactory.store.quoting_tables import SqlQuoteStore

        return PlanningService(
            self.uow,
            clock or SystemClock(),
            settings,
            holds=HeldQuotes(SqlQuoteStore(self.engine)),
            listeners=listeners,
        )

    def quotes(
        self, clock: Clock | None = None, *, max_upload_bytes: int | None = None
    ) -> QuoteService:
        from microfactory.quoting.intake import IntakeLimits
        from microfactory.services.planning import PlanningSettings
        from microfactory.services.quoting import QuoteService, QuotingSettings
        from microfactory.store.quoting_tables import SqlQuoteStore

        clock = clock or SystemClock()
        limit = max_upload_bytes or self.settings.max_upload_bytes
        return QuoteService(
            self.uow,
            SqlQuoteStore(self.engine),
            clock,
            plans=self.planning(PlanningSettings(time_limit=5.0, workers=1), clock),
            settings=QuotingSettings(
                hold_hours=self.settings.quote_hold_hours,
                limits=IntakeLimits(max_file_bytes=limit),
            ),
        )

    def reactor(
        self,
        factory: Factory,
        *,
        settings: ReactorSettings | None = None,
        listeners: Sequence[Listener] = (),
        tpm_start: datetime | None = None,
        preventive: bool = True,
        predictor: object | None = None,
        predict_hours: float = 6.0,
    ) -> Reactor:
        """The event reactor with every area's handler: execution, TPM, replanning
        triggers, SPC and (given a predictor) predictive maintenance."""
        from microfactory.services.execution import ExecutionHandler
        from microfactory.services.maintenance import FailurePredictor, PredictiveHandler
        from microfactory.services.quality import QualityHandler
        from microfactory.services.reactor import EventHandler, Reactor
        from microfactory.services.replanning import ReplanHandler
        from microfactory.services.tpm import TpmHandler

        handlers: list[EventHandler] = [
            ExecutionHandler(factory),
            TpmHandler(factory, enabled=preventive, start=tpm_start),
            ReplanHandler(factory),
            QualityHandler(factory),
        ]
        if predictor is not None:
            assert isinstance(predictor, FailurePredictor)
            handlers.append(PredictiveHandler(factory, predictor, every_hours=predict_hours))
        return Reactor(self.uow, handlers, settings, listeners)

    def stations(self, factory: Factory, clock: Clock | None = None) -> StationService:
        """What people record at a station, on the event path (stored, then applied)."""
        from microfactory.services.stations import StationService

        clock = clock or SystemClock()
        return StationService(
            self.uow,
            self.telemetry(),
            self.reactor(factory),
            self.planning(clock=clock),
            factory,
            clock,
        )

    def loop_ports(
        self,
        factory: Factory,
        bus: Bus,
        bus_name: str,
        *,
        planning: PlanningSettings | None = None,
        start: datetime | None = None,
        preventive: bool = True,
        predictor: object | None = None,
        predict_hours: float = 6.0,
    ) -> LoopPorts:
        """What the closed loop (the demo, what-if) runs on: these stores, this bus, the
        reactor with every handler and the planning service, built with the loop's clock
        and listeners."""
        from microfactory.services.closed_loop import LoopPorts
        from microfactory.services.planning import PlanningSettings
        from microfactory.store.execution_sql import SqlExecutionStore

        settings = planning or PlanningSettings(strategy="dispatch")
        return LoopPorts(
            uow=self.uow,
            records=SqlExecutionStore(self.engine),
            telemetry=self.telemetry(),
            bus=bus,
            reactor=lambda listeners: self.reactor(
                factory,
                listeners=listeners,
                tpm_start=start,
                preventive=preventive,
                predictor=predictor,
                predict_hours=predict_hours,
            ),
            planning=lambda clock, listeners: self.planning(settings, clock, listeners),
            bus_name=bus_name,
        )


def bootstrap(
    settings: Settings | None = None, *, db_url: str | None = None, migrate: bool = True
) -> Container:
    """Wire everything for one process. `db_url` overrides the setting (the `--db` option)."""
    settings = settings or Settings()
    if db_url:
        settings = settings.model_copy(update={"database_url": db_url})
    engine = make_engine(settings.database_url)
    check_connection(engine)
    if migrate:
        upgrade(engine)
    return Container(settings=settings, engine=engine, uow=SqlUnitOfWorkFactory(engine))
