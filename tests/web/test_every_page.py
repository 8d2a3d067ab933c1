"""Every dashboard page in Chromium at 1440 px (desktop) and 390 px (phone), on a database
the closed loop filled (two simulated days: plans, machines, alerts, orders, stock): each
page loads with no console error, and at 390 px nothing overflows sideways. Screenshots of
every page at both widths go to artifacts/web/widths/ (git-ignored) for people to look at.

The pages are found in the app's routes, so a page added later is visited too; a path
parameter is filled from the data (an order, a machine, a work order)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.support import FAST_HASHER, PASSWORD
from microfactory.access import Role
from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.demo import DEMO_START, run_demo
from microfactory.core.clock import FixedClock

from .conftest import ARTIFACTS, LiveServer, free_port, login

pytestmark = pytest.mark.browser

DAYS = 2
WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}
SKIPPED = {
    "/login": "visited by logging in",
    "/network": "the hub's page: a site server has no hub store",
    "/printers/panel": "a fragment of the overview (loaded and checked there), not a page",
}
PREFIXES_NOT_PAGES = ("/api", "/static", "/stream", "/docs", "/openapi", "/redoc")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from microfactory.api.composition import build_app

    path = tmp_path_factory.mktemp("every-page") / "demo.db"
    db_url = f"sqlite:///{path}"
    container = bootstrap(db_url=db_url)
    try:
        run_demo(container, days=DAYS, seed=7, bus="memory", factory_file=DEMO_FACTORY)
    finally:
        container.close()
    container = bootstrap(db_url=db_url, migrate=False)
    clock = FixedClock(DEMO_START + timedelta(days=DAYS))
    app = build_app(container, clock, FAST_HASHER, auth_clock=clock)
    for role in (Role.ADMIN,):
        app.state.ctx.auth.add_user(role.value, PASSWORD, role)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, db_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()


def _routes(routes: list[Any], prefix: str = "") -> Iterator[APIRoute]:
    """Routes with their full paths, through included routers (FastAPI keeps an included
    router whole, with the prefix in its include context)."""
    for route in routes:
        if isinstance(route, APIRoute):
            if prefix:
                continue  # under /api/v1: not a page
            yield route
        elif hasattr(route, "original_router"):
            inner = getattr(route.include_context, "prefix", "") or ""
            yield from _routes(route.original_router.routes, prefix + inner)


def page_paths(server: LiveServer) -> list[str]:
    """Every GET page of the app, path parameters filled from the database."""
    ctx = server.ctx
    with ctx.uow() as tx:
        order = tx.orders.find(limit=1)[0]
        work_order = tx.work_orders.find(order=order.id)[0]
    values = {
        "order_id": order.id,
        "work_order_id": work_order.id,
        "machine_id": "fdm-xl",
        "machine": "fdm-xl",
    }
    out = []
    for route in _routes(server.app.routes):
        if "GET" not in route.methods:
            continue
        path = route.path
        if path.startswith(PREFIXES_NOT_PAGES) or path in SKIPPED:
            continue
        names = [p.name for p in route.dependant.path_params]
        if any(n not in values for n in names):
            continue  # e.g. /track/{token}: a customer's link, not a staff page
        out.append(path.format(**{n: values[n] for n in names}))
    return sorted(set(out))


def test_the_route_list_holds_the_pages_people_use(demo_server: LiveServer) -> None:
    paths = page_paths(demo_server)
    for expected in ("/", "/schedule", "/capacity", "/orders", "/maintenance", "/quality"):
        assert expected in paths
    assert any(p.startswith("/orders/SO-") for p in paths)
    assert "/machines/fdm-xl" in paths


@pytest.mark.parametrize("form", sorted(WIDTHS))
def test_every_page_at_desktop_and_phone_width(
    browser: Any, demo_server: LiveServer, form: str
) -> None:
    width, height = WIDTHS[form]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    out = ARTIFACTS / "widths"
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    try:
        login(page, demo_server, Role.ADMIN)
        for path in page_paths(demo_server):
            errors.clear()
            response = page.goto(demo_server.url + path)
            page.wait_for_load_state("networkidle")
            name = path.strip("/").replace("/", "_") or "overview"
            page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
            status = response.status if response is not None else 0
            if status != 200:
                problems.append(f"{path}: HTTP {status}")
            if errors:
                problems.append(f"{path}: {errors}")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if width < 600 and overflow > 1:
                wide = page.evaluate(WIDEST_ELEMENTS)
                problems.append(f"{path}: {overflow} px wider than the screen: {wide}")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


WIDEST_ELEMENTS = """() => {
  const w = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && !el.closest('.scroll, .chart')) {
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
        ' ' + Math.round(r.right));
    }
    if (out.length >= 5) break;
  }
  return out.join(', ');
}"""
