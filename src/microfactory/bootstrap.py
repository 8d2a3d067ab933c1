"""Composition root: read settings once, build the engine, run migrations, wire the stores and
the services. Interfaces (CLI, API) call `bootstrap()` and use the typed `Container` it
returns; this module (and `api/composition.py` for the web app) is the only place where
concrete adapters meet services.

The services that run with a clock (planning, quoting, the reactor and its handlers) are
built by the container's methods, so that a simulation can hand them its own clock and a
command its own settings (a time limit, a planner) as arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    from microfactory.services.audit import AuditLog
    from microfactory.services.auth import AuthService
    from microfactory.services.closed_loop import LoopPorts
    from microfactory.services.documents import DocumentService
    from microfactory.services.exports import ExportService
    from microfactory.services.notifications import NotificationService
    from microfactory.services.planning import PlanningService, PlanningSettings, PlanVersion
    from microfactory.services.purchasing import StockAvailability
    from microfactory.services.quoting import QuoteService
    from microfactory.services.reactor import Listener, Reactor, ReactorSettings
    from microfactory.services.stations import StationService
    from microfactory.store.execution_sql import SqlExecutionStore
    from microfactory.store.maintenance_tables import SqlModelRegistry
    from microfactory.store.quality_store import SqlQualityStore
    from microfactory.store.telemetry_tables import SqlTelemetryStore

PACKAGE_ROOT = Path(__file__).resolve().parent
DEMO_FACTORY = PACKAGE_ROOT / "data" / "demo-factory.yaml"


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    uow: SqlUnitOfWorkFactory
    closers: list[Callable[[], None]] = field(default_factory=list)
    """What `close` runs before it closes the database, last added first: the web app's
    background threads (`on_close`)."""

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` at `close`, before the database is closed."""
        self.closers.append(closer)

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()
        self.engine.dispose()

    def timezone(self) -> str:
        """The site's time zone, in which people read every time (UTC before `init`)."""
        with self.uow() as tx:
            factory = tx.factory.current()
        return "UTC" if factory is None else factory.site.timezone

    def reset_database(self) -> None:
        """Drop every table and migrate again (the demo starts from an empty database)."""
        from microfactory.store.migrate import reset_database

        reset_database(self.engine)
        upgrade(self.engine)

    def execution_records(self) -> SqlExecutionStore:
        from microfactory.store.execution_sql import SqlExecutionStore

        return SqlExecutionStore(self.engine)

    def quality_store(self) -> SqlQualityStore:
        from microfactory.store.quality_store import SqlQualityStore

        return SqlQualityStore(self.engine)

    def model_registry(self) -> SqlModelRegistry:
        from microfactory.store.maintenance_tables import SqlModelRegistry

        return SqlModelRegistry(self.engine)

    def documents(self) -> DocumentService:
        """Travellers, part labels, certificates of conformance and packing slips (PDF)."""
        from microfactory.connect.pdf import PdfRenderer
        from microfactory.services.documents import DocumentService

        return DocumentService(self.uow, self.quality_store(), PdfRenderer())

    def exports(self, clock: Clock | None = None) -> ExportService:
        """CSV and Excel exports of orders, the plan, OEE, SPC data and stock."""
        from microfactory.services.exports import ExportService

        return ExportService(
            self.uow, self.quality_store(), self.telemetry(), clock or self.shop_clock()
        )

    def notifications(self, clock: Clock | None = None) -> NotificationService:
        """E-mail notifications: the outbox, users' settings, SMTP delivery (when
        MICROFACTORY_SMTP_HOST is set) and the alerts they escalate."""
        from microfactory.connect.smtp import SmtpConfig, SmtpSender
        from microfactory.services.alerts import (
            AlertService,
            maintenance_alert_source,
            quality_alert_source,
            rejection_alert_source,
            stock_alert_source,
        )
        from microfactory.services.notifications import NotificationService
        from microfactory.store.auth_sql import SqlAlertAckStore
        from microfactory.store.dashboard_sql import SqlDashboardQueries
        from microfactory.store.notification_tables import SqlNotificationStore

        s = self.settings
        clock = clock or self.shop_clock()
        sender = None
        if s.smtp_host:
            sender = SmtpSender(
                SmtpConfig(
                    s.smtp_host,
                    s.smtp_port,
                    s.smtp_from,
                    s.smtp_starttls,
                    s.smtp_username,
                    s.smtp_password_env,
                )
            )
        queries = SqlDashboardQueries(self.engine)
        alerts = AlertService(
            SqlAlertAckStore(self.engine),
            clock,
            [
                quality_alert_source(self.quality_store()),
                maintenance_alert_source(queries.maintenance_orders),
                rejection_alert_source(self.uow),
                stock_alert_source(self.uow),
            ],
        )
        return NotificationService(
            self.uow,
            SqlNotificationStore(self.engine),
            clock,
            sender=sender,
            alerts=lambda: alerts.alerts(open_only=True, limit=1000),
            users=self.auth().list_users,
        )

    def auth(self, clock: Clock | None = None) -> AuthService:
        """Users and tokens (the CLI's `users` commands; the web app wires its own)."""
        from microfactory.services.auth import AuthService
        from microfactory.store.auth_sql import SqlAuthStore

        return AuthService(SqlAuthStore(self.engine), clock or SystemClock())

    def audit_log(self, clock: Clock | None = None) -> AuditLog:
        """The audit log (on the wall clock: who did what, when, really)."""
        from microfactory.services.audit import AuditLog
        from microfactory.store.auth_sql import SqlAuditStore

        return AuditLog(SqlAuditStore(self.engine), clock or SystemClock())

    def shop_clock(self) -> Clock:
        """The shop's "now": the end of a finished simulated run on a demo database (its
        data lives in simulated time), else the wall clock."""
        from datetime import timedelta

        from microfactory.core.clock import FixedClock
        from microfactory.store.execution_sql import SqlExecutionStore

        latest = SqlExecutionStore(self.engine).latest_run()
        if latest is None:
            return SystemClock()
        _, _, start, days, _ = latest
        return FixedClock(start + timedelta(days=days))

    def telemetry(self) -> SqlTelemetryStore:
        from microfactory.store.telemetry_tables import SqlTelemetryStore

        return SqlTelemetryStore(self.engine)

    def materials(self) -> StockAvailability:
        """When material is there for work (the planner's and capable-to-promise's port)."""
        from microfactory.services.purchasing import StockAvailability

        return StockAvailability(self.uow)

    def planning(
        self,
        settings: PlanningSettings | None = None,
        clock: Clock | None = None,
        listeners: Sequence[Callable[[PlanVersion], None]] = (),
    ) -> PlanningService:
        """The planning service; held quotes' capacity is kept free in every plan, and it
        plans under the database's planning lock (one plan at a time across processes)."""
        from microfactory.services.planning import PlanningService
        from microfactory.services.purchasing import StockAvailability
        from microfactory.services.quoting import HeldQuotes
        from microfactory.store.locks import PLANNING_LOCK, DatabaseLock
        from microfactory.store.quoting_tables import SqlQuoteStore

        return PlanningService(
            self.uow,
            clock or SystemClock(),
            settings,
            holds=HeldQuotes(SqlQuoteStore(self.engine)),
            materials=StockAvailability(self.uow),
            listeners=listeners,
            lock=DatabaseLock(self.engine, PLANNING_LOCK),
        )

    def quotes(
        self, clock: Clock | None = None, *, max_upload_bytes: int | None = None
    ) -> QuoteService:
        from microfactory.quoting.intake import IntakeLimits
        from microfactory.services.planning import PlanningSettings
        from microfactory.services.quoting import QuoteService, QuotingSettings
        from microfactory.store.model_file_tables import SqlModelStore
        from microfactory.store.quoting_tables import SqlQuoteStore

        clock = clock or SystemClock()
        limit = max_upload_bytes or self.settings.max_upload_bytes
        # with e-mail configured, pressing Send queues the customer's "your quote" mail
        on_sent = self.notifications(clock).quote_sent if self.settings.smtp_host else None
        return QuoteService(
            self.uow,
            SqlQuoteStore(self.engine),
            clock,
            plans=self.planning(PlanningSettings(time_limit=5.0, workers=1), clock),
            models=SqlModelStore(self.engine),
            materials=self.materials(),
            settings=QuotingSettings(
                hold_hours=self.settings.quote_hold_hours,
                limits=IntakeLimits(max_file_bytes=limit),
            ),
            on_sent=on_sent,
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
        """The event reactor with every area's handler: execution, materials (consumption),
        TPM, replanning triggers, SPC and (given a predictor) predictive maintenance."""
        from microfactory.services.consumption import MaterialsHandler
        from microfactory.services.execution import ExecutionHandler
        from microfactory.services.maintenance import FailurePredictor, PredictiveHandler
        from microfactory.services.quality import QualityHandler
        from microfactory.services.reactor import EventHandler, Reactor
        from microfactory.services.replanning import ReplanHandler
        from microfactory.services.tpm import TpmHandler

        handlers: list[EventHandler] = [
            ExecutionHandler(factory),
            MaterialsHandler(factory),
            TpmHandler(factory, enabled=preventive, start=tpm_start),
            ReplanHandler(factory),
            QualityHandler(factory),
        ]
        if predictor is not None:
            assert isinstance(predictor, FailurePredictor)
            handlers.append(PredictiveHandler(factory, predictor, every_hours=predict_hours))
        if self.settings.smtp_host:  # notices follow the event path (queued, not sent here)
            listeners = [*listeners, self.notifications().listener()]
        return Reactor(self.uow, handlers, settings, listeners)

    def stations(
        self, factory: Factory, clock: Clock | None = None, *, background: bool = False
    ) -> StationService:
        """What people record at a station, on the event path (stored, then applied): by
        the caller's thread, or (`background`, the server) by a `BackgroundApplier` that
        applies the events of concurrent requests in one batch."""
        from microfactory.services.reactor import BackgroundApplier
        from microfactory.services.stations import StationService

        clock = clock or SystemClock()
        reactor = self.reactor(factory)
        planning = self.planning(clock=clock)
        applier = BackgroundApplier(reactor, planning.serve_requests) if background else None
        return StationService(
            self.uow, self.telemetry(), reactor, planning, factory, clock, applier=applier
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
            materials=self.materials(),
        )


def read_factory_file(path: str | Path) -> Factory:
    """Parse and validate a factory YAML file (ValidationError naming the file, the field and
    the reason)."""
    from microfactory.orders.factory_file import load_factory

    return load_factory(path)


def memory_bus() -> Bus:
    """The embedded default shop-floor bus (in-process, synchronous)."""
    from microfactory.connect.bus import InProcessBus

    return InProcessBus()


def mqtt_bus(host: str, port: int, client_id: str, *, session_expiry_s: int | None = None) -> Bus:
    """The shop-floor bus over an MQTT broker (QoS 1, persistent session)."""
    from microfactory.connect.mqtt import MqttBus, MqttSettings

    settings = MqttSettings(host=host, port=port, client_id=client_id)
    if session_expiry_s is not None:
        settings = MqttSettings(
            host=host, port=port, client_id=client_id, session_expiry_s=session_expiry_s
        )
    return MqttBus(settings)


def opcua_bus(endpoint: str, site: str, area: str, root: str, first_seq: dict[str, int]) -> Bus:
    """OPC UA machines as a shop-floor bus (subscriptions turned into events)."""
    from microfactory.connect.opcua import OpcUaBus, OpcUaSettings

    return OpcUaBus(
        OpcUaSettings(endpoint=endpoint, site=site, area=area, root=root, first_seq=first_seq)
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
