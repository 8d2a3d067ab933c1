"""The user's notification settings (`/settings/notifications`): the address for alerts,
which alert sources to hear of and from which severity. Any signed-in user edits their own;
the form carries the session's CSRF token; bad input is shown back with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from microfactory.access import User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_READ, CSRF_FIELD, context, note_detail
from microfactory.core.errors import NotFound, ValidationError
from microfactory.services.notifications import (
    ALERT_KINDS,
    ALERT_ROLES,
    SEVERITIES,
    NotificationService,
    UserSettings,
)
from microfactory.web.pages import PageUser, render

router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
PATH = "/settings/notifications"


def _service(ctx: ApiContext) -> NotificationService:
    if ctx.notifications is None:
        raise NotFound("notifications are not available on this server")
    return ctx.notifications


async def _form(
    request: Request,
    user: User,
    settings: UserSettings,
    *,
    error: str = "",
    saved: bool = False,
    status: int = 200,
) -> HTMLResponse:
    kinds = [(k, user.role in ALERT_ROLES[k]) for k in ALERT_KINDS]
    return await render(
        request,
        "settings_notifications.html",
        user,
        status,
        s=settings,
        kinds=kinds,
        severities=SEVERITIES,
        error=error,
        saved=saved,
    )


@router.get(PATH)
async def settings_page(
    request: Request, user: PageUser, ctx: Ctx, saved: bool = False
) -> HTMLResponse:
    current = await run_in_threadpool(_service(ctx).user_settings, user.username)
    return await _form(request, user, current, saved=saved)


@router.post(PATH)
async def settings_submit(
    request: Request,
    ctx: Ctx,
    user: Annotated[User, Depends(ALLOW_READ)],
    email: Annotated[str, Form(max_length=254)] = "",
    kinds: Annotated[list[str] | None, Form(max_length=32)] = None,
    min_severity: Annotated[str, Form(max_length=16)] = "warning",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    note_detail(request, "notification settings")
    chosen = tuple(kinds or ())
    service = _service(ctx)
    try:
        await run_in_threadpool(
            service.save_user_settings, user.username, email, chosen, min_severity
        )
    except ValidationError as exc:
        typed = UserSettings(user.username, email, chosen, min_severity)
        return await _form(request, user, typed, error=str(exc), status=422)
    return RedirectResponse(f"{PATH}?saved=1", status_code=303)
