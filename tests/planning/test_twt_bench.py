"""The due-date benchmark contract: the generated Singer-Pinedo instances, the JSON reader,
`bench schedule` minimising the weighted tardiness, and the independent checker."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import typer
from typer.testing import CliRunner

from microfactory.cli.planning import register
from microfactory.core.errors import ValidationError
from microfactory.planning.readers import read_instance

TWT = Path(__file__).resolve().parents[2] / "benchmarks" / "schedule" / "twt"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"twt_{name}", TWT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def app() -> typer.Typer:
    root = typer.Typer()
    bench = typer.Typer()
    root.add_typer(bench, name="bench")
    register(root, bench)
    return root


def test_the_committed_instances_are_what_the_generator_builds_from_the_base_files() -> None:
    generate = _load("generate")
    assert generate.main(["--check"]) == 0
    assert len(list((TWT / "instances").glob("*.json"))) == 66


def test_the_rule_due_dates_round_down_and_weights_are_4_2_1() -> None:
    problem = read_instance(TWT / "instances" / "abz5_f13.json")
    assert (len(problem.jobs), len(problem.machines), problem.n_ops) == (10, 10, 100)
    assert [job.weight for job in problem.jobs] == [4, 4, 2, 2, 2, 2, 2, 2, 1, 1]
    job_ops = problem.job_ops()
    total = sum(problem.operations[op].modes[0].duration for op in job_ops[0])
    assert total == 859  # abz5 job 1: 1.3 * 859 = 1116.7, published due date 1116
    assert problem.jobs[0].due == 1116
    # la21-la24 keep the first 10 of their 15 jobs
    assert len(read_instance(TWT / "instances" / "la21_f15.json").jobs) == 10


def _small(tmp_path: Path) -> Path:
    document = {
        "name": "tiny",
        "jobs": [
            {"weight": 4, "due": 5, "ops": [[0, 3], [1, 2]]},
            {"weight": 1, "due": 4, "release": 1, "ops": [[1, 3], [0, 2]]},
            {"weight": 2, "due": 6, "ops": [[0, 2], [1, 1]]},
        ],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(document))
    return path


def test_bench_schedule_minimises_weighted_tardiness_and_the_checker_agrees(
    app: typer.Typer, tmp_path: Path
) -> None:
    source = _small(tmp_path)
    out = tmp_path / "solutions"
    args = ["bench", "schedule", str(source), "--time-limit", "5", "--json"]
    result = CliRunner().invoke(app, [*args, "--solution-dir", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.strip().splitlines()[-1])
    assert row["objective"] == "weighted_tardiness"
    assert row["status"] == "optimal" and row["feasible"] is True
    solution = json.loads((out / "tiny.json").read_text())
    assert set(solution) == {"objective", "starts"}
    errors, total = _load("check").check(json.loads(source.read_text()), solution)
    assert errors == []
    assert total == solution["objective"] == row["weighted_tardiness"]
    # proven optimal: the bound reported equals the value the checker recomputed
    assert total == row["lower_bound"]


def test_the_checker_finds_overlaps_precedence_breaks_and_a_wrong_objective(
    tmp_path: Path,
) -> None:
    check = _load("check").check
    instance = json.loads(_small(tmp_path).read_text())
    good = {"objective": 0, "starts": [[0, 3], [1, 5], [3, 5]]}
    errors, total = check(instance, good)
    # m1: job 1 op 0 [1,4) and job 0 op 1 [3,5) overlap
    assert any("overlaps" in e for e in errors)
    early = {"objective": 0, "starts": [[0, 2], [1, 4], [5, 7]]}
    errors, _ = check(instance, early)
    assert any("before the end of op 0" in e for e in errors)
    released = {"objective": 0, "starts": [[0, 3], [0, 5], [3, 5]]}
    errors, _ = check(instance, released)
    assert any("before its release" in e for e in errors)
    # job 0: m0 [0,3) m1 [3,5); job 2: m0 [3,5) m1 [5,6); job 1: m1 [6,9) m0 [9,11)
    feasible = {"starts": [[0, 3], [6, 9], [3, 5]]}
    errors, total = check(instance, {**feasible, "objective": 0})
    assert total == 4 * 0 + 1 * (11 - 4) + 2 * 0
    assert errors == ["claimed objective 0 but the starts give 7"]
    assert check(instance, {**feasible, "objective": 7}) == ([], 7)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[]", "tiny.json"),
        ('{"jobs": []}', "jobs"),
        ('{"jobs": [{"weight": 1, "ops": [[0, 1]]}]}', "jobs[0]"),
        ('{"jobs": [{"weight": 1, "due": -2, "ops": [[0, 1]]}]}', "jobs[0].due"),
        ('{"jobs": [{"weight": 1, "due": 2, "ops": [[0]]}]}', "jobs[0].ops[0]"),
        ('{"jobs": [{"weight": 1, "due": 2, "ops": [[0, "3"]]}]}', "jobs[0].ops[0][1]"),
        ('{"jobs": [', "tiny.json:1"),
    ],
)
def test_a_malformed_due_date_file_names_the_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        read_instance(path)
    assert where in (caught.value.where or "")
