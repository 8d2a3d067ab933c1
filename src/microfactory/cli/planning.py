"""Planning commands: `microfactory bench schedule` (public benchmark files).

Thin: parse, call the planning engine, render. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def schedule_cmd(
    files: Annotated[list[Path], typer.Argument(help="Instance files (.txt job shop, .fjs).")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    solution_dir: Annotated[
        Path | None, typer.Option("--solution-dir", help="Write DIR/<instance>.json.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="CP-SAT worker threads.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the search.")] = 0,
) -> None:
    """Minimise the makespan of job-shop / flexible job-shop instances."""
    from microfactory.core.errors import ValidationError
    from microfactory.planning.bench import run_instance, solution_document

    if time_limit <= 0:
        raise ValidationError("must be positive", where="--time-limit")
    if workers < 1:
        raise ValidationError("must be at least 1", where="--workers")
    for path in files:
        row, problem, result = run_instance(path, time_limit, workers, seed)
        if solution_dir is not None and result.has_plan:
            solution_dir.mkdir(parents=True, exist_ok=True)
            target = solution_dir / f"{row['instance']}.json"
            target.write_text(json.dumps(solution_document(problem, result)) + "\n")
        typer.echo(json.dumps(row) if as_json else _line(row))


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['instance']}: makespan {row['makespan']} (lower bound {row['lower_bound']}, "
        f"{row['status']}, {row['seconds']:.1f} s; {row['jobs']} jobs, {row['machines']} "
        f"machines, {row['operations']} operations)"
    )


def register(app: typer.Typer, bench: typer.Typer) -> None:
    bench.command("schedule")(schedule_cmd)
