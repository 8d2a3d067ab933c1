"""Pure ASGI middleware: request size limit, audit of every state-changing call, security
headers. Pure ASGI (not BaseHTTPMiddleware) so Server-Sent Events stream unbuffered."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from microfactory.services.audit import AuditLog

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDIT_KEY = "microfactory.audit"
log = logging.getLogger("microfactory.api")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
]


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


Authenticate = Callable[[Scope], Awaitable[bool]]


class BodyLimitMiddleware:
    """Refuse request bodies over `limit` bytes with 413, whether or not the client sent a
    Content-Length: a chunked body is counted as it arrives, and at the first byte over the
    limit the 413 is sent and the application is told the client went away (it never sees
    the rest, and its own error for the cut-off body is dropped).

    `routes` raises the limit for exact paths (the model upload). Those bodies are accepted
    from authenticated callers only: with `authenticate`, a state-changing request to such a
    path without valid credentials gets 401 before a byte of its body is read."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        routes: dict[str, int] | None = None,
        authenticate: Authenticate | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.routes = dict(routes or {})
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.routes.get(path, self.limit)
        if (
            path in self.routes
            and self.authenticate is not None
            and scope.get("method") in STATE_CHANGING
            and not await self.authenticate(scope)
        ):
            await _send_problem(
                send,
                401,
                "Not authenticated",
                "log in or send an API token before uploading (Authorization: Bearer mf_...)",
            )
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_problem(send, 400, "Bad Request", "invalid Content-Length")
                    return
                if declared > limit:
                    await _send_problem(
                        send, 413, "Content Too Large", f"request body over {limit} bytes"
                    )
                    return
        seen = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused, started
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        started = True
                        await _send_problem(
                            send, 413, "Content Too Large", f"request body over {limit} bytes"
                        )
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already; what the app says about the cut body is moot
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:
                raise
            log.debug("request to %s cut off at the %d-byte body limit", path, limit)


class AuditMiddleware:
    """Write one audit record for every POST / PUT / PATCH / DELETE, whatever its outcome.
    The authentication dependency fills `scope[AUDIT_KEY]` with the caller."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        holder: dict[str, Any] = {}
        scope[AUDIT_KEY] = holder
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            path = scope.get("path", "")
            query = scope.get("query_string", b"").decode("latin-1")
            action = f"{scope['method']} {path}" + (f"?{query}" if query else "")
            record = partial(
                self.audit.record,
                actor=str(holder.get("actor", "anonymous")),
                role=str(holder.get("role", "-")),
                action=action,
                outcome=status,
                detail=str(holder.get("detail", "")),
            )
            try:
                if self.audit.background:  # handed to the audit writer: no database here
                    record()
                else:
                    await run_in_threadpool(record)
            except Exception:  # the audit store failing must be visible, not silent
                log.exception("could not write the audit record for %s", action)
                raise


class SecurityHeadersMiddleware:
    """Security headers on every response, and `Server-Timing: app;dur=MS` (time to the
    first response byte inside the server) for monitoring and the benchmark."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                took = (time.perf_counter() - started) * 1000.0
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)
