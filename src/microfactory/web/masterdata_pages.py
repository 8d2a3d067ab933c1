"""Master data in the dashboard: customers (typed fields), products and materials (each entry
as the YAML it has in the factory file) and users. Edits are validated by the factory file's
own validator over the whole factory and saved as a new factory version
(`services/master_data.py`); customers, products and materials need masterdata:write (admin,
planner), users need admin. Every form carries the session's CSRF token; the audit log names
the entry."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from microfactory.access import Permission, Role, User
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_ADMIN, CSRF_FIELD, Allow, context, note_detail
from microfactory.core.errors import Conflict, MicrofactoryError, NotFound, ValidationError
from microfactory.services.master_data import (
    SECTIONS,
    Entry,
    customer_entry,
    entries,
    entry,
    parse_entry,
    save_entry,
)
from microfactory.web.pages import PageUser, render

ALLOW_MASTERDATA = Allow(Permission.MASTERDATA_WRITE)
router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(context)]
Editor = Annotated[User, Depends(ALLOW_MASTERDATA)]
Admin = Annotated[User, Depends(ALLOW_ADMIN)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD, max_length=100)]
Text = Annotated[str, Form(max_length=200)]
TITLES = {"customers": "Customers", "products": "Products", "materials": "Materials"}


def _section_or_404(section: str) -> str:
    if section not in SECTIONS:
        raise NotFound(f"no master-data section {section!r}")
    return section


@router.get("/master-data")
async def master_data_index(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    counts = {s: len(await run_in_threadpool(entries, ctx.uow, s)) for s in SECTIONS}
    return await render(
        request,
        "master_data.html",
        user,
        counts=counts,
        titles=TITLES,
        can_edit=user.can(Permission.MASTERDATA_WRITE),
        is_admin=user.can(Permission.ADMIN),
    )


async def section_page(
    request: Request,
    user: User,
    ctx: ApiContext,
    section: str,
    *,
    editing: Entry | None = None,
    text: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    items = await run_in_threadpool(entries, ctx.uow, section)
    return await render(
        request,
        "master_data_section.html",
        user,
        http_status=status,
        section=section,
        title=TITLES[section],
        items=items,
        editing=editing,
        text=text if text is not None else (editing.yaml if editing else ""),
        values=values or (editing.data if editing else {}),
        error=error,
        notice=request.query_params.get("notice", "")[:200] or None,
        can_edit=user.can(Permission.MASTERDATA_WRITE),
    )


@router.get("/master-data/{section}")
async def section_view(section: str, request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    return await section_page(request, user, ctx, _section_or_404(section))


@router.get("/master-data/{section}/{entry_id}")
async def entry_view(
    section: str, entry_id: str, request: Request, user: PageUser, ctx: Ctx
) -> HTMLResponse:
    found = await run_in_threadpool(entry, ctx.uow, _section_or_404(section), entry_id)
    return await section_page(request, user, ctx, section, editing=found)


async def _save(
    request: Request,
    ctx: ApiContext,
    user: User,
    section: str,
    entry_id: str | None,
    data: dict[str, Any] | None,
    text: str,
    values: dict[str, str],
) -> Response:
    note_detail(request, f"{section[:-1]} {entry_id or values.get('id') or '(new)'} saved")
    editing = None
    try:
        if entry_id is not None:
            editing = await run_in_threadpool(entry, ctx.uow, section, entry_id)
        parsed = data if data is not None else parse_entry(text)
        await run_in_threadpool(
            lambda: save_entry(ctx.uow, section, entry_id, parsed, by=user.username)
        )
    except NotFound:
        raise
    except MicrofactoryError as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return await section_page(
            request,
            user,
            ctx,
            section,
            editing=editing,
            text=text,
            values=values,
            error=str(exc),
            status=status,
        )
    ctx.dashboard.invalidate()
    ctx.cache.clear()
    saved = str(parsed.get("id"))
    notice = urlencode({"notice": f"{section[:-1].capitalize()} {saved} saved."})
    return RedirectResponse(f"/master-data/{section}/{quote(saved)}?{notice}", status_code=303)


@router.post("/master-data/customers")
@router.post("/master-data/customers/{entry_id}")
async def customer_submit(
    request: Request,
    ctx: Ctx,
    user: Editor,
    id: Annotated[str, Form(max_length=64)] = "",
    name: Text = "",
    email: Text = "",
    segment: Annotated[str, Form(max_length=64)] = "standard",
    csrf_token: Csrf = "",
    entry_id: str | None = None,
) -> Response:
    values = {"id": id, "name": name, "email": email, "segment": segment}
    data = customer_entry(entry_id or id, name, email, segment)
    return await _save(request, ctx, user, "customers", entry_id, data, "", values)


@router.post("/master-data/{section}")
@router.post("/master-data/{section}/{entry_id}")
async def yaml_submit(
    section: str,
    request: Request,
    ctx: Ctx,
    user: Editor,
    yaml: Annotated[str, Form(max_length=200_000)] = "",
    csrf_token: Csrf = "",
    entry_id: str | None = None,
) -> Response:
    if _section_or_404(section) == "customers":
        raise NotFound("customers are edited with their fields")
    return await _save(request, ctx, user, section, entry_id, None, yaml, {})


# users ------------------------------------------------------------------------------------
async def users_page(
    request: Request,
    user: User,
    ctx: ApiContext,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    if not user.can(Permission.ADMIN):
        return await render(
            request,
            "error.html",
            user,
            http_status=403,
            title="Forbidden",
            message=f"Role {user.role} may not manage users.",
        )
    users = await run_in_threadpool(ctx.auth.list_users)
    return await render(
        request,
        "users.html",
        user,
        http_status=status,
        users=users,
        roles=[r.value for r in Role],
        error=error,
        values=values or {},
        notice=request.query_params.get("notice", "")[:200] or None,
    )


@router.get("/admin/users")
async def users_view(request: Request, user: PageUser, ctx: Ctx) -> HTMLResponse:
    return await users_page(request, user, ctx)


@router.post("/admin/users")
async def user_add(
    request: Request,
    ctx: Ctx,
    user: Admin,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    role: Annotated[str, Form(max_length=20)] = "viewer",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"user {username[:64]} added as {role[:20]}")
    try:
        added = await run_in_threadpool(ctx.auth.add_user, username, password, role)
    except MicrofactoryError as exc:
        values = {"username": username, "role": role}
        status = 409 if isinstance(exc, Conflict) else 422
        return await users_page(request, user, ctx, error=str(exc), values=values, status=status)
    notice = urlencode({"notice": f"User {added.username} added ({added.role})."})
    return RedirectResponse(f"/admin/users?{notice}", status_code=303)


@router.post("/admin/users/{username}")
async def user_change(
    username: str,
    request: Request,
    ctx: Ctx,
    user: Admin,
    role: Annotated[str, Form(max_length=20)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Csrf = "",
) -> Response:
    note_detail(request, f"user {username} role {role[:20]} active={bool(active)}")
    try:
        if username == user.username and (role != user.role.value or not active):
            raise ValidationError(
                "an admin cannot demote or deactivate themselves here (ask another admin)",
                where="role",
            )
        changed = await run_in_threadpool(ctx.auth.set_role, username, role, bool(active))
    except MicrofactoryError as exc:
        status = 404 if isinstance(exc, NotFound) else 422
        return await users_page(request, user, ctx, error=str(exc), status=status)
    state = "active" if changed.active else "inactive"
    notice = urlencode({"notice": f"User {changed.username}: {changed.role}, {state}."})
    return RedirectResponse(f"/admin/users?{notice}", status_code=303)
