"""`microfactory serve` (API + dashboard) and `microfactory users ...` (accounts and API
tokens). There is no default account: create the first admin with `users add`."""

from __future__ import annotations

import getpass
import json
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from starlette.concurrency import run_in_threadpool

from microfactory.bootstrap import Container
from microfactory.cli.common import DB_HELP, console, err_console, open_container
from microfactory.core.errors import MicrofactoryError, ValidationError

if TYPE_CHECKING:
    from microfactory.printfarm_bootstrap import ShopFloorRun

users_app = typer.Typer(help="Dashboard and API users, and API tokens.", no_args_is_help=True)
DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]


def serve_dashboard(
    container: Container, host: str, port: int, *, shop: ShopFloorRun | None = None
) -> None:
    """Serve the API and dashboard over `container` until interrupted (blocking). With
    `shop`, the shop-floor runtime runs in this process too: started with the server, stopped
    when it shuts down (SIGTERM or Ctrl-C), its counters printed as JSON on stdout."""
    import uvicorn

    from microfactory.api.composition import build_app

    app = build_app(container)
    if shop is not None:
        app.router.lifespan_context = _with_shop(app.router.lifespan_context, shop)
        # uvicorn re-raises the signal that stopped it once it has shut down; with the shop
        # stopped cleanly by then, that is a normal end (exit 0, as `microfactory run`)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _stopped)
    db = container.settings.database_url
    console.print(
        f"dashboard: [bold]http://{host}:{port}/[/]  ·  API docs: http://{host}:{port}/docs"
    )
    if not _auth(container).list_users() and sys.stdin.isatty():
        _first_admin(container)
    if not _auth(container).list_users():
        console.print(
            "[yellow]no user accounts yet[/] (there is no default account). In another "
            "terminal, create one, then log in with it:\n"
            f"  microfactory users add admin --role admin --db {db}"
        )
    else:
        console.print(f"log in with an account of {db} (`microfactory users list --db {db}`)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        timeout_graceful_shutdown=3,
        h11_max_incomplete_event_size=64 * 1024,
    )


def _stopped(signum: int, frame: FrameType | None) -> None:
    """The signal uvicorn re-raises after its graceful shutdown: nothing is left to do."""


def _with_shop(inner: Any, shop: ShopFloorRun) -> Any:
    """The app's lifespan with the shop-floor runtime started inside it and stopped after."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        parts = await run_in_threadpool(shop.start)
        for why in sorted(parts.skipped.values()):
            err_console.print(f"[yellow]left out[/yellow] {why}")
        err_console.print(
            f"shop-floor runtime running: {len(parts.hosts)} printer(s) "
            f"({', '.join(sorted(parts.hosts)) or 'none'})"
        )
        try:
            async with inner(app) as state:
                yield state
        finally:
            await run_in_threadpool(shop.stop)
            sys.stdout.write(json.dumps({"stopped": True, **shop.counters()}) + "\n")
            sys.stdout.flush()

    return lifespan


def _first_admin(container: Container) -> None:
    """On a terminal, offer to create the first admin (name and password chosen now)."""
    console.print("[yellow]this database has no user accounts[/] (there is no default one).")
    if not typer.confirm("create an admin account now?", default=True):
        return
    while True:
        name = typer.prompt("username", default="admin")
        password = typer.prompt(
            "password (10+ characters)", hide_input=True, confirmation_prompt=True
        )
        try:
            with _audited(container, f"serve: first admin {name}"):
                user = _auth(container).add_user(name, password, "admin")
        except ValidationError as exc:
            console.print(f"[red]{exc}[/]")
            continue
        console.print(f"[green]created[/] {user.username} (admin)")
        return


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    db: DbOpt = None,
    run: Annotated[
        bool,
        typer.Option(
            "--run",
            help="Also run the shop-floor runtime in this process (what `microfactory run` "
            "runs: printer hosts, dispatch, ingester, reactor, replans; in-process bus)",
        ),
    ] = False,
    poll_s: Annotated[
        float, typer.Option("--poll-s", help="With --run: seconds between printer polls")
    ] = 1.0,
) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the web dashboard."""
    from microfactory.printfarm_bootstrap import ShopFloorOptions, ShopFloorRun

    shop_options = ShopFloorOptions(poll_s=poll_s) if run else None
    container = open_container(db)
    try:
        shop = None if shop_options is None else ShopFloorRun(container, shop_options)
        serve_dashboard(container, host, port, shop=shop)
    finally:
        container.close()


def _auth(container: Container):  # type: ignore[no-untyped-def]
    return container.auth()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment (a bare container)
        return "unknown"


@contextmanager
def _audited(container: Container, action: str) -> Iterator[dict[str, str]]:
    """Record a user or token change made from the command line in the same audit log as
    the API's: actor `cli:<OS user>`, role `cli`, outcome the exit code (0 = done). The
    block may put a `detail` in the yielded dict; secrets never go there."""
    audit = container.audit_log()
    note: dict[str, str] = {}
    outcome = 1
    try:
        yield note
        outcome = 0
    except MicrofactoryError as exc:
        outcome = exc.exit_code
        note.setdefault("detail", str(exc))
        raise
    finally:
        audit.record(f"cli:{_os_user()}", "cli", f"cli {action}", outcome, note.get("detail", ""))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise ValidationError("empty password", where="password")
    return password


def users_add(
    username: Annotated[str, typer.Argument(help="login name (lowercase)")],
    role: Annotated[
        str, typer.Option(help="admin, planner, operator, maintenance, quality or viewer")
    ] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Create a user (argon2-hashed password, asked twice unless --password-stdin)."""
    password = _read_password(password_stdin)
    container = open_container(db)
    try:
        with _audited(container, f"users add {username} --role {role}"):
            user = _auth(container).add_user(username, password, role)
    finally:
        container.close()
    console.print(f"[green]created[/] {user.username} ({user.role})")


def users_list(db: DbOpt = None) -> None:
    """List users and their roles."""
    container = open_container(db)
    try:
        users = _auth(container).list_users()
    finally:
        container.close()
    for u in users:
        sys.stdout.write(f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}\n")


def users_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    db: DbOpt = None,
) -> None:
    """Set a user's password (ends their sessions)."""
    password = _read_password(password_stdin)
    container = open_container(db)
    try:
        with _audited(container, f"users passwd {username}"):
            _auth(container).set_password(username, password)
    finally:
        container.close()
    console.print(f"[green]password changed[/] for {username}")


def users_token(
    username: str,
    name: Annotated[str, typer.Option(help="what the token is for, e.g. 'fdm-1 gateway'")],
    db: DbOpt = None,
) -> None:
    """Issue an API token for a user (printed once; send it as `Authorization: Bearer ...`)."""
    container = open_container(db)
    try:
        with _audited(container, f"users token {username}") as note:
            secret, token = _auth(container).issue_token(username, name)
            note["detail"] = f"token {token.id} ({token.name})"
    finally:
        container.close()
    console.print(f"token {token.id} for {token.user} ({token.name}):")
    sys.stdout.write(secret + "\n")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    users_app.command("add")(users_add)
    users_app.command("list")(users_list)
    users_app.command("passwd")(users_passwd)
    users_app.command("token")(users_token)
    app.add_typer(users_app, name="users")
