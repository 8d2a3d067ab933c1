"""Errors as RFC 9457 problem details. The MicrofactoryError tree is mapped to HTTP status
codes in ONE handler; framework errors (validation, unknown route) are rendered the same way."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from microfactory.core.errors import (
    Conflict,
    ConnectorError,
    InfeasibleError,
    MicrofactoryError,
    NotFittedError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from microfactory.services.auth import NotAuthenticated, TooManyAttempts

PROBLEM_JSON = "application/problem+json"

# Most specific first: NotAuthenticated is a PermissionDenied.
STATUS_BY_ERROR: list[tuple[type[MicrofactoryError], int, str]] = [
    (NotAuthenticated, 401, "Not authenticated"),
    (PermissionDenied, 403, "Forbidden"),
    (ValidationError, 422, "Invalid input"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"),
    (TooManyAttempts, 429, "Too many requests"),
    (ConnectorError, 503, "Service unavailable"),
    (InfeasibleError, 422, "Infeasible"),
    (NotFittedError, 409, "Model not ready"),
]


def status_for(exc: MicrofactoryError) -> tuple[int, str]:
    for cls, status, title in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status, title
    return 500, "Internal error"


def problem(status: int, title: str, detail: str, instance: str = "", **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _page_renderer(request: Request) -> Any:
    """Pages (outside /api) render errors as HTML when the dashboard installed a renderer."""
    if request.url.path.startswith("/api/"):
        return None
    return getattr(request.app.state, "html_error", None)


async def microfactory_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MicrofactoryError)
    status, title = status_for(exc)
    renderer = _page_renderer(request)
    if renderer is not None:
        detail = exc.reason if isinstance(exc, ValidationError) else str(exc)
        return await renderer(request, status, title, detail)  # type: ignore[no-any-return]
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationError) and exc.where:
        extra["where"] = exc.where
    detail = exc.reason if isinstance(exc, ValidationError) else str(exc)
    response = problem(status, title, detail, request.url.path, **extra)
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"where": "", "message": "invalid request"}
    detail = f"{first['where']}: {first['message']}" if first["where"] else first["message"]
    renderer = _page_renderer(request)
    if renderer is not None:
        return await renderer(request, 422, "Invalid input", detail)  # type: ignore[no-any-return]
    return problem(422, "Invalid input", detail, request.url.path, errors=errors)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    renderer = _page_renderer(request)
    if renderer is not None and not request.url.path.startswith("/static/"):
        return await renderer(  # type: ignore[no-any-return]
            request, exc.status_code, _title(exc.status_code), str(exc.detail)
        )
    response = problem(exc.status_code, _title(exc.status_code), str(exc.detail), request.url.path)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install(app: FastAPI) -> None:
    app.add_exception_handler(MicrofactoryError, microfactory_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
