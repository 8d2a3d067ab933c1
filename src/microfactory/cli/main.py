"""The `microfactory` command. Each area registers its commands from its own module, so the
entry point stays small and areas do not edit each other's files."""

from __future__ import annotations

import importlib
import sys

import typer

from microfactory.core.errors import MicrofactoryError

app = typer.Typer(
    name="microfactory",
    help="microfactory: quote, schedule, run, maintain and prove quality in a micro-factory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    help="Benchmarks on public reference data (print JSON).", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")

# Each module defines `register(app: typer.Typer, bench: typer.Typer) -> None`.
COMMAND_MODULES: list[str] = [
    "microfactory.cli.setup_commands",
    "microfactory.cli.planning",
    "microfactory.cli.demo",
    "microfactory.cli.twin",
    "microfactory.cli.serve",
    "microfactory.cli.quality",
    "microfactory.cli.quoting",
    "microfactory.cli.connect",
    "microfactory.cli.maintenance",
]


def _register_all() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app, bench_app)


_register_all()


def main() -> None:
    """Entry point. Click handles usage errors itself (exit 2 with a usage line); the
    MicrofactoryError tree is mapped to exit codes with one clear line, no traceback."""
    try:
        app()
    except MicrofactoryError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        sys.exit(130)
