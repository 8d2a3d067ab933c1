"""API hardening (issue 22): a chunked oversize body is 413; an anonymous upload is 401
before its body is read; hostile model uploads are 422 problems, never 500; the public
tracking JSON names no staff; the last admin stays an admin; CLI user and token changes are
in the audit log."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from microfactory.access import Role
from microfactory.bootstrap import bootstrap
from microfactory.cli.main import main
from microfactory.core.errors import Conflict
from microfactory.services.audit import AuditLog
from microfactory.services.auth import AuthService
from microfactory.store.auth_sql import SqlAuditStore, SqlAuthStore

from .support import FAST_HASHER, PASSWORD, Env
from .test_quotes import cube_stl, customer_id, upload

# --- body limits --------------------------------------------------------------------------


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * size
        sent += size


def test_a_chunked_body_over_the_limit_is_413_not_400(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    r = planner.post(
        "/api/v1/orders",
        content=_chunks(2_000_000),  # no Content-Length: Transfer-Encoding: chunked
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    record = sqlite_env.ctx.audit.find(limit=1)[0]
    assert (record.action, record.outcome) == ("POST /api/v1/orders", 413)


def test_a_chunked_body_under_the_limit_still_works(sqlite_env: Env) -> None:
    import json

    from .support import order_body

    body = json.dumps(order_body()).encode()

    async def one_chunk() -> AsyncIterator[bytes]:
        yield body

    r = sqlite_env.as_role(Role.PLANNER).post(
        "/api/v1/orders", content=one_chunk(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 201, r.text


def _raw_post(app: Any, path: str, body_chunks: int, headers: list[tuple[bytes, bytes]]) -> Any:
    """Drive the ASGI app directly and count how many body bytes it pulled."""
    chunk = b"x" * 65536
    state = {"pulled": 0, "sent": []}
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < body_chunks - 1}
        for i in range(body_chunks)
    ]

    async def receive() -> dict[str, Any]:
        if not messages:
            return {"type": "http.disconnect"}
        message = messages.pop(0)
        state["pulled"] += len(message["body"])
        return message

    async def send(message: dict[str, Any]) -> None:
        state["sent"].append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("192.0.2.1", 1234),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    return state


def test_an_anonymous_upload_is_401_before_its_body_is_read(sqlite_env: Env) -> None:
    headers = [(b"content-type", b"multipart/form-data; boundary=xyz")]
    state = _raw_post(sqlite_env.app, "/api/v1/quotes", 80, headers)  # 5 MB, chunked
    start = next(m for m in state["sent"] if m["type"] == "http.response.start")
    assert start["status"] == 401
    assert state["pulled"] == 0


def test_an_upload_with_a_bad_token_is_401_before_its_body_is_read(sqlite_env: Env) -> None:
    headers = [
        (b"content-type", b"multipart/form-data; boundary=xyz"),
        (b"authorization", b"Bearer mf_not-a-real-token"),
    ]
    state = _raw_post(sqlite_env.app, "/api/v1/quotes", 80, headers)
    assert next(m for m in state["sent"] if m["type"] == "http.response.start")["status"] == 401
    assert state["pulled"] == 0


def test_an_authenticated_upload_is_still_read(sqlite_env: Env) -> None:
    r = upload(sqlite_env.as_role(Role.PLANNER), cube_stl())
    assert r.status_code == 201, r.text


# --- hostile model uploads -------------------------------------------------------------------


HOSTILE = Path(__file__).resolve().parents[1] / "data" / "hostile"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("nested-bomb.3mf", "over the"),  # 10**9 cubes from 819 bytes
        ("corrupt-deflate.3mf", "corrupt 3MF"),
        ("broken-local-header.3mf", "corrupt 3MF"),
        ("cyclic-components.3mf", "cycle"),
        ("huge-face-index.obj", "does not exist"),  # index 10**24
    ],
)
def test_hostile_model_upload_is_a_422_problem(sqlite_env: Env, name: str, reason: str) -> None:
    r = upload(sqlite_env.as_role(Role.PLANNER), (HOSTILE / name).read_bytes(), name)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert reason in r.json()["detail"]


# --- public tracking ---------------------------------------------------------------------------


def test_public_tracking_names_no_staff_and_no_internal_ids(sqlite_env: Env) -> None:
    planner = sqlite_env.as_role(Role.PLANNER)
    quote = upload(planner, cube_stl(), customer=customer_id(sqlite_env)).json()
    accepted = planner.post(f"/api/v1/quotes/{quote['quote_id']}/accept", json={}).json()
    order_id, token = accepted["order_id"], accepted["tracking_token"]
    r = planner.post(f"/api/v1/orders/{order_id}/cancel", json={})
    assert r.status_code == 200, r.text
    staff_view = sqlite_env.as_role(Role.VIEWER).get(f"/api/v1/orders/{order_id}").json()
    assert any("planner" in (e.get("note") or "") for e in staff_view["timeline"])  # internal
    tracked = sqlite_env.client().get(f"/api/v1/track/{token}")
    assert tracked.status_code == 200
    text = tracked.text
    for role in Role:
        assert role.value not in text.replace("in_production", "")
    assert quote["quote_id"] not in text
    notes = [e["note"] for e in tracked.json()["timeline"]]
    assert notes[-1] == "cancelled"


# --- the last admin ------------------------------------------------------------------------------


def test_the_last_admin_cannot_demote_or_disable_itself(sqlite_env: Env) -> None:
    admin = sqlite_env.as_role(Role.ADMIN)
    r = admin.request("PATCH", "/api/v1/users/admin", json={"role": "viewer"})
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    r = admin.request("PATCH", "/api/v1/users/admin", json={"active": False})
    assert r.status_code == 409
    users = {u["username"]: u for u in admin.get("/api/v1/users").json()}
    assert users["admin"]["role"] == "admin" and users["admin"]["active"]


def test_an_admin_may_step_down_once_there_is_another(sqlite_env: Env) -> None:
    admin = sqlite_env.as_role(Role.ADMIN)
    assert (
        admin.request("PATCH", "/api/v1/users/planner", json={"role": "admin"}).status_code == 200
    )
    r = admin.request("PATCH", "/api/v1/users/admin", json={"role": "viewer"})
    assert r.status_code == 200, r.text
    # now `planner` is the only admin: nobody may demote it
    planner = sqlite_env.as_role(Role.PLANNER)
    r = planner.request("PATCH", "/api/v1/users/planner", json={"active": False})
    assert r.status_code == 409


def test_the_store_keeps_the_last_admin_on_every_database(migrated_db_url: str) -> None:
    container = bootstrap(db_url=migrated_db_url)
    try:
        auth = AuthService(SqlAuthStore(container.engine), _clock(), hasher=FAST_HASHER)
        auth.add_user("boss", PASSWORD, "admin")
        auth.add_user("deputy", PASSWORD, "planner")
        with pytest.raises(Conflict):
            auth.set_role("boss", "planner")
        auth.set_role("deputy", "admin")
        auth.set_role("boss", "planner")
        with pytest.raises(Conflict):
            auth.set_role("deputy", "admin", active=False)
    finally:
        container.close()


def _clock() -> Any:
    from microfactory.core.clock import SystemClock

    return SystemClock()


# --- CLI changes are audited ---------------------------------------------------------------------


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["microfactory", *args])
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, _ = capsys.readouterr()
    return code, out


def test_cli_user_and_token_changes_are_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    passphrase = "a long enough passphrase\n"
    add = ("users", "add", "alice", "--role", "planner", "--password-stdin", "--db", db)
    assert _run(monkeypatch, capsys, *add, stdin=passphrase)[0] == 0
    assert _run(monkeypatch, capsys, *add, stdin=passphrase)[0] == 4  # exists: Conflict
    passwd = ("users", "passwd", "alice", "--password-stdin", "--db", db)
    assert _run(monkeypatch, capsys, *passwd, stdin="another good passphrase\n")[0] == 0
    code, out = _run(monkeypatch, capsys, "users", "token", "alice", "--name", "ci", "--db", db)
    assert code == 0
    secret = out.strip().splitlines()[-1]
    container = bootstrap(db_url=db)
    try:
        from microfactory.core.clock import SystemClock

        records = AuditLog(SqlAuditStore(container.engine), SystemClock()).find()
    finally:
        container.close()
    got = [(r.action, r.outcome, r.role) for r in reversed(records)]
    assert got == [
        ("cli users add alice --role planner", 0, "cli"),
        ("cli users add alice --role planner", 4, "cli"),
        ("cli users passwd alice", 0, "cli"),
        ("cli users token alice", 0, "cli"),
    ]
    assert all(r.actor.startswith("cli:") for r in records)
    assert all(secret not in r.detail and "passphrase" not in r.detail for r in records)
    assert "token" in records[0].detail
