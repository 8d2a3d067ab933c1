"""Composition root of the web interface: build the API context (auth, audit, dashboard read
models, and the other areas' services) from a bootstrap `Container`, and the ASGI app over
it. This module wires concrete adapters on purpose, like `bootstrap.py`; routes only ever see
services."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI

from microfactory.api.app import create_app
from microfactory.api.clients import parse_networks
from microfactory.api.context import ApiContext
from microfactory.api.routes import quoting as quote_routes
from microfactory.api.startup import serving_lifespan
from microfactory.bootstrap import Container
from microfactory.core.clock import Clock, FixedClock, SystemClock
from microfactory.orders import Factory
from microfactory.services.alerts import (
    AlertService,
    maintenance_alert_source,
    quality_alert_source,
    rejection_alert_source,
    stock_alert_source,
)
from microfactory.services.audit import AuditLog
from microfactory.services.auth import AuthService, LoginGuard
from microfactory.services.dashboard import DashboardService, Providers, TtlCache
from microfactory.services.dashboard_views import MachineViews, statuses_provider
from microfactory.services.maintenance_work import MaintenanceWork
from microfactory.services.planning import PlanningSettings
from microfactory.services.printfarm_desk import PrinterDesk
from microfactory.services.stations import StationService
from microfactory.store.auth_sql import (
    SqlAlertAckStore,
    SqlAuditStore,
    SqlAuthStore,
    SqlLoginAttempts,
)
from microfactory.store.dashboard_sql import SqlDashboardQueries
from microfactory.store.execution_sql import SqlExecutionStore
from microfactory.store.network_tables import SqlHubStore
from microfactory.store.planning_sql import SqlPlanStore
from microfactory.store.printfarm_tables import SqlPrintFarmStore
from microfactory.store.quality_store import SqlQualityStore
from microfactory.store.telemetry_tables import SqlTelemetryStore


class TelemetryClock:
    """The wall clock, unless the machines report from another time — a simulation running
    live (`demo --serve --live`) — then the newest event any machine reported. Re-read at
    most every two seconds."""

    def __init__(self, telemetry: SqlTelemetryStore, wall: Clock | None = None) -> None:
        self.telemetry = telemetry
        self.wall = wall or SystemClock()
        self._newest: datetime | None = None
        self._read = -1e9

    def now(self) -> datetime:
        wall = self.wall.now()
        if time.monotonic() - self._read > 2.0:
            seen = [s.last_event for s in self.telemetry.machine_statuses() if s.last_event]
            self._newest = max(seen) if seen else None
            self._read = time.monotonic()
        if self._newest is not None and abs(wall - self._newest) > timedelta(days=1):
            return self._newest
        return wall


def run_clock(container: Container) -> Clock:
    """A database written by a finished simulated run (`microfactory demo`) is shown as of
    the end of that run, so 'today', 'late' and 'now' mean the simulated day; otherwise the
    wall clock, or the simulation's time while one runs live."""
    latest = SqlExecutionStore(container.engine).latest_run()
    if latest is not None:
        _, _, start, days, _ = latest
        return FixedClock(start + timedelta(days=days))
    return TelemetryClock(SqlTelemetryStore(container.engine))


def _network_link(url: str | None) -> Callable[[], Any] | None:
    """A new NATS link to the hub's cluster for a network quote, when one is configured."""
    if not url:
        return None

    def link() -> Any:
        from microfactory.connect.nats import NatsLink

        return NatsLink(url, name="microfactory-api")

    return link


def build_context(
    container: Container,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    *,
    auth_clock: Clock | None = None,
) -> ApiContext:
    """`clock` is the shop's clock (a finished demo run's simulated day, see `run_clock`);
    logins, sessions, the login backoff and the audit log always run on `auth_clock`, the
    wall clock unless a test passes its own."""
    engine = container.engine
    clock = clock or run_clock(container)
    auth_clock = auth_clock or SystemClock()
    cache = TtlCache(15.0)
    telemetry = SqlTelemetryStore(engine)
    queries = SqlDashboardQueries(engine)
    views = MachineViews(container.uow, clock, telemetry, queries, cache, TtlCache(120.0))
    alerts = AlertService(
        SqlAlertAckStore(engine),
        clock,
        [
            lambda: cache.get("quality-alerts", quality_alert_source(SqlQualityStore(engine))),
            lambda: cache.get(
                "maintenance-alerts", maintenance_alert_source(queries.maintenance_orders)
            ),
            lambda: cache.get("event-alerts", rejection_alert_source(container.uow)),
            lambda: cache.get("stock-alerts", stock_alert_source(container.uow)),
        ],
    )
    providers = Providers(
        states=statuses_provider(telemetry),
        oee=views.oee,
        alert_counters=[alerts.open_count],
    )
    planning = container.planning(PlanningSettings(time_limit=5.0, workers=1), clock)
    quotes = container.quotes(clock)
    with container.uow() as tx:
        factory = tx.factory.current()
    ctx = ApiContext(
        uow=container.uow,
        auth=AuthService(
            SqlAuthStore(engine),
            auth_clock,
            hasher=hasher,
            guard=LoginGuard(SqlLoginAttempts(engine), auth_clock),
        ),
        audit=AuditLog(SqlAuditStore(engine), auth_clock, background=True),
        clock=clock,
        cookie_secure=container.settings.cookie_secure,
        trusted_proxies=parse_networks(container.settings.trusted_proxies),
        dashboard=DashboardService(container.uow, clock, providers, TtlCache(3.0), linked=[cache]),
        machine_views=views,
        alerts=alerts,
        cache=cache,
        quality=SqlQualityStore(engine),
        planning=planning,
        quotes=quotes,
        stations=None
        if factory is None
        else container.stations(factory, auth_clock, background=True),
        site=container.settings.site,
        timezone="UTC" if factory is None else factory.site.timezone,
        locale="en" if factory is None else factory.site.locale,
        network_hub=SqlHubStore(engine),
        network_link=_network_link(container.settings.nats_url),
    )
    if factory is not None and ctx.stations is not None:
        ctx.printers, ctx.maintenance_work = shop_desks(container, factory, ctx.stations)
    ctx.documents = container.documents()
    ctx.exports = container.exports(clock)
    ctx.notifications = container.notifications(clock)
    ctx.body_limits["/api/v1/network/quote"] = quote_routes.upload_limit(quotes)
    ctx.body_limits[quote_routes.UPLOAD_PATH] = quote_routes.upload_limit(quotes)
    container.on_close(ctx.close)
    return ctx


def shop_desks(
    container: Container, factory: Factory, stations: StationService
) -> tuple[PrinterDesk, MaintenanceWork]:
    """The station terminal's desks: the print farm's printers (those with a host) and the
    maintenance work orders."""
    printers = {m.id: m for m in factory.machines if m.host is not None}
    desk = PrinterDesk(
        SqlPrintFarmStore(container.engine),
        SqlPlanStore(container.engine),
        stations.clock,
        factory,
        printers,
    )
    return desk, MaintenanceWork(container.uow, stations)


def build_app(
    container: Container,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    *,
    auth_clock: Clock | None = None,
) -> FastAPI:
    from microfactory.api.routes import materials, network, pins, plans_people, quality, shopfloor
    from microfactory.api.routes import stations as station_routes
    from microfactory.web.capacity_page import router as capacity_page_router
    from microfactory.web.documents_pages import router as documents_pages_router
    from microfactory.web.exports_pages import router as exports_pages_router
    from microfactory.web.masterdata_pages import router as masterdata_pages_router
    from microfactory.web.materials_pages import router as materials_pages_router
    from microfactory.web.network_page import router as network_page_router
    from microfactory.web.notifications_page import router as notifications_page_router
    from microfactory.web.pages import LoginRequired, html_error, login_required_handler
    from microfactory.web.pages import router as pages_router
    from microfactory.web.quote_pages import UPLOAD_PAGE_PATH
    from microfactory.web.quote_pages import router as quote_pages_router
    from microfactory.web.schedule_people import router as schedule_people_router
    from microfactory.web.schedule_pins import router as schedule_pins_router
    from microfactory.web.staff_pages import router as staff_pages_router
    from microfactory.web.station_pages import router as station_pages_router
    from microfactory.web.station_pages import terminal as station_terminal_router
    from microfactory.web.warm import warm_pages

    ctx = build_context(container, clock, hasher, auth_clock=auth_clock)
    app = create_app(
        ctx,
        leading_routers=[("", station_terminal_router)],  # the busiest pages (its docstring)
        extra_routers=[
            ("/api/v1", pins.router),  # before shopfloor: /plans/pins, not /plans/{version}
            ("/api/v1", plans_people.router),
            ("/api/v1", shopfloor.router),
            ("/api/v1", quality.router),
            ("/api/v1", materials.router),
            ("/api/v1", quote_routes.router),
            ("/api/v1", network.router),
            ("/api/v1", station_routes.router),
            ("", staff_pages_router),  # before pages: `/orders/new` ahead of `/orders/{id}`
            ("", pages_router),
            ("", schedule_pins_router),
            ("", schedule_people_router),
            ("", materials_pages_router),
            ("", network_page_router),
            ("", station_pages_router),
            ("", documents_pages_router),
            ("", exports_pages_router),
            ("", notifications_page_router),
            ("", quote_pages_router),
            ("", masterdata_pages_router),
            ("", capacity_page_router),
        ],
    )
    ctx.body_limits[UPLOAD_PAGE_PATH] = quote_routes.upload_limit(ctx.quotes)
    app.state.html_error = html_error
    app.add_exception_handler(LoginRequired, login_required_handler)
    app.router.lifespan_context = serving_lifespan(
        app.router.lifespan_context, lambda: warm_pages(ctx), ctx.close
    )
    return app
