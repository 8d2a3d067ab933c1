"""The `microfactory` command. Each area registers its commands from its own module, so the
entry point stays small and areas do not edit each other's files."""

from __future__ import annotations

import importlib
import sys

import typer

from microfactory.core.errors import MicrofactoryError

_app = typer.Typer(
    name="microfactory",
    help="microfactory: quote, schedule, run, maintain and prove quality in a micro-factory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    help="Benchmarks on public reference data (print JSON).", no_args_is_help=True
)
_app.add_typer(bench_app, name="bench")

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


# Where a top-level command lives, so that `microfactory quote ...` imports one module rather
# than all of them (start-up time: the planner's numba/OR-Tools imports cost a second). A
# command missing here, `--help` or `bench` registers every module, so a new command works
# without an entry; an entry only makes it start faster.
COMMAND_HOMES: dict[str, str] = {
    # plain commands only: a group (orders, maintenance, ...) gets subcommands from several
    # modules, so it always registers every module.
    "quote": "microfactory.cli.quoting",
    "init": "microfactory.cli.setup_commands",
    "demo": "microfactory.cli.demo",
    "whatif": "microfactory.cli.twin",
    "oee": "microfactory.cli.twin",
    "spc": "microfactory.cli.quality",
    "trace": "microfactory.cli.quality",
}

_registered: set[str] = set()


def _register(names: list[str]) -> None:
    for name in names:
        if name not in _registered:
            importlib.import_module(name).register(_app, bench_app)
            _registered.add(name)


def _register_all() -> None:
    _register(COMMAND_MODULES)


def _register_for(argv: list[str]) -> None:
    """Register the module that owns `argv`'s command, or every module when unsure."""
    home = COMMAND_HOMES.get(argv[0]) if argv else None
    if home is None or home not in COMMAND_MODULES:
        _register_all()
        return
    _register([home])
    known = {c.name for c in _app.registered_commands} | {g.name for g in _app.registered_groups}
    if argv[0] not in known:
        _register_all()


def __getattr__(name: str) -> typer.Typer:
    """`from microfactory.cli.main import app` (tests, in-process callers) gets every command."""
    if name == "app":
        _register_all()
        return _app
    raise AttributeError(name)


def main() -> None:
    """Entry point. The MicrofactoryError tree maps to exit codes with one clear line, no
    traceback; usage errors print click's usage message (exit 2). Returns normally on
    success, so it can be called in-process."""
    _register_for(sys.argv[1:])
    try:
        code = _app(standalone_mode=False)
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
