"""Use cases for who may do what: users with argon2 password hashes and one role each, API
tokens for machines and integrations, dashboard sessions with a CSRF token, login throttling,
and the role → permission table every API endpoint and page is checked against.

There is no default account: the first user is created with `microfactory users add`."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from microfactory.access import ApiToken, Permission, Role, Session, User
from microfactory.access.passwords import MIN_LENGTH, password_problem
from microfactory.core.clock import Clock
from microfactory.core.errors import MicrofactoryError, PermissionDenied, ValidationError
from microfactory.services.ports import AuthStore, LoginAttempts

SESSION_HOURS = 8.0
MIN_PASSWORD_LENGTH = MIN_LENGTH
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


class NotAuthenticated(PermissionDenied):
    """No valid credentials at all (HTTP 401), as opposed to a role that is not allowed."""


class TooManyAttempts(MicrofactoryError):
    """Login throttled (HTTP 429); `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def digest(secret: str) -> str:
    """SHA-256 of a random token: tokens have 192 bits of entropy, so a fast hash is safe."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise ValidationError(
            "username must be 2–64 lowercase letters, digits, '_', '.' or '-'", where="username"
        )
    return name


def check_password(password: str, username: str = "") -> None:
    """The password policy of `access.passwords` (length, breach list, username)."""
    problem = password_problem(password, username)
    if problem is not None:
        raise ValidationError(problem, where="password")


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {text!r} (allowed: {allowed})", where="role") from None


@dataclass(frozen=True)
class LoginPolicy:
    """Exponential backoff for failed logins, without lockout.

    Failures are counted per account, per client address, and per (account, address) pair.
    Once a key has its free failures, the next attempt it allows waits `base_delay` after the
    last failure, and each further failure doubles the wait (2×, 4×, ... up to `max_delay`);
    a key forgets its failures `reset_after` its last one.

    * An address past its allowance waits (one machine guessing many accounts).
    * A pair past its allowance waits (one machine guessing one account).
    * An account past its allowance waits only for addresses that are not clean: those with
      `clean_failures` or more recent failures of their own. A clean address is never
      refused, so an attacker failing from address A cannot lock out the user who logs in
      correctly from address B; a distributed attacker gets `clean_failures` guesses per
      address before the account's backoff applies to it."""

    account_free: int = 5
    address_free: int = 20
    pair_free: int = 5
    clean_failures: int = 3
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    reset_after: timedelta = timedelta(hours=1)

    def wait(self, failures: int, last: datetime, free: int, now: datetime) -> float:
        """Seconds until a key with `failures`, the last at `last`, allows an attempt."""
        if failures < free:
            return 0.0
        exponent = min(failures - free, 40)
        delay = min(self.base_delay * (1 << exponent), self.max_delay)
        return max(0.0, (last + delay - now).total_seconds())


class MemoryLoginAttempts:
    """The per-process implementation (tests, and a service built without a database)."""

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, datetime]] = {}
        self._lock = threading.Lock()

    def failures(self, keys: Sequence[str], since: datetime) -> dict[str, tuple[int, datetime]]:
        with self._lock:
            found = {k: self._counters[k] for k in keys if k in self._counters}
        return {k: v for k, v in found.items() if v[1] >= since}

    def record_failure(self, keys: Sequence[str], at: datetime, reset_before: datetime) -> None:
        with self._lock:
            for key in keys:
                count, last = self._counters.get(key, (0, at))
                self._counters[key] = (1 if last < reset_before else count + 1, at)
            if len(self._counters) > 10_000:
                self._counters = {k: v for k, v in self._counters.items() if v[1] >= reset_before}

    def clear(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._counters.pop(key, None)


class LoginGuard:
    """Applies a `LoginPolicy` over a `LoginAttempts` store with the real clock."""

    def __init__(
        self, attempts: LoginAttempts, clock: Clock, policy: LoginPolicy | None = None
    ) -> None:
        self.attempts = attempts
        self.clock = clock
        self.policy = policy or LoginPolicy()

    @staticmethod
    def keys(username: str, client: str) -> tuple[str, str, str]:
        address = client or "unknown"
        return f"user:{username}", f"addr:{address}", f"pair:{username}|{address}"

    def check(self, username: str, client: str) -> None:
        """TooManyAttempts when this attempt must wait (see LoginPolicy)."""
        account, address, pair = self.keys(username, client)
        now = self.clock.now()
        policy = self.policy
        found = self.attempts.failures((account, address, pair), now - policy.reset_after)
        waits = []
        for key, free in ((address, policy.address_free), (pair, policy.pair_free)):
            if key in found:
                waits.append(policy.wait(*found[key], free, now))
        address_failures = found.get(address, (0, now))[0]
        if account in found and address_failures >= policy.clean_failures:
            waits.append(policy.wait(*found[account], policy.account_free, now))
        wait = max(waits, default=0.0)
        if wait > 0:
            raise TooManyAttempts(
                "too many failed logins; try again later", retry_after=max(1, math.ceil(wait))
            )

    def failed(self, username: str, client: str) -> None:
        now = self.clock.now()
        self.attempts.record_failure(
            self.keys(username, client), now, now - self.policy.reset_after
        )

    def succeeded(self, username: str, client: str) -> None:
        """The pair starts afresh (a user's own typos are forgiven once they get in); the
        account and address counters are kept, so one valid login cannot reset them."""
        self.attempts.clear([self.keys(username, client)[2]])


class AuthService:
    """Users, logins, sessions and tokens over an `AuthStore`."""

    def __init__(
        self,
        store: AuthStore,
        clock: Clock,
        *,
        hasher: PasswordHasher | None = None,
        guard: LoginGuard | None = None,
        cache_ttl_s: float = 5.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self.guard = guard or LoginGuard(MemoryLoginAttempts(), clock)
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        # Credential lookups are cached briefly (every API call makes one); any change to
        # users, tokens or sessions made through this service empties the cache at once.
        self.cache_ttl_s = cache_ttl_s
        self._seen: dict[str, tuple[float, User | Session | None]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, load: Callable[[], User | Session | None]) -> User | Session | None:
        now = time.monotonic()
        hit = self._seen.get(key)
        if hit is not None and now - hit[0] < self.cache_ttl_s:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (now, value)
        return value

    def peek(self, kind: str, secret: str) -> tuple[bool, User | Session | None]:
        """A cached lookup without touching the store: (found in cache, value). `kind` is
        "t" for API tokens, "s" for session cookies. Lets async callers skip a thread hop."""
        hit = self._seen.get(f"{kind}:{digest(secret)}")
        if hit is None or time.monotonic() - hit[0] >= self.cache_ttl_s:
            return False, None
        value = hit[1]
        if isinstance(value, Session) and value.expires <= self.clock.now():
            return True, None
        if isinstance(value, Session | User) and not (
            value.user.active if isinstance(value, Session) else value.active
        ):
            return True, None
        return True, value

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()

    # users -----------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: Role | str) -> User:
        name = check_username(username)
        check_password(password, name)
        the_role = role if isinstance(role, Role) else parse_role(role)
        return self.store.add_user(name, self.hasher.hash(password), the_role, self.clock.now())

    def set_password(self, username: str, password: str) -> None:
        name = check_username(username)
        check_password(password, name)
        self.store.set_password(name, self.hasher.hash(password))
        self.forget()

    def set_role(self, username: str, role: Role | str, active: bool = True) -> User:
        the_role = role if isinstance(role, Role) else parse_role(role)
        user = self.store.set_role(check_username(username), the_role, active)
        self.forget()
        return user

    def list_users(self) -> list[User]:
        return self.store.list_users()

    # login -----------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, client: str = "") -> User:
        """The user for these credentials; NotAuthenticated (same message whether the user
        or the password is wrong) or TooManyAttempts."""
        name = username.strip().lower()[:64]
        self.guard.check(name, client)
        stored = self.store.user_by_name(name)
        ok = False
        try:
            # Verify against a dummy hash for unknown users so timing does not reveal them.
            ok = self.hasher.verify(stored.password_hash if stored else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or stored is None or not stored.user.active:
            self.guard.failed(name, client)
            raise NotAuthenticated("wrong username or password")
        self.guard.succeeded(name, client)
        if self.hasher.check_needs_rehash(stored.password_hash):
            self.store.set_password(name, self.hasher.hash(password))
        return stored.user

    def start_session(self, user: User) -> tuple[str, Session]:
        """A new session: returns the cookie value (shown once) and the session."""
        secret = secrets.token_urlsafe(32)
        now = self.clock.now()
        session = Session(
            user=user,
            csrf_token=secrets.token_urlsafe(24),
            expires=now + timedelta(hours=SESSION_HOURS),
        )
        self.store.add_session(digest(secret), user.id, session.csrf_token, now, session.expires)
        return secret, session

    def session(self, cookie: str) -> Session | None:
        if not cookie or len(cookie) > 200:
            return None
        key = digest(cookie)
        found = self._cached("s:" + key, lambda: self.store.session(key, self.clock.now()))
        if not isinstance(found, Session) or not found.user.active:
            return None
        if found.expires <= self.clock.now():
            return None
        return found

    def end_session(self, cookie: str) -> None:
        if cookie and len(cookie) <= 200:
            self.store.delete_session(digest(cookie))
            self.forget()

    # tokens ----------------------------------------------------------------------------
    def issue_token(self, username: str, name: str) -> tuple[str, ApiToken]:
        """A new API token for a user: the secret is returned once and stored as a digest."""
        label = name.strip()
        if not label or len(label) > 100:
            raise ValidationError("token name must be 1–100 characters", where="name")
        stored = self.store.user_by_name(check_username(username))
        if stored is None:
            raise ValidationError(f"unknown user {username!r}", where="username")
        secret = "mf_" + secrets.token_urlsafe(32)
        token = self.store.add_token(stored.user.id, label, digest(secret), self.clock.now())
        return secret, token

    def token_user(self, secret: str) -> User | None:
        if not secret.startswith("mf_") or len(secret) > 200:
            return None
        key = digest(secret)
        user = self._cached("t:" + key, lambda: self.store.user_by_token(key))
        return user if isinstance(user, User) and user.active else None

    def list_tokens(self, user: User | None = None) -> list[ApiToken]:
        return self.store.list_tokens(user.id if user else None)

    def revoke_token(self, token_id: int) -> None:
        self.store.revoke_token(token_id)
        self.forget()


def require(user: User | None, permission: Permission) -> User:
    """The policy check every endpoint runs: 401 without a user, 403 without the permission."""
    if user is None:
        raise NotAuthenticated("log in or send an API token (Authorization: Bearer mf_...)")
    if not user.can(permission):
        raise PermissionDenied(
            f"role {user.role} may not do this (needs permission {permission.value})"
        )
    return user


def same_secret(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
