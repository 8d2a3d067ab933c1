"""API test support: the real app over a fresh database (SQLite and PostgreSQL through
`db_url`), one user and API token per role, and a synchronous client that drives the ASGI
app in-process through httpx (no server, no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from argon2 import PasswordHasher
from fastapi import FastAPI

from microfactory.access import Role
from microfactory.api.composition import build_app
from microfactory.api.context import ApiContext
from microfactory.bootstrap import DEMO_FACTORY, Container, bootstrap
from microfactory.core.clock import FixedClock
from microfactory.services.factory import init_factory

NOW = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
# Cheap argon2 parameters keep the tests fast; production uses argon2-cffi's defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class Client:
    """A synchronous facade over httpx.AsyncClient + ASGITransport, run in a portal."""

    def __init__(self, portal: BlockingPortal, app: FastAPI) -> None:
        self.portal = portal
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
            base_url="http://testserver",
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.http.aclose)


@dataclass
class Env:
    app: FastAPI
    container: Container
    clock: FixedClock
    tokens: dict[Role, str]
    stack: ExitStack
    portal: BlockingPortal

    @property
    def ctx(self) -> ApiContext:
        ctx: ApiContext = self.app.state.ctx
        return ctx

    def client(self, token: str | None = None) -> Client:
        c = Client(self.portal, self.app)
        if token:
            c.http.headers["Authorization"] = f"Bearer {token}"
        self.stack.callback(c.close)
        return c

    def as_role(self, role: Role) -> Client:
        return self.client(self.tokens[role])

    def login(self, role: Role = Role.ADMIN) -> tuple[Client, str]:
        c = self.client()
        r = c.post("/api/v1/auth/login", json={"username": role.value, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return c, str(r.json()["csrf_token"])


def seed(url: str) -> dict[Role, str]:
    """Migrate, load the demo factory, and make one user and API token per role."""
    container = bootstrap(db_url=url)
    try:
        init_factory(container.uow, DEMO_FACTORY, FixedClock(NOW))
        ctx: ApiContext = build_app(
            container, FixedClock(NOW), FAST_HASHER, auth_clock=FixedClock(NOW)
        ).state.ctx
        tokens: dict[Role, str] = {}
        for role in Role:
            ctx.auth.add_user(role.value, PASSWORD, role)
            tokens[role], _ = ctx.auth.issue_token(role.value, f"{role.value} test token")
        return tokens
    finally:
        container.close()


def make_env(url: str, tokens: dict[Role, str] | None = None) -> Iterator[Env]:
    """The app over `url`; seeds it unless `tokens` says it was seeded already (a copy of
    the seeded SQLite template)."""
    if tokens is None:
        tokens = seed(url)
    container = bootstrap(db_url=url, migrate=False)
    clock = FixedClock(NOW)
    app = build_app(container, clock, FAST_HASHER, auth_clock=clock)
    with ExitStack() as stack, start_blocking_portal() as portal:
        env = Env(app, container, clock, tokens, stack, portal)
        try:
            yield env
        finally:
            stack.close()
            container.close()


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": "acme",
        "lines": [{"product": "bracket", "quantity": 4}],
        "due": "2026-01-20T12:00:00Z",
        "priority": 3,
    }
    body.update(overrides)
    return body


def _permission_of(dependant: Any) -> Any:
    from microfactory.api.deps import Allow

    for dep in dependant.dependencies:
        if isinstance(dep.call, Allow):
            return dep.call.permission
        found = _permission_of(dep)
        if found is not None:
            return found
    return None


def protected_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path, permission) of every route that checks a permission."""
    out: list[tuple[str, str, Any]] = []
    for path, methods, dependant in api_routes(app):
        permission = _permission_of(dependant)
        if permission is None:
            continue
        for method in sorted(methods):
            out.append((method, path, permission))
    return out


def api_routes(app: FastAPI) -> list[tuple[str, set[str], Any]]:
    """(full path, methods, dependant) of every API route, through included routers."""
    from fastapi import routing

    out: list[tuple[str, set[str], Any]] = []
    for rc in routing.iter_route_contexts(app.routes):
        original = rc.original_route
        if isinstance(original, routing.APIRoute):
            out.append((str(rc.path_format), set(rc.methods or ()), original.dependant))
    return out


def fill_path(path: str) -> str:
    """Concrete values for path parameters (ids that may not exist: 404 is fine here)."""
    import re

    return re.sub(r"\{[^}]+\}", "x1", path)
