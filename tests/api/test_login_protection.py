"""Login protection without lockout (issue 22): exponential backoff per account, per address
and per (account, address), which never refuses the right password from a clean address;
proxy headers believed only from trusted proxies; the failure counters shared through the
database; the real clock for logins and the audit log; Secure cookies by setting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from microfactory.access import Role
from microfactory.api.clients import parse_networks
from microfactory.api.composition import build_app
from microfactory.bootstrap import bootstrap
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ValidationError
from microfactory.services.auth import (
    LoginAttempts,
    LoginGuard,
    LoginPolicy,
    MemoryLoginAttempts,
    TooManyAttempts,
)
from microfactory.store.auth_sql import SqlLoginAttempts
from microfactory.store.execution_sql import SqlExecutionStore

from .support import FAST_HASHER, PASSWORD, Client, Env

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
LOGIN = "/api/v1/auth/login"


def client_at(env: Env, address: str, base_url: str = "http://testserver") -> Client:
    """A client whose TCP peer address is `address`."""
    c = env.client()
    c.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app, client=(address, 40000)), base_url=base_url
    )
    return c


def login(c: Client, user: str, password: str, **headers: str) -> httpx.Response:
    return c.post(LOGIN, json={"username": user, "password": password}, headers=headers)


# --- the policy over a store ------------------------------------------------------------


def test_an_attacker_on_one_address_never_locks_out_the_user_on_another(
    sqlite_env: Env,
) -> None:
    attacker = client_at(sqlite_env, "203.0.113.5")
    for _ in range(40):
        assert login(attacker, "viewer", "wrong password!").status_code in (401, 429)
    assert login(attacker, "viewer", PASSWORD).status_code == 429  # the attacker waits
    user = client_at(sqlite_env, "198.51.100.7")
    assert login(user, "viewer", PASSWORD).status_code == 200  # the user does not


def test_the_wait_doubles_with_each_failure_past_the_allowance() -> None:
    clock = FixedClock(T0)
    guard = LoginGuard(MemoryLoginAttempts(), clock, LoginPolicy(pair_free=3))
    waits = []
    for _ in range(8):
        try:
            guard.check("alice", "192.0.2.1")
        except TooManyAttempts as exc:
            waits.append(exc.retry_after)
            clock.advance(timedelta(seconds=exc.retry_after))
            guard.check("alice", "192.0.2.1")
        guard.failed("alice", "192.0.2.1")
    assert waits == [1, 2, 4, 8, 16]


def test_the_wait_is_capped_and_forgotten_after_an_idle_hour() -> None:
    clock = FixedClock(T0)
    policy = LoginPolicy(pair_free=1, max_delay=timedelta(minutes=15))
    guard = LoginGuard(MemoryLoginAttempts(), clock, policy)
    for _ in range(60):
        guard.failed("alice", "192.0.2.1")
    with pytest.raises(TooManyAttempts) as caught:
        guard.check("alice", "192.0.2.1")
    assert caught.value.retry_after == 15 * 60
    clock.advance(timedelta(hours=1, seconds=1))
    guard.check("alice", "192.0.2.1")


def test_one_address_guessing_many_accounts_waits_on_its_own_counter() -> None:
    clock = FixedClock(T0)
    guard = LoginGuard(MemoryLoginAttempts(), clock, LoginPolicy(address_free=10))
    for n in range(10):
        guard.check(f"user{n}", "192.0.2.9")
        guard.failed(f"user{n}", "192.0.2.9")
    with pytest.raises(TooManyAttempts):
        guard.check("someone-else", "192.0.2.9")
    guard.check("someone-else", "192.0.2.10")  # other addresses are not affected


def test_a_distributed_attack_slows_unclean_addresses_but_not_a_clean_one() -> None:
    clock = FixedClock(T0)
    policy = LoginPolicy(account_free=5, clean_failures=3)
    guard = LoginGuard(MemoryLoginAttempts(), clock, policy)
    for bot in range(10):  # ten addresses, three guesses each
        for _ in range(3):
            guard.check("alice", f"10.0.0.{bot}")
            guard.failed("alice", f"10.0.0.{bot}")
    with pytest.raises(TooManyAttempts):
        guard.check("alice", "10.0.0.1")  # an address that failed: the account's backoff
    guard.check("alice", "192.0.2.50")  # a clean address is never refused


def test_success_forgives_the_users_own_typos_but_not_the_accounts_counter() -> None:
    clock = FixedClock(T0)
    attempts = MemoryLoginAttempts()
    guard = LoginGuard(attempts, clock)
    for _ in range(4):
        guard.failed("alice", "192.0.2.1")
    guard.succeeded("alice", "192.0.2.1")
    keys = LoginGuard.keys("alice", "192.0.2.1")
    found = attempts.failures(keys, T0 - timedelta(hours=1))
    assert set(found) == {keys[0], keys[1]}  # the pair is cleared


# --- the store port: one contract, two implementations ----------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def attempts(request: pytest.FixtureRequest) -> Iterator[LoginAttempts]:
    if request.param == "memory":
        yield MemoryLoginAttempts()
        return
    url = request.getfixturevalue(
        "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    )
    container = bootstrap(db_url=url)
    try:
        yield SqlLoginAttempts(container.engine)
    finally:
        container.close()


def test_login_attempts_contract(attempts: LoginAttempts) -> None:
    hour_ago = T0 - timedelta(hours=1)
    assert attempts.failures(["a", "b"], hour_ago) == {}
    attempts.record_failure(["a", "b"], T0, hour_ago)
    attempts.record_failure(["a"], T0 + timedelta(seconds=5), hour_ago)
    assert attempts.failures(["a", "b", "c"], hour_ago) == {
        "a": (2, T0 + timedelta(seconds=5)),
        "b": (1, T0),
    }
    # a counter idle past the reset restarts at 1; older ones count as none
    later = T0 + timedelta(hours=2)
    attempts.record_failure(["a"], later, later - timedelta(hours=1))
    assert attempts.failures(["a", "b"], later - timedelta(hours=1)) == {"a": (1, later)}
    attempts.clear(["a"])
    assert attempts.failures(["a"], hour_ago) == {}


def test_two_server_processes_share_the_counters(sqlite_env: Env) -> None:
    """A second app over the same database (another worker) sees the first one's failures."""
    attacker = client_at(sqlite_env, "203.0.113.5")
    for _ in range(10):
        login(attacker, "viewer", "wrong password!")
    other = bootstrap(db_url=str(sqlite_env.container.engine.url), migrate=False)
    try:
        app = build_app(other, sqlite_env.clock, FAST_HASHER, auth_clock=sqlite_env.clock)
        second = sqlite_env.client()
        second.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.5", 1)),
            base_url="http://testserver",
        )
        assert login(second, "viewer", PASSWORD).status_code == 429
    finally:
        other.close()


# --- proxies -----------------------------------------------------------------------------


def test_forwarded_for_is_ignored_from_an_untrusted_peer(sqlite_env: Env) -> None:
    attacker = client_at(sqlite_env, "203.0.113.5")
    for n in range(30):  # a new made-up address in every request
        login(attacker, "viewer", "wrong password!", **{"X-Forwarded-For": f"10.9.{n}.1"})
    r = login(attacker, "viewer", PASSWORD, **{"X-Forwarded-For": "10.200.0.1"})
    assert r.status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_backoff(sqlite_env: Env) -> None:
    sqlite_env.ctx.trusted_proxies = parse_networks("127.0.0.1, 10.0.0.0/8")
    proxy = client_at(sqlite_env, "127.0.0.1")
    attacker = {"X-Forwarded-For": "203.0.113.5"}
    for _ in range(40):
        login(proxy, "viewer", "wrong password!", **attacker)
    assert login(proxy, "viewer", PASSWORD, **attacker).status_code == 429
    # the client adds a fake first hop; the proxies (10.1.2.3, then 127.0.0.1) append
    user = {"X-Forwarded-For": "203.0.113.5, 198.51.100.7, 10.1.2.3"}
    assert login(proxy, "viewer", PASSWORD, **user).status_code == 200


def test_a_bad_trusted_proxies_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="not an IP address"):
        parse_networks("10.0.0.1, proxy.local")


# --- Secure cookies ------------------------------------------------------------------------


def _session_cookie(r: httpx.Response) -> str:
    return next(v for v in r.headers.get_list("set-cookie") if v.startswith("mf_session="))


def test_cookie_is_not_secure_over_plain_http(sqlite_env: Env) -> None:
    r = login(client_at(sqlite_env, "192.0.2.1"), "viewer", PASSWORD)
    assert "secure" not in _session_cookie(r).lower()


def test_cookie_is_secure_over_https(sqlite_env: Env) -> None:
    c = client_at(sqlite_env, "192.0.2.1", base_url="https://testserver")
    assert "secure" in _session_cookie(login(c, "viewer", PASSWORD)).lower()


def test_cookie_is_secure_when_a_trusted_proxy_says_https(sqlite_env: Env) -> None:
    sqlite_env.ctx.trusted_proxies = parse_networks("127.0.0.1")
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"}
    r = login(client_at(sqlite_env, "127.0.0.1"), "viewer", PASSWORD, **https)
    assert "secure" in _session_cookie(r).lower()
    r = login(client_at(sqlite_env, "192.0.2.8"), "viewer", PASSWORD, **https)
    assert "secure" not in _session_cookie(r).lower()  # an untrusted peer's word is not enough


def test_cookie_secure_always_by_setting(sqlite_env: Env) -> None:
    sqlite_env.ctx.cookie_secure = "always"
    r = login(client_at(sqlite_env, "192.0.2.1"), "viewer", PASSWORD)
    assert "secure" in _session_cookie(r).lower()


# --- the real clock --------------------------------------------------------------------------


def test_logins_and_audit_use_the_wall_clock_on_a_simulated_database(sqlite_url: str) -> None:
    from .support import seed

    seed(sqlite_url)
    container = bootstrap(db_url=sqlite_url, migrate=False)
    try:
        start = datetime(2020, 3, 2, tzinfo=UTC)
        SqlExecutionStore(container.engine).save_run(0, 7.0, start, "memory", {})
        app = build_app(container, hasher=FAST_HASHER)  # the clocks `serve` uses
        ctx = app.state.ctx
        assert ctx.clock.now() == start + timedelta(days=7)  # the shop's simulated day
        wall = datetime.now(UTC)
        assert abs(ctx.auth.clock.now() - wall) < timedelta(minutes=5)
        assert abs(ctx.audit.clock.now() - wall) < timedelta(minutes=5)
        record = ctx.audit.record("viewer", "viewer", "POST /api/v1/auth/login", 401)
        assert record.at.year == wall.year
    finally:
        container.close()


def test_roles_still_log_in(sqlite_env: Env) -> None:
    for role in Role:
        assert login(client_at(sqlite_env, "192.0.2.77"), role.value, PASSWORD).status_code == 200
