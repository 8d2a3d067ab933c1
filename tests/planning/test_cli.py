"""`microfactory bench schedule` per DESIGN.md: JSON lines and solution files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from microfactory.cli.planning import register
from microfactory.core.errors import ValidationError
from microfactory.planning.checker import check_plan
from microfactory.planning.model import Assignment
from microfactory.planning.readers import read_instance


@pytest.fixture()
def app() -> typer.Typer:
    root = typer.Typer()
    bench = typer.Typer()
    root.add_typer(bench, name="bench")
    register(root, bench)
    return root


def test_bench_schedule_prints_one_json_line_and_a_checkable_solution(
    app: typer.Typer, jssp_dir: Path, tmp_path: Path
) -> None:
    source = jssp_dir / "ft06.txt"
    args = ["bench", "schedule", str(source), "--time-limit", "10", "--json"]
    result = CliRunner().invoke(app, [*args, "--solution-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.strip())
    assert {"instance", "jobs", "machines", "operations", "makespan", "lower_bound"} <= set(row)
    assert (row["instance"], row["operations"], row["makespan"], row["status"]) == (
        "ft06",
        36,
        55,
        "optimal",
    )
    solution = json.loads((tmp_path / "ft06.json").read_text())
    # recompute the makespan and feasibility from the file alone (0-based job/op indices)
    problem = read_instance(source)
    job_ops = problem.job_ops()
    plan = [
        Assignment(job_ops[o["job"]][o["op"]], o["machine"], o["start"], o["end"])
        for o in solution["operations"]
    ]
    assert check_plan(problem, plan) == []
    assert solution["makespan"] == max(o["end"] for o in solution["operations"]) == 55


def test_bench_schedule_rejects_a_malformed_file(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n0 1 9 2\n")
    result = CliRunner().invoke(app, ["bench", "schedule", str(bad), "--time-limit", "1"])
    assert isinstance(result.exception, ValidationError)
    assert f"{bad}:2" in str(result.exception)
