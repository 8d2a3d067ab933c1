"""`microfactory serve` (API + dashboard) and `microfactory users ...` (accounts and API
tokens). There is no default account: create the first admin with `users add`."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from microfactory.bootstrap import Container
from microfactory.cli.common import DB_HELP, console, open_container
from microfactory.core.errors import MicrofactoryError, ValidationError

users_app = typer.Typer(help="Dashboard and API users, and API tokens.", no_args_is_help=True)
DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]


def serve_dashboard(container: Container, host: str, port: int) -> None:
    """Serve the API and dashboard over `container` until interrupted (blocking)."""
    import uvicorn

    from microfactory.api.composition import build_app

    app = build_app(container)
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
) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the web dashboard."""
    container = open_container(db)
    try:
        serve_dashboard(container, host, port)
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
