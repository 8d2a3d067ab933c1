"""What the API and dashboard need, wired once by the composition root (`composition.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from microfactory.api.clients import CookieSecure, Network
from microfactory.core.clock import Clock
from microfactory.services.audit import AuditLog
from microfactory.services.auth import AuthService
from microfactory.services.ports import UnitOfWorkFactory


@dataclass
class ApiContext:
    uow: UnitOfWorkFactory
    auth: AuthService
    audit: AuditLog
    clock: Clock
    site: str = "demo"
    max_body_bytes: int = 1_000_000
    body_limits: dict[str, int] = field(default_factory=dict)
    """Larger body limits for exact paths (the model upload)."""
    cookie_secure: CookieSecure = "auto"
    """Secure flag on cookies: "auto" (when the request came over HTTPS), "always", "never"."""
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose X-Forwarded-For / X-Forwarded-Proto headers are believed."""
    sse_interval_s: float = 2.0
    extras: dict[str, Any] = field(default_factory=dict)
