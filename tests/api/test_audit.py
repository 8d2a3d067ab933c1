"""Every state-changing call leaves an audit record: who, what, when, outcome."""

from __future__ import annotations

from microfactory.access import Role
from microfactory.api.middleware import STATE_CHANGING

from .support import NOW, Env, fill_path, order_body, protected_routes


def test_every_state_changing_route_writes_one_audit_record(sqlite_env: Env) -> None:
    audit = sqlite_env.ctx.audit
    routes = [(m, p) for m, p, _ in protected_routes(sqlite_env.app) if m in STATE_CHANGING] + [
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
    ]
    assert len(routes) > 8
    for role in (Role.ADMIN, Role.VIEWER):
        for method, path in routes:
            before = audit.count()
            r = sqlite_env.as_role(role).request(method, fill_path(path), json={})
            assert audit.count() == before + 1, (method, path)
            record = audit.find(limit=1)[0]
            assert record.action == f"{method} {fill_path(path)}"
            assert record.outcome == r.status_code
            assert record.at == NOW
            if not path.startswith("/api/v1/auth/"):
                assert record.actor == role.value
                assert record.role == role.value


def test_audit_names_the_created_order(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.PLANNER).post("/api/v1/orders", json=order_body())
    record = sqlite_env.ctx.audit.find(limit=1)[0]
    assert record.detail == f"order {r.json()['id']}"
    assert (record.actor, record.outcome) == ("planner", 201)


def test_failed_login_is_audited_with_the_attempted_name(sqlite_env: Env) -> None:
    sqlite_env.client().post(
        "/api/v1/auth/login", json={"username": "Mallory", "password": "guess-guess"}
    )
    record = sqlite_env.ctx.audit.find(limit=1)[0]
    assert (record.actor, record.outcome) == ("mallory", 401)


def test_reads_are_not_audited(sqlite_env: Env) -> None:
    before = sqlite_env.ctx.audit.count()
    sqlite_env.as_role(Role.VIEWER).get("/api/v1/orders")
    assert sqlite_env.ctx.audit.count() == before


def test_only_admins_read_the_audit_log(sqlite_env: Env) -> None:
    sqlite_env.as_role(Role.PLANNER).post("/api/v1/orders", json=order_body())
    assert sqlite_env.as_role(Role.PLANNER).get("/api/v1/audit").status_code == 403
    page = sqlite_env.as_role(Role.ADMIN).get("/api/v1/audit").json()
    assert page["total"] >= 1
    assert page["items"][0]["actor"] == "planner"
