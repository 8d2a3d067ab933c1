"""`microfactory notify ...`: e-mail notifications — queue what is due (`collect`), send the
outbox over SMTP (`deliver`; `run` does both in a loop until Ctrl-C / SIGTERM), list the
outbox, and set a user's notification settings."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from microfactory.cli.common import DB_HELP, console, open_container, print_json
from microfactory.services.notifications import ALERT_KINDS, SEVERITIES

notify_app = typer.Typer(
    help="E-mail notifications: collect, deliver, run, outbox, settings.", no_args_is_help=True
)
DbOpt = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]


def collect_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Queue the notices that are due (orders accepted, late, shipped; quotes; alerts)."""
    container = open_container(db)
    try:
        queued = container.notifications().collect()
    finally:
        container.close()
    print_json({"queued": queued}) if as_json else console.print(f"queued {queued}")


def deliver_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Send the due messages of the outbox over SMTP (failures stay queued for a retry)."""
    container = open_container(db)
    try:
        result = container.notifications().deliver()
    finally:
        container.close()
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(f"sent {result.sent}, failed {result.failed}, pending {result.pending}")


def run_cmd(
    interval: Annotated[float, typer.Option(help="Seconds between rounds")] = 30.0,
    db: DbOpt = None,
) -> None:
    """Collect and deliver every INTERVAL seconds until Ctrl-C or SIGTERM; prints the totals
    as JSON at the end."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    container = open_container(db)
    totals = {"queued": 0, "sent": 0, "failed": 0}
    try:
        service = container.notifications()
        while not stop.is_set():
            totals["queued"] += service.collect()
            result = service.deliver()
            totals["sent"] += result.sent
            totals["failed"] += result.failed
            stop.wait(interval)
    except KeyboardInterrupt:
        pass
    finally:
        container.close()
    print_json(totals)


def outbox_cmd(
    status: Annotated[str | None, typer.Option(help="pending, sent or skipped")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The outbox, newest first: kind, recipient, subject, status, attempts, last error."""
    container = open_container(db)
    try:
        rows: list[dict[str, Any]] = container.notifications().store.outbox(
            status=status, limit=limit
        )
    finally:
        container.close()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        error = f"  ({r['last_error']})" if r["last_error"] else ""
        console.print(
            f"{r['status']:<8} {r['attempts']:>2}× {r['kind']:<15} {r['recipient']:<28} "
            f"{r['subject']}{error}",
            soft_wrap=True,
        )


def settings_cmd(
    username: Annotated[str, typer.Argument(help="The user")],
    email: Annotated[str | None, typer.Option(help="Address for the user's alerts")] = None,
    kinds: Annotated[
        str | None, typer.Option(help=f"Comma-separated: {', '.join(ALERT_KINDS)} (or none)")
    ] = None,
    min_severity: Annotated[
        str | None, typer.Option("--min-severity", help=" | ".join(SEVERITIES))
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a user's notification settings, or change them with the options."""
    container = open_container(db)
    try:
        service = container.notifications()
        current = service.user_settings(username)
        if email is not None or kinds is not None or min_severity is not None:
            chosen = (
                current.kinds
                if kinds is None
                else tuple(k.strip() for k in kinds.split(",") if k.strip() and k != "none")
            )
            current = service.save_user_settings(
                username,
                current.email if email is None else email,
                chosen,
                current.min_severity if min_severity is None else min_severity,
            )
    finally:
        container.close()
    out = {
        "username": current.username,
        "email": current.email,
        "kinds": list(current.kinds),
        "min_severity": current.min_severity,
    }
    print_json(out) if as_json else console.print(out)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    notify_app.command("collect")(collect_cmd)
    notify_app.command("deliver")(deliver_cmd)
    notify_app.command("run")(run_cmd)
    notify_app.command("outbox")(outbox_cmd)
    notify_app.command("settings")(settings_cmd)
    app.add_typer(notify_app, name="notify")
