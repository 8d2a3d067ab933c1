"""Login / logout (session cookie for the dashboard), the caller, API tokens, users and the
audit log (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from microfactory.access import Session, User
from microfactory.api import convert
from microfactory.api import schemas as s
from microfactory.api.clients import client_address, secure_cookies
from microfactory.api.context import ApiContext
from microfactory.api.deps import (
    ALLOW_ADMIN,
    ALLOW_READ,
    SESSION_COOKIE,
    context,
    current_session,
    note_actor,
)
from microfactory.core.errors import NotFound
from microfactory.services.auth import SESSION_HOURS, check_username

router = APIRouter(tags=["auth"])
Ctx = Annotated[ApiContext, Depends(context)]


def secure(request: Request, ctx: ApiContext) -> bool:
    """The Secure flag for cookies set in answer to `request` (see ApiContext.cookie_secure)."""
    return secure_cookies(request, ctx.cookie_secure, ctx.trusted_proxies)


def set_session_cookie(response: Response, ctx: ApiContext, secret: str, request: Request) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(SESSION_HOURS * 3600),
        httponly=True,
        samesite="strict",
        secure=secure(request, ctx),
        path="/",
    )


async def login_user(
    request: Request, ctx: ApiContext, username: str, password: str
) -> tuple[str, Session]:
    note_actor(request, username.strip().lower()[:64] or "anonymous")
    user = await run_in_threadpool(
        ctx.auth.authenticate, username, password, client_address(request, ctx.trusted_proxies)
    )
    note_actor(request, user.username, user.role.value)
    return await run_in_threadpool(ctx.auth.start_session, user)


@router.post("/auth/login", response_model=s.LoginOut, summary="Log in (sets the session cookie)")
async def login(body: s.LoginIn, request: Request, response: Response, ctx: Ctx) -> s.LoginOut:
    secret, session = await login_user(request, ctx, body.username, body.password)
    set_session_cookie(response, ctx, secret, request)
    return s.LoginOut(
        user=convert.user(session.user), csrf_token=session.csrf_token, expires=session.expires
    )


@router.post("/auth/logout", status_code=204, summary="End the session")
async def logout(request: Request, ctx: Ctx) -> Response:
    session = await current_session(request)
    if session is not None:
        note_actor(request, session.user.username, session.user.role.value)
        await run_in_threadpool(ctx.auth.end_session, request.cookies.get(SESSION_COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=s.UserPublic, summary="The caller")
def me(user: Annotated[User, Depends(ALLOW_READ)]) -> s.UserPublic:
    return convert.user(user)


@router.get("/tokens", response_model=list[s.TokenPublic], summary="API tokens (admin: all)")
def list_tokens(user: Annotated[User, Depends(ALLOW_ADMIN)], ctx: Ctx) -> list[s.TokenPublic]:
    return [convert.token(t) for t in ctx.auth.list_tokens()]


@router.post("/tokens", response_model=s.TokenIssued, status_code=201, summary="Issue a token")
def issue_token(
    body: s.TokenCreate, user: Annotated[User, Depends(ALLOW_ADMIN)], ctx: Ctx
) -> s.TokenIssued:
    owner = check_username(body.username) if body.username else user.username
    secret, tok = ctx.auth.issue_token(owner, body.name)
    return s.TokenIssued(**convert.token(tok).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: int, user: Annotated[User, Depends(ALLOW_ADMIN)], ctx: Ctx) -> Response:
    ctx.auth.revoke_token(token_id)
    return Response(status_code=204)


@router.get("/users", response_model=list[s.UserPublic], summary="Users")
def list_users(user: Annotated[User, Depends(ALLOW_ADMIN)], ctx: Ctx) -> list[s.UserPublic]:
    return [convert.user(u) for u in ctx.auth.list_users()]


@router.post("/users", response_model=s.UserPublic, status_code=201, summary="Create a user")
def create_user(
    body: s.UserCreate, user: Annotated[User, Depends(ALLOW_ADMIN)], ctx: Ctx
) -> s.UserPublic:
    return convert.user(ctx.auth.add_user(body.username, body.password, body.role))


@router.patch("/users/{username}", response_model=s.UserPublic, summary="Change a user")
def update_user(
    username: str, body: s.UserUpdate, user: Annotated[User, Depends(ALLOW_ADMIN)], ctx: Ctx
) -> s.UserPublic:
    name = check_username(username)
    if body.password is not None:
        ctx.auth.set_password(name, body.password)
    current = next((u for u in ctx.auth.list_users() if u.username == name), None)
    if current is None:
        raise NotFound(f"user {name} does not exist")
    role = body.role if body.role is not None else current.role
    active = body.active if body.active is not None else current.active
    return convert.user(ctx.auth.set_role(name, role, active))


@router.get("/audit", response_model=s.Page[s.AuditPublic], summary="The audit log, newest first")
def audit_log(
    user: Annotated[User, Depends(ALLOW_ADMIN)],
    ctx: Ctx,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.Page[s.AuditPublic]:
    items = ctx.audit.find(actor=actor, limit=limit, offset=offset)
    return s.Page[s.AuditPublic](
        items=[convert.audit(r) for r in items],
        total=ctx.audit.count(actor=actor),
        limit=limit,
        offset=offset,
    )
