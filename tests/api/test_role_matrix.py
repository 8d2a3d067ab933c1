"""Every endpoint × every role: allowed (anything but 401/403) or 403; 401 without credentials.
Routes are discovered from the app, so a new endpoint is covered the moment it exists."""

from __future__ import annotations

import pytest

from microfactory.access import ROLE_PERMISSIONS, Role
from microfactory.api.middleware import STATE_CHANGING

from .support import Env, api_routes, fill_path, protected_routes

UNPROTECTED = {
    ("POST", "/api/v1/auth/login"),  # how one gets credentials
    ("POST", "/api/v1/auth/logout"),  # ends whatever session there is
    ("GET", "/api/v1/track/{token}"),  # the customer's tracking link: the token is the key
}


def call(env: Env, role: Role | None, method: str, path: str) -> int:
    client = env.client() if role is None else env.as_role(role)
    body = {} if method in STATE_CHANGING else None
    return client.request(method, fill_path(path), json=body).status_code


def test_every_api_route_checks_a_permission(sqlite_env: Env) -> None:
    checked = {(m, p) for m, p, _ in protected_routes(sqlite_env.app)}
    api = [(m, p) for p, ms, _ in api_routes(sqlite_env.app) for m in ms if p.startswith("/api/")]
    assert len(api) > 20
    for method, path in api:
        assert (method, path) in checked | UNPROTECTED, (method, path)


def test_without_credentials_every_protected_route_is_401(sqlite_env: Env) -> None:
    for method, path, _ in protected_routes(sqlite_env.app):
        if path.startswith("/api/"):
            assert call(sqlite_env, None, method, path) == 401, (method, path)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(sqlite_env: Env, role: Role) -> None:
    for method, path, permission in protected_routes(sqlite_env.app):
        status = call(sqlite_env, role, method, path)
        if permission in ROLE_PERMISSIONS[role]:
            assert status not in (401, 403), (role, method, path, status)
        else:
            assert status == 403, (role, method, path, status)
