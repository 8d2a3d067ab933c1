"""The ASGI application: API under /api/v1, the dashboard pages, static assets served from
the package (no CDN: factories are often offline), OpenAPI schema at /api/v1/openapi.json
and a Swagger UI at /docs whose scripts are vendored in the package."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import HTTPConnection, Request
from starlette.types import Scope

from microfactory.api import problems
from microfactory.api.context import ApiContext
from microfactory.api.deps import credentials_user
from microfactory.api.middleware import (
    AuditMiddleware,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
)
from microfactory.api.routes import auth, factory, orders
from microfactory.api.schemas import Problem

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>microfactory API</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/vendor/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""


@cache
def plotly_bundle() -> tuple[bytes, bytes]:
    """plotly.min.js from the installed plotly package, plain and gzipped (read once)."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    raw = path.read_bytes()
    return raw, gzip.compress(raw, compresslevel=6)


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {"application/problem+json": {}},
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid credentials (log in, or send `Authorization: Bearer mf_...`)"),
    403: _problem("The caller's role does not allow this, or the CSRF token is missing"),
    404: _problem("No such resource"),
    409: _problem("The current state forbids this"),
    413: _problem("Request body too large"),
    422: _problem("Invalid input (problem details name the field)"),
    429: _problem("Too many failed logins; see Retry-After"),
    503: _problem("A dependency (database, broker) is unreachable"),
}


def create_app(
    ctx: ApiContext,
    *,
    extra_routers: list[tuple[str, object]] | None = None,
    leading_routers: list[tuple[str, object]] | None = None,
) -> FastAPI:
    """The app with the API's own routers, then `extra_routers`; `leading_routers` go
    before all of them (a request is matched against the routes in order, so the busiest
    callers' routes first, where no other route's path can match theirs)."""
    app = FastAPI(
        title="microfactory",
        version="1",
        summary="Orders, plans, machines, maintenance and quality of a micro-factory.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    problems.install(app)
    for prefix, router in leading_routers or []:
        app.include_router(router, prefix=prefix)  # type: ignore[arg-type]
    for module in (auth, factory, orders):
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    for prefix, router in extra_routers or []:
        responses = ERROR_RESPONSES if prefix.startswith("/api/") else None
        app.include_router(router, prefix=prefix, responses=responses)  # type: ignore[arg-type]

    plain_openapi = app.openapi

    def openapi_with_security() -> dict[str, Any]:
        """The schema with the bearer-token scheme, so /docs offers 'Authorize'."""
        schema = plain_openapi()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        if "bearer" not in schemes:
            schemes["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "an API token from `microfactory users token` (mf_...)",
            }
            schemes["session"] = {
                "type": "apiKey",
                "in": "cookie",
                "name": "mf_session",
                "description": "the dashboard session (state changes need X-CSRF-Token)",
            }
            schema["security"] = [{"bearer": []}, {"session": []}]
        return schema

    app.openapi = openapi_with_security  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        raw, packed = plotly_bundle()
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(packed, media_type="text/javascript", headers=headers)
        return Response(raw, media_type="text/javascript", headers=headers)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    async def authenticated(scope: Scope) -> bool:
        return await credentials_user(HTTPConnection(scope), ctx.auth) is not None

    # outermost last: security headers, then the audit (so it records the 401 / 413 of the
    # body limit too), then the body limit
    app.add_middleware(
        BodyLimitMiddleware,
        limit=ctx.max_body_bytes,
        routes=ctx.body_limits,
        authenticate=authenticated,
    )
    app.add_middleware(AuditMiddleware, audit=ctx.audit)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
