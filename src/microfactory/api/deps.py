"""Request dependencies: the context, the caller (API token or session cookie), CSRF for
cookie-authenticated state changes, and `Allow(permission)` — the policy check on every
endpoint. The role matrix test reads `Allow.permission` off each route."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from microfactory.access import Permission, Session, User
from microfactory.api.context import ApiContext
from microfactory.api.middleware import AUDIT_KEY, STATE_CHANGING
from microfactory.core.errors import PermissionDenied
from microfactory.services.auth import AuthService, require, same_secret

SESSION_COOKIE = "mf_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def note_actor(request: Request, actor: str, role: str = "-", detail: str | None = None) -> None:
    holder = request.scope.get(AUDIT_KEY)
    if holder is not None:
        holder["actor"] = actor
        holder["role"] = role
        if detail is not None:
            holder["detail"] = detail


def note_detail(request: Request, detail: str) -> None:
    holder = request.scope.get(AUDIT_KEY)
    if holder is not None:
        holder["detail"] = detail


async def current_session(request: Request) -> Session | None:
    cached = request.scope.get("microfactory.session", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    cookie = request.cookies.get(SESSION_COOKIE, "")
    found: Session | None = None
    if cookie:
        auth = context(request).auth
        cached, value = auth.peek("s", cookie)
        if cached:
            found = value if isinstance(value, Session) else None
        else:
            found = await run_in_threadpool(auth.session, cookie)
    request.scope["microfactory.session"] = found
    return found


async def credentials_user(conn: HTTPConnection, auth: AuthService) -> User | None:
    """The user behind the request's API token or session cookie, from the headers alone
    (no body is read, no CSRF check): lets a middleware refuse an anonymous upload before
    its body arrives."""
    scheme, _, secret = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        cached, value = auth.peek("t", secret.strip())
        if not cached:
            value = await run_in_threadpool(auth.token_user, secret.strip())
        return value if isinstance(value, User) else None
    cookie = conn.cookies.get(SESSION_COOKIE, "")
    if not cookie:
        return None
    cached, found = auth.peek("s", cookie)
    if not cached:
        found = await run_in_threadpool(auth.session, cookie)
    return found.user if isinstance(found, Session) else None


async def current_user(request: Request) -> User | None:
    """The caller: a bearer API token wins; otherwise the dashboard session cookie, whose
    state-changing calls must carry the session's CSRF token (header or form field)."""
    auth_header = request.headers.get("authorization", "")
    if auth_header:
        scheme, _, secret = auth_header.partition(" ")
        user: User | None = None
        if scheme.lower() == "bearer":
            auth = context(request).auth
            cached, value = auth.peek("t", secret.strip())
            if cached:
                user = value if isinstance(value, User) else None
            else:
                user = await run_in_threadpool(auth.token_user, secret.strip())
        if user is not None:
            note_actor(request, user.username, user.role.value)
        return user
    session = await current_session(request)
    if session is None:
        return None
    note_actor(request, session.user.username, session.user.role.value)
    if request.method in STATE_CHANGING:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            field = form.get(CSRF_FIELD)
            sent = field if isinstance(field, str) else ""
        if not same_secret(sent, session.csrf_token):
            raise PermissionDenied("missing or wrong CSRF token")
    return session.user


class Allow:
    """Dependency: the caller must hold `permission` (401 without credentials, 403 without
    the permission)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> User:
        return require(await current_user(request), self.permission)


ALLOW_READ = Allow(Permission.READ)
ALLOW_ORDERS = Allow(Permission.ORDERS_WRITE)
ALLOW_PLANS = Allow(Permission.PLANS_WRITE)
ALLOW_SHOPFLOOR = Allow(Permission.SHOPFLOOR_WRITE)
ALLOW_MAINTENANCE = Allow(Permission.MAINTENANCE_WRITE)
ALLOW_QUALITY = Allow(Permission.QUALITY_WRITE)
ALLOW_ACK = Allow(Permission.ALERTS_ACK)
ALLOW_MATERIALS = Allow(Permission.MATERIALS_WRITE)
ALLOW_PURCHASING = Allow(Permission.PURCHASING_WRITE)
ALLOW_ADMIN = Allow(Permission.ADMIN)
