"""Authentication: argon2 hashes, session cookies with CSRF, API tokens, throttling, limits."""

from __future__ import annotations

from datetime import timedelta

from microfactory.access import Role

from .support import PASSWORD, Env, order_body


def test_a_fresh_database_has_no_account_to_log_in_with(sqlite_env: Env) -> None:
    for user in sqlite_env.ctx.auth.list_users():
        assert user.username in {r.value for r in Role}  # only the ones the fixture made
    r = sqlite_env.client().post(
        "/api/v1/auth/login", json={"username": "admin", "password": "admin"}
    )
    assert r.status_code == 401


def test_passwords_are_stored_as_argon2id_hashes(sqlite_env: Env) -> None:
    stored = sqlite_env.ctx.auth.store.user_by_name("admin")
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


def test_login_sets_an_httponly_samesite_session_cookie(sqlite_env: Env) -> None:
    r = sqlite_env.client().post(
        "/api/v1/auth/login", json={"username": "planner", "password": PASSWORD}
    )
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "mf_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert r.json()["user"]["role"] == "planner"


def test_wrong_password_is_a_401_problem(sqlite_env: Env) -> None:
    r = sqlite_env.client().post(
        "/api/v1/auth/login", json={"username": "admin", "password": "not the password"}
    )
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "wrong username or password"


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(sqlite_env: Env) -> None:
    r = sqlite_env.client().post(
        "/api/v1/auth/login", json={"username": "nobody", "password": "whatever123"}
    )
    assert r.status_code == 401
    assert r.json()["detail"] == "wrong username or password"


def test_logins_are_throttled_after_five_failures(sqlite_env: Env) -> None:
    c = sqlite_env.client()
    for _ in range(5):
        r = c.post("/api/v1/auth/login", json={"username": "viewer", "password": "bad-password"})
        assert r.status_code == 401
    r = c.post("/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0


def test_throttle_lifts_when_the_window_passes(sqlite_env: Env) -> None:
    c = sqlite_env.client()
    for _ in range(5):
        c.post("/api/v1/auth/login", json={"username": "viewer", "password": "bad-password"})
    sqlite_env.clock.advance(timedelta(minutes=5, seconds=1))
    r = c.post("/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 200


def test_cookie_authenticated_change_without_csrf_token_is_refused(sqlite_env: Env) -> None:
    c, _ = sqlite_env.login(Role.PLANNER)
    r = c.post("/api/v1/orders", json=order_body())
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]


def test_cookie_authenticated_change_with_csrf_token_is_accepted(sqlite_env: Env) -> None:
    c, csrf = sqlite_env.login(Role.PLANNER)
    r = c.post("/api/v1/orders", json=order_body(), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text


def test_logout_ends_the_session(sqlite_env: Env) -> None:
    c, csrf = sqlite_env.login(Role.VIEWER)
    assert c.get("/api/v1/me").status_code == 200
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    c.http.cookies.clear()
    assert c.get("/api/v1/me").status_code == 401


def test_expired_session_is_refused(sqlite_env: Env) -> None:
    c, _ = sqlite_env.login(Role.VIEWER)
    sqlite_env.clock.advance(timedelta(hours=8, seconds=1))
    assert c.get("/api/v1/me").status_code == 401


def test_bearer_token_authenticates_with_its_users_role(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.OPERATOR).get("/api/v1/me")
    assert r.status_code == 200
    assert r.json()["role"] == "operator"


def test_revoked_token_is_refused(sqlite_env: Env) -> None:
    admin = sqlite_env.as_role(Role.ADMIN)
    issued = admin.post("/api/v1/tokens", json={"name": "gateway", "username": "operator"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert sqlite_env.client(token).get("/api/v1/me").status_code == 200
    assert admin.request("DELETE", f"/api/v1/tokens/{issued.json()['id']}").status_code == 204
    assert sqlite_env.client(token).get("/api/v1/me").status_code == 401


def test_tokens_are_stored_as_digests_only(sqlite_env: Env) -> None:
    secret = sqlite_env.tokens[Role.ADMIN]
    tokens = sqlite_env.as_role(Role.ADMIN).get("/api/v1/tokens").json()
    assert tokens
    assert all(secret not in str(t) for t in tokens)


def test_garbage_bearer_token_is_401(sqlite_env: Env) -> None:
    r = sqlite_env.client("mf_not-a-real-token").get("/api/v1/overview")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_disabled_user_loses_access(sqlite_env: Env) -> None:
    admin = sqlite_env.as_role(Role.ADMIN)
    assert admin.request("PATCH", "/api/v1/users/viewer", json={"active": False}).status_code == 200
    assert sqlite_env.as_role(Role.VIEWER).get("/api/v1/me").status_code == 401


def test_request_body_over_the_limit_is_413(sqlite_env: Env) -> None:
    sqlite_env.ctx.max_body_bytes = 1_000_000
    big = {"customer": "acme", "notes": "x" * 1_100_000}
    r = sqlite_env.as_role(Role.ADMIN).post("/api/v1/orders", json=big)
    assert r.status_code == 413


def test_responses_carry_security_headers(sqlite_env: Env) -> None:
    r = sqlite_env.client().get("/login")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_weak_password_is_refused(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.ADMIN).post(
        "/api/v1/users", json={"username": "shorty", "password": "short", "role": "viewer"}
    )
    assert r.status_code == 422


def test_unknown_role_is_refused(sqlite_env: Env) -> None:
    r = sqlite_env.as_role(Role.ADMIN).post(
        "/api/v1/users", json={"username": "eve", "password": PASSWORD, "role": "root"}
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("body.role:")
    assert "viewer" in r.json()["detail"]


def test_login_change_and_audit_on_every_store(env: Env) -> None:
    c, csrf = env.login(Role.PLANNER)
    r = c.post("/api/v1/orders", json=order_body(), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    record = env.ctx.audit.find(limit=1)[0]
    assert (record.actor, record.action, record.outcome) == ("planner", "POST /api/v1/orders", 201)
