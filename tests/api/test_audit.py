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


def test_the_servers_audit_log_group_commits_every_record_in_order(sqlite_url: str) -> None:
    """Records handed to the writer thread from many request threads are all stored, each
    thread's in the order it made them, in fewer transactions than records."""
    import threading

    from sqlalchemy import event

    from microfactory.core.clock import SystemClock
    from microfactory.services.audit import AuditLog
    from microfactory.store.auth_sql import SqlAuditStore
    from microfactory.store.base import make_engine
    from microfactory.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    log = AuditLog(SqlAuditStore(engine), SystemClock(), background=True)
    assert log.background

    def user(k: int) -> None:
        for n in range(40):
            log.record(f"op{k}", "operator", f"POST /x/{k}/{n}", 200)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert log.waiting == 0
    records = list(reversed(log.find(limit=500)))
    assert len(records) == 200
    for k in range(5):
        mine = [r.action for r in records if r.actor == f"op{k}"]
        assert mine == [f"POST /x/{k}/{n}" for n in range(40)]
    assert 1 <= len(commits) < 200
    engine.dispose()


def test_a_failed_audit_write_keeps_the_records_for_the_next(sqlite_url: str) -> None:
    import time
    from collections.abc import Sequence

    from microfactory.access import AuditRecord
    from microfactory.core.clock import SystemClock
    from microfactory.services.audit import AuditLog
    from microfactory.store.auth_sql import SqlAuditStore
    from microfactory.store.base import make_engine
    from microfactory.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)

    class FailsOnce(SqlAuditStore):
        """The real store, whose first group write fails (a full disk, a lost connection)."""

        failed = False

        def append_many(self, records: Sequence[AuditRecord]) -> None:
            if not self.failed:
                self.failed = True
                raise OSError("disk full")
            super().append_many(records)

    store = FailsOnce(engine)
    log = AuditLog(store, SystemClock(), background=True)
    log.record("anna", "operator", "POST /a", 200)  # the writer's try fails: said, kept
    deadline = time.monotonic() + 10
    while not (store.failed and log.waiting == 1) and time.monotonic() < deadline:
        time.sleep(0.01)  # the failed batch is put back after the failure
    assert store.failed and log.waiting == 1
    assert [r.action for r in log.find()] == ["POST /a"]
    assert log.waiting == 0
    engine.dispose()
