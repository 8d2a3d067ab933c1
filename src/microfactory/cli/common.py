"""Helpers shared by CLI modules: the console, `--db` handling, JSON output."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from microfactory.cli.database import DB_HELP as DB_HELP

if TYPE_CHECKING:
    from microfactory.bootstrap import Container

console = Console()
err_console = Console(stderr=True)


def open_container(db: str | None, *, migrate: bool = True) -> Container:
    """The composition on `--db` (a URL or a file path) or the one default database, after
    saying on the terminal which database it is."""
    from microfactory.bootstrap import bootstrap  # lazily: start-up time of every command
    from microfactory.cli.database import announce, resolve_db

    url = resolve_db(db)
    announce(url, db is not None, err_console)
    return bootstrap(db_url=url, migrate=migrate)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def time_limit_progress(
    seconds: float, label: str, *, enabled: bool = True, output: Console | None = None
) -> Iterator[None]:
    """A transient bar on stderr that fills over `seconds`, a solver's time limit (the
    solvers are anytime: they use the whole limit unless they prove a plan optimal). Shown
    only on a terminal and when `enabled` (not with --json)."""
    target = output or err_console
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn(f"of {seconds:.0f} s"),
        console=target,
        disable=not (enabled and target.is_terminal),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=seconds)
        stop = threading.Event()
        began = time.monotonic()

        def tick() -> None:
            while not stop.wait(0.2):
                progress.update(task, completed=min(seconds, time.monotonic() - began))

        ticker = threading.Thread(target=tick, name="time-limit-progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()
