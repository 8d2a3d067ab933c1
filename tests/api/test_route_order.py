"""The app matches a request against its routes in order and takes the first that fits, so
the order of the routers decides which handler answers. The busiest routes (the operator
terminal's) are included first for speed; this checks that no route is hidden by one
included before it: a request made from each route's own path reaches that route."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI

from api.support import Env


def _routes(app: Any) -> list[tuple[str, set[str], Any]]:
    """(path, methods, path regex) of every route, in the order the app tries them."""
    out: list[tuple[str, set[str], Any]] = []
    for route in app.router.routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for ctx in contexts:
            if getattr(ctx, "path_regex", None) is None:
                continue
            out.append((ctx.path_format, set(getattr(ctx, "methods", None) or {"GET"}), ctx))
    return out


def _hidden(routes: list[tuple[str, set[str], Any]]) -> list[str]:
    hidden = []
    for path, methods, _ in routes:
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        for method in methods:
            first = next(
                p for p, ms, ctx in routes if method in ms and ctx.path_regex.match(concrete)
            )
            if first != path:
                hidden.append(f"{method} {path} answered by {first}")
    return hidden


def test_every_route_answers_its_own_path(sqlite_env: Env) -> None:
    routes = _routes(sqlite_env.app)
    assert len(routes) > 100
    terminal = [i for i, (path, _, _) in enumerate(routes) if path.startswith("/stations")]
    assert terminal and max(terminal) < 20, "the terminal's routes are tried first"
    assert _hidden(routes) == []


def test_a_route_hidden_by_an_earlier_one_is_found() -> None:
    first, second = APIRouter(), APIRouter()
    first.get("/items/{item}")(lambda item: item)
    second.get("/items/new")(lambda: "new")
    second.get("/items")(lambda: [])
    app = FastAPI()
    app.include_router(first, prefix="/x")
    app.include_router(second, prefix="/x")
    assert _hidden(_routes(app)) == ["GET /x/items/new answered by /x/items/{item}"]
