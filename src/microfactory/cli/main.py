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
    "microfactory.cli.shopfloor",
    "microfactory.cli.printfarm",
    "microfactory.cli.materials",
    "microfactory.cli.network",
    "microfactory.cli.documents",
    "microfactory.cli.exports",
    "microfactory.cli.notify",
]


def _register_all() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app, bench_app)


_register_all()


def main() -> None:
    """Entry point. The MicrofactoryError tree maps to exit codes with one clear line, no
    traceback; usage errors print click's usage message (exit 2). Returns normally on
    success, so it can be called in-process."""
    try:
        code = app(standalone_mode=False)
    except MicrofactoryError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # click's exceptions (typer vendors click, so match them by shape, not by class)
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        if type(exc).__name__ == "Abort":
            typer.echo("aborted", err=True)
            sys.exit(1)
        raise
    if isinstance(code, int) and code != 0:
        sys.exit(code)
