"""Composition root of the web interface: build the API context (auth and audit stores,
dashboard read models, the other areas' services when installed) from a bootstrap
`Container`, and the ASGI app over it. This module wires concrete adapters on purpose, like
`bootstrap.py`; routes only ever see the services."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi import FastAPI

from microfactory.api.app import create_app
from microfactory.api.context import ApiContext
from microfactory.bootstrap import Container
from microfactory.core.clock import Clock, SystemClock
from microfactory.services.audit import AuditLog
from microfactory.services.auth import AuthService
from microfactory.services.dashboard import DashboardService, Providers
from microfactory.store.auth_sql import SqlAuditStore, SqlAuthStore


def build_context(
    container: Container, clock: Clock | None = None, hasher: PasswordHasher | None = None
) -> ApiContext:
    clock = clock or SystemClock()
    auth = AuthService(SqlAuthStore(container.engine), clock, hasher=hasher)
    audit = AuditLog(SqlAuditStore(container.engine), clock)
    providers = Providers()
    ctx = ApiContext(
        uow=container.uow,
        auth=auth,
        audit=audit,
        clock=clock,
        site=container.settings.site,
        secure_cookies=False,
    )
    ctx.extras["dashboard"] = DashboardService(container.uow, clock, providers)
    ctx.extras["providers"] = providers
    return ctx


def build_app(
    container: Container, clock: Clock | None = None, hasher: PasswordHasher | None = None
) -> FastAPI:
    from microfactory.web.pages import (
        LoginRequired,
        html_error,
        login_required_handler,
    )
    from microfactory.web.pages import router as pages_router

    ctx = build_context(container, clock, hasher)
    app = create_app(ctx, extra_routers=[("", pages_router)])
    app.state.html_error = html_error
    app.add_exception_handler(LoginRequired, login_required_handler)
    return app
