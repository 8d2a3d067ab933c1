"""Dashboard pages: server-rendered Jinja2 with htmx, live machine tiles over Server-Sent
Events. Every page needs a session (login form); every form carries the session's CSRF
token; every action checks the same permissions as the API."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import (
    SESSION_COOKIE,
    Allow,
    context,
    current_session,
    note_actor,
    note_detail,
)
from microfactory.api.routes.auth import login_user, secure, set_session_cookie
from microfactory.core import vocabulary
from microfactory.core.errors import MicrofactoryError, ValidationError
from microfactory.core.timeutil import local_text, parse_rfc3339, zone
from microfactory.orders import OrderStatus, WorkOrder
from microfactory.services.alerts import AlertService
from microfactory.services.auth import NotAuthenticated, same_secret
from microfactory.services.capacity import order_capacity
from microfactory.services.dashboard import (
    OPEN_WORK,
    DashboardService,
    OrderDetailData,
    OverviewData,
)
from microfactory.services.dashboard_views import GanttData, MachineViews, gantt_from_plan
from microfactory.services.planning import PlanningService
from microfactory.services.ports import QualityStore
from microfactory.services.quality import hold_from_row, list_ncrs
from microfactory.services.quality_views import characteristic_chart
from microfactory.web import figures

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
LOGIN_CSRF_COOKIE = "mf_login_csrf"
CSRF_COOKIE = "mf_csrf"
PAGE_SIZE = 50

# Okabe–Ito colours (readable with every common colour-vision deficiency); the state is
# always written out as text and marked with a distinct symbol too.
STATE_STYLE: dict[str, tuple[str, str, str]] = {
    "Executing": ("running", "▶", "Running"),
    "NotExecuting": ("idle", "❚❚", "Idle"),
    "OutOfService": ("down", "✖", "Down"),
    "NotAvailable": ("off", "○", "Not available"),
    "Unknown": ("unknown", "?", "No data"),
}

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@pass_context
def _fmt_time(context: Context, value: datetime | None) -> str:
    """A time in the site's zone (`2026-01-12 12:19 CET`); every page shows local time."""
    return local_text(value, _site_zone(context), locale=_site_locale(context))


@pass_context
def _fmt_time_s(context: Context, value: datetime | None) -> str:
    return local_text(value, _site_zone(context), seconds=True, locale=_site_locale(context))


def _local_input(text: str, timezone: str) -> datetime:
    """A form's date-time: RFC 3339 with an offset, or a `datetime-local` value read as the
    site's local time (what people mean when they type a time)."""
    if text.endswith(("Z", "z")) or "+" in text[10:] or text[10:].count("-"):
        return parse_rfc3339(text)
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"not a date and time: {text!r}", where="due") from None
    if naive.tzinfo is not None:
        return parse_rfc3339(text)
    return naive.replace(tzinfo=zone(timezone)).astimezone(UTC)


def _site_zone(context: Context) -> str:
    request = context.get("request")
    ctx = getattr(getattr(getattr(request, "app", None), "state", None), "ctx", None)
    return str(getattr(ctx, "timezone", "UTC"))


def _site_locale(context: Context) -> str:
    request = context.get("request")
    ctx = getattr(getattr(getattr(request, "app", None), "state", None), "ctx", None)
    return str(getattr(ctx, "locale", "en"))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


TEMPLATES.env.filters["t"] = _fmt_time
TEMPLATES.env.filters["ts"] = _fmt_time_s
TEMPLATES.env.filters["pct"] = _pct
TEMPLATES.env.globals["state_style"] = lambda s: STATE_STYLE.get(s, STATE_STYLE["Unknown"])
TEMPLATES.env.filters["reason"] = vocabulary.state_reason
TEMPLATES.env.filters["kind"] = vocabulary.alert_kind
TEMPLATES.env.filters["upkeep"] = vocabulary.upkeep_summary


async def page_user(request: Request) -> User:
    session = await current_session(request)
    if session is None:
        raise LoginRequired(request.url.path)
    return session.user


PageUser = Annotated[User, Depends(page_user)]


def dash(ctx: ApiContext) -> DashboardService:
    service: DashboardService = ctx.dashboard
    return service


async def render(
    request: Request, template: str, user: User | None, http_status: int = 200, **values: Any
) -> HTMLResponse:
    session = await current_session(request)
    nav: list[tuple[str, str]] = [
        ("/", "Overview"),
        ("/machines", "Machines"),
        ("/stations", "Stations"),
        ("/schedule", "Schedule"),
        ("/capacity", "Capacity"),
        ("/orders", "Orders"),
        ("/quotes", "Quotes"),
        ("/maintenance", "Maintenance"),
        ("/quality", "Quality"),
        ("/materials", "Materials"),
    ]
    if user is not None and user.can(Permission.MASTERDATA_WRITE):
        nav.append(("/master-data", "Master data"))
    if user is not None and user.can(Permission.ADMIN):
        nav.append(("/admin/audit", "Audit log"))
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf": session.csrf_token if session else "",
            "nav": nav,
            "path": request.url.path,
            **values,
        },
        status_code=http_status,
    )


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/"


# login -----------------------------------------------------------------------------------
@router.get("/login")
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = await render(request, "login.html", None, login_csrf=token, next=_safe_next(next))
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure(request, request.app.state.ctx),
        path="/login",
    )
    return response


@router.post("/login")
async def login_submit(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    if not same_secret(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        note_actor(request, username.strip().lower()[:64] or "anonymous")
        return await _login_again(request, "The form expired; please try again.", next, 403)
    try:
        secret, session = await login_user(request, ctx, username, password)
    except MicrofactoryError as exc:
        status = 429 if exc.__class__.__name__ == "TooManyAttempts" else 401
        return await _login_again(request, str(exc), next, status)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, ctx, secret, request)
    response.set_cookie(
        CSRF_COOKIE, session.csrf_token, samesite="strict", secure=secure(request, ctx), path="/"
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


async def _login_again(request: Request, message: str, next_url: str, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = await render(
        request,
        "login.html",
        None,
        http_status=status,
        error=message,
        login_csrf=token,
        next=_safe_next(next_url),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure(request, request.app.state.ctx),
        path="/login",
    )
    return response


@router.post("/logout")
async def logout(
    request: Request, ctx: Ctx, user: Annotated[User, Depends(Allow(Permission.READ))]
) -> Response:
    await run_in_threadpool(ctx.auth.end_session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# overview --------------------------------------------------------------------------------
def alert_service(ctx: ApiContext) -> AlertService:
    service: AlertService = ctx.alerts
    return service


@router.get("/")
async def overview(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    # one thread hop for both reads: under load each hop waits for the event loop's turn
    data, alerts = await run_in_threadpool(
        lambda: (dash(ctx).overview(), alert_service(ctx).alerts(open_only=True, limit=20))
    )
    return await render(
        request,
        "overview.html",
        user,
        o=data,
        alerts=alerts,
        can_ack=user.can(Permission.ALERTS_ACK),
    )


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_alert(
    alert_id: str,
    request: Request,
    ctx: Ctx,
    user: Annotated[User, Depends(Allow(Permission.ALERTS_ACK))],
    note: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form(max_length=200)] = "/",
) -> Response:
    note_detail(request, f"alert {alert_id}")
    await run_in_threadpool(alert_service(ctx).acknowledge, alert_id, user.username, note)
    dash(ctx).invalidate()
    return RedirectResponse(_safe_next(back), status_code=303)


def tiles_html(data: OverviewData) -> str:
    return TEMPLATES.get_template("_tiles.html").render(o=data)


def kpis_html(data: OverviewData) -> str:
    return TEMPLATES.get_template("_kpis.html").render(o=data)


def sse_event(name: str, html: str) -> str:
    lines = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {name}\n{lines}\n\n"


async def overview_events(
    request: Request, snapshot: Callable[[], OverviewData], interval: float
) -> AsyncIterator[str]:
    """Push the tiles and KPIs whenever they change; a comment line keeps proxies open."""
    last_tiles = last_kpis = ""
    yield "retry: 3000\n\n"
    while True:
        if await request.is_disconnected():
            return
        data = await run_in_threadpool(snapshot)
        tiles, kpis = tiles_html(data), kpis_html(data)
        if tiles != last_tiles:
            last_tiles = tiles
            yield sse_event("tiles", tiles)
        if kpis != last_kpis:
            last_kpis = kpis
            yield sse_event("kpis", kpis)
        yield ": keep-alive\n\n"
        await asyncio.sleep(interval)


@router.get("/stream/overview")
async def overview_stream(request: Request, user: PageUser, ctx: Ctx) -> StreamingResponse:
    return StreamingResponse(
        overview_events(request, dash(ctx).overview, ctx.sse_interval_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# machines --------------------------------------------------------------------------------
def machine_view(ctx: ApiContext, machine_id: str) -> tuple[list[dict[str, str]], list[Any]]:
    """The machine page's charts (state timeline and up to six signals, last 24 h, as plotly
    JSON) and its last ten maintenance orders: telemetry reads and figure building, shared
    by every viewer for the context cache's lifetime."""
    views: MachineViews = ctx.machine_views
    charts: list[dict[str, str]] = []
    if views is None:
        return charts, []
    end = ctx.clock.now()
    start = end - timedelta(hours=24)
    segments = views.state_timeline(machine_id, start, end)
    if segments:
        charts.append(
            {"title": "State, last 24 h", "figure": figures.state_timeline(segments, ctx.timezone)}
        )
    for signal in views.signals(machine_id)[:6]:
        points = views.series(machine_id, signal, start, end, 300)
        if points:
            charts.append(
                {
                    "title": f"{signal}, last 24 h",
                    "figure": figures.sensor_chart(signal, points, ctx.timezone),
                }
            )
    mine = [o for o in views.maintenance_orders() if o["machine"] == machine_id]
    upkeep = sorted(mine, key=lambda o: o["created"], reverse=True)[:10]
    return charts, upkeep


@router.get("/machines/{machine_id}")
async def machine_page(machine_id: str, request: Request, user: PageUser, ctx: Ctx) -> Response:
    def read() -> tuple[Any, list[dict[str, str]], list[Any]]:
        card = dash(ctx).machine(machine_id)  # NotFound before anything is cached
        charts, upkeep = ctx.cache.get(
            f"machine-page:{machine_id}", lambda: machine_view(ctx, machine_id)
        )
        return card, charts, upkeep

    card, charts, upkeep = await run_in_threadpool(read)
    return await render(request, "machine.html", user, m=card, charts=charts, upkeep=upkeep)


# orders ----------------------------------------------------------------------------------
@router.get("/orders")
async def orders_page(
    request: Request,
    user: PageUser,
    ctx: Ctx,
    status: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    statuses = [OrderStatus(status)] if status in {s.value for s in OrderStatus} else None
    items, total = await run_in_threadpool(
        lambda: dash(ctx).orders_page(
            status=statuses, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    )
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return await render(
        request,
        "orders.html",
        user,
        orders=items,
        total=total,
        page=page,
        pages=pages,
        status=status,
        statuses=[s.value for s in OrderStatus],
        now=ctx.clock.now(),
    )


# `/orders/new` (several lines, typed parameters) lives in `web/staff_pages.py`.


@router.get("/orders/{order_id}")
async def order_page(order_id: str, request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    service = dash(ctx)

    def read() -> tuple[OrderDetailData, Any]:
        detail = service.order_detail(order_id)  # NotFound before anything is cached
        capacity = ctx.cache.get(
            f"order-capacity:{order_id}",
            lambda: order_capacity(ctx.uow, order_id, ctx.clock.now()),
        )
        return detail, capacity

    detail, capacity = await run_in_threadpool(read)
    late = {w.id: service.is_late(w) for w in detail.work_orders}
    return await render(request, "order.html", user, d=detail, late=late, capacity=capacity)


# schedule, maintenance, quality ----------------------------------------------------------
def gantt_data(ctx: ApiContext) -> GanttData | None:
    planning: PlanningService = ctx.planning
    plan = planning.current() if planning is not None else None
    if plan is not None:
        return gantt_from_plan(plan)
    views: MachineViews = ctx.machine_views
    return views.live_gantt(ctx.clock.now()) if views is not None else None


GANTT_BEFORE = timedelta(hours=12)
GANTT_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class ScheduleView:
    plan: GanttData | None
    figure: str | None
    shown: int
    now: datetime
    late_items: list[WorkOrder]
    late_total: int


def schedule_view(ctx: ApiContext) -> ScheduleView:
    """The schedule page's data: the current plan's bars around now as a Gantt figure (plotly
    JSON) and the late open work orders. Shared by every viewer for the context cache's
    lifetime; a replan or any change through this process clears it (`invalidate`)."""
    service = dash(ctx)
    now = ctx.clock.now()
    data = gantt_data(ctx)
    figure = None
    shown = 0
    if data is not None:
        bars = [b for b in data.bars if b.end > now - GANTT_BEFORE and b.start < now + GANTT_AFTER]
        shown = len(bars)
        machines = [m.id for m in service.factory().machines]
        figure = figures.gantt(bars, now, machines, ctx.timezone)
    late_items, late_total = service.work_orders_page(status=list(OPEN_WORK), late=True, limit=100)
    return ScheduleView(data, figure, shown, now, late_items, late_total)


def shared_schedule(ctx: ApiContext) -> ScheduleView:
    return ctx.cache.get("schedule-page", lambda: schedule_view(ctx))


@router.get("/schedule")
async def schedule_page(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    view = await run_in_threadpool(shared_schedule, ctx)
    return await render(
        request,
        "schedule.html",
        user,
        plan=view.plan,
        figure=view.figure,
        shown=view.shown,
        now=view.now,
        late_items=view.late_items,
        late_total=view.late_total,
        can_replan=user.can(Permission.PLANS_WRITE),
    )


@router.post("/schedule/replan")
async def replan_submit(
    request: Request,
    ctx: Ctx,
    user: Annotated[User, Depends(Allow(Permission.PLANS_WRITE))],
) -> Response:
    from microfactory.api.routes.shopfloor import replan
    from microfactory.api.schemas import ReplanIn

    summary = await run_in_threadpool(
        replan, ReplanIn(reason="replan from the dashboard"), request, user, ctx
    )
    return RedirectResponse(f"/schedule?version={summary.version}", status_code=303)


@router.get("/maintenance")
async def maintenance_page(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    views: MachineViews = ctx.machine_views
    factory, orders = await run_in_threadpool(
        lambda: (dash(ctx).factory(), views.maintenance_orders() if views is not None else [])
    )
    now = ctx.clock.now()
    open_orders = [o for o in orders if o["status"] in ("open", "planned")]
    calendar: dict[str, list[dict[str, Any]]] = {}
    for o in sorted(open_orders, key=lambda o: o.get("window_start") or o["created"]):
        when = o.get("window_start") or o["created"]
        day = when.astimezone(zone(ctx.timezone)).strftime("%Y-%m-%d (%a)")
        calendar.setdefault(day, []).append(o)
    done = sorted(
        (o for o in orders if o["status"] == "done"), key=lambda o: o["done"], reverse=True
    )
    return await render(
        request,
        "maintenance.html",
        user,
        machines=factory.machines,
        calendar=calendar,
        open_orders=open_orders,
        predictive=[o for o in orders if o["kind"] == "predictive"][-20:],
        done=done[:30],
        now=now,
    )


def quality_charts(ctx: ApiContext) -> list[dict[str, Any]]:
    """Every characteristic's control chart (values, limits, violations, plotly JSON)."""
    store: QualityStore = ctx.quality
    factory = dash(ctx).factory()
    out: list[dict[str, Any]] = []
    for product in factory.products:
        for char in product.characteristics:
            view = characteristic_chart(store, factory, product.id, char.name)
            if view is not None:
                out.append(
                    {
                        "view": view,
                        "figure": figures.control_chart(
                            f"{product.id} {char.name}",
                            view.values,
                            view.centre,
                            view.lcl,
                            view.ucl,
                            [i for i, _ in view.violations],
                        ),
                    }
                )
    return out


def shared_quality_charts(ctx: ApiContext) -> list[dict[str, Any]]:
    return ctx.cache.get("quality-charts", lambda: quality_charts(ctx))


@router.get("/quality")
async def quality_page(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    store: QualityStore = ctx.quality

    def read() -> dict[str, Any]:
        # every viewer shares the charts for the context cache's lifetime; one thread hop
        found: dict[str, Any] = {"charts": [], "ncrs": [], "holds": []}
        if store is not None:
            found["charts"] = shared_quality_charts(ctx)
            found["ncrs"] = list_ncrs(store)[-50:][::-1]
            found["holds"] = [hold_from_row(r) for r in store.holds(active_only=True)]
        alerts = alert_service(ctx).alerts(open_only=True, limit=1000)
        found["alerts"] = [a for a in alerts if a.source == "quality"][:15]
        found["products"] = dash(ctx).factory().products
        return found

    found = await run_in_threadpool(read)
    return await render(
        request, "quality.html", user, **found, can_ack=user.can(Permission.ALERTS_ACK)
    )


@router.get("/admin/audit")
async def audit_page(
    request: Request,
    user: PageUser,
    ctx: Ctx,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    if not user.can(Permission.ADMIN):
        return await render(
            request,
            "error.html",
            user,
            http_status=403,
            title="Forbidden",
            message=f"Role {user.role} may not read the audit log.",
        )
    records = await run_in_threadpool(
        lambda: ctx.audit.find(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    )
    total = await run_in_threadpool(ctx.audit.count)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return await render(
        request, "audit.html", user, records=records, page=page, pages=pages, total=total
    )


# errors on pages render as HTML, not problem JSON ----------------------------------------
async def html_error(request: Request, status: int, title: str, message: str) -> Response:
    if status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    session = await current_session(request)
    return await render(
        request,
        "error.html",
        session.user if session else None,
        http_status=status,
        title=title,
        message=message,
    )


async def login_required_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)


__all__ = ["LoginRequired", "NotAuthenticated", "html_error", "login_required_handler", "router"]


@router.get("/track/{token}", response_class=HTMLResponse)
def track_page(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """The customer's tracking page (public: the token is the key)."""
    view = ctx.quotes.track(token)
    response = TEMPLATES.TemplateResponse(
        request,
        "track.html",
        {"user": None, "csrf": "", "nav": [], "path": request.url.path, "view": view},
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
