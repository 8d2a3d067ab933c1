"""Helpers shared by CLI modules: the console, `--db` handling, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from microfactory.bootstrap import Container, bootstrap

console = Console()
err_console = Console(stderr=True)

DB_HELP = "Database URL (default: MICROFACTORY_DATABASE_URL or sqlite:///microfactory.db)"


def open_container(db: str | None) -> Container:
    return bootstrap(db_url=db)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()
