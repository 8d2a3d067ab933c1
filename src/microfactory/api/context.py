"""What the API and dashboard need, wired once by the composition root (`composition.py`):
typed services, never looked up by name."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from microfactory.api.clients import CookieSecure, Network
from microfactory.core.clock import Clock
from microfactory.services.alerts import AlertService
from microfactory.services.audit import AuditLog
from microfactory.services.auth import AuthService
from microfactory.services.dashboard import DashboardService, TtlCache
from microfactory.services.dashboard_views import MachineViews
from microfactory.services.documents import DocumentService
from microfactory.services.exports import ExportService
from microfactory.services.maintenance_work import MaintenanceWork
from microfactory.services.network import NetworkHub
from microfactory.services.notifications import NotificationService
from microfactory.services.planning import PlanningService
from microfactory.services.ports import QualityStore, UnitOfWorkFactory
from microfactory.services.printfarm_desk import PrinterDesk
from microfactory.services.quoting import QuoteService
from microfactory.services.stations import StationService


@dataclass
class ApiContext:
    uow: UnitOfWorkFactory
    auth: AuthService
    audit: AuditLog
    clock: Clock
    dashboard: DashboardService
    machine_views: MachineViews
    alerts: AlertService
    cache: TtlCache
    quality: QualityStore
    planning: PlanningService
    quotes: QuoteService
    stations: StationService | None = None
    """None until a factory is loaded (operators record work against its machines)."""
    site: str = "demo"
    timezone: str = "UTC"
    """The site's IANA time zone: every page shows local time (storage and the API: UTC)."""
    locale: str = "en"
    """The site's locale (factory file `site.locale`): how pages write dates and times."""
    max_body_bytes: int = 1_000_000
    body_limits: dict[str, int] = field(default_factory=dict)
    """Larger body limits for exact paths (the model upload)."""
    cookie_secure: CookieSecure = "auto"
    """Secure flag on cookies: "auto" (when the request came over HTTPS), "always", "never"."""
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose X-Forwarded-For / X-Forwarded-Proto headers are believed."""
    sse_interval_s: float = 2.0
    replan_lock: threading.Lock = field(default_factory=threading.Lock)
    """One replan at a time from the web (a plan takes seconds)."""
    network_hub: NetworkHub | None = None
    """The hub's fleet view and routes (`microfactory serve --db HUB_URL`)."""
    network_link: Callable[[], Any] | None = None
    """Makes a NATS link to the hub's cluster for network quotes (MICROFACTORY_NATS_URL)."""
    printers: PrinterDesk | None = None
    """The print farm's printers (plate, spool, live status); None without a factory."""
    maintenance_work: MaintenanceWork | None = None
    """Start and close maintenance work orders at the machine; None without a factory."""
    documents: DocumentService | None = None
    """Travellers, labels, certificates and packing slips (PDF and print pages)."""
    exports: ExportService | None = None
    """CSV / Excel downloads of orders, the plan, OEE, SPC data and stock."""
    notifications: NotificationService | None = None
    """E-mail notifications: users' settings (delivery runs outside requests)."""

    def close(self, timeout: float = 10.0) -> None:
        """Shutdown: end the threads that work off the request (the station applier and
        its replans, the audit writer, the caches' background refreshes) and store what
        the audit writer still holds. Called before the database is closed: a thread that
        went on after it would open a connection that nobody closes."""
        if self.stations is not None and self.stations.applier is not None:
            self.stations.applier.close(timeout)
        self.audit.close()
        self.dashboard.close(timeout)
        self.machine_views.cache.close(timeout)
        self.machine_views.slow_cache.close(timeout)
        self.cache.close(timeout)
