"""Benchmark file readers, against the counts published in BEST_KNOWN.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from microfactory.core.errors import ValidationError
from microfactory.planning.readers import read_fjs, read_instance, read_jssp


def test_ft06_has_six_jobs_six_machines_36_operations(jssp_dir: Path) -> None:
    problem = read_jssp(jssp_dir / "ft06.txt")
    assert (len(problem.jobs), len(problem.machines), problem.n_ops) == (6, 6, 36)
    # first operation of job 0 in the file: machine 2, duration 1
    assert problem.operations[0].modes[0].machine == 2
    assert problem.operations[0].modes[0].duration == 1
    assert len(problem.precedences) == 6 * 5


@pytest.mark.parametrize(
    ("name", "jobs", "machines", "ops"),
    [("mk01", 10, 6, 55), ("mk06", 10, 10, 150), ("mk10", 20, 15, 240)],
)
def test_brandimarte_counts_match_best_known_table(
    fjsp_dir: Path, name: str, jobs: int, machines: int, ops: int
) -> None:
    problem = read_instance(fjsp_dir / f"{name}.fjs")
    assert (len(problem.jobs), len(problem.machines), problem.n_ops) == (jobs, machines, ops)


def test_fjs_machines_become_zero_based(tmp_path: Path) -> None:
    path = tmp_path / "tiny.fjs"
    path.write_text("1 2 1.5\n1 2 1 4 2 6\n")
    problem = read_fjs(path)
    assert [(m.machine, m.duration) for m in problem.operations[0].modes] == [(0, 4), (1, 6)]


MALFORMED = [
    # header is not two integers
    ("bad.txt", "2\n0 1\n0 1\n", 1),
    # a token is not an integer
    ("bad.txt", "2 2\n0 1 1 2\n0 x 1 2\n", 3),
    # a job line with an odd number of values
    ("bad.txt", "2 2\n0 1 1 2\n0 1 1\n", 3),
    # machine index out of range
    ("bad.txt", "1 2\n0 1 5 2\n", 2),
    # fewer job lines than announced
    ("bad.txt", "3 2\n0 1 1 2\n0 1 1 2\n", 3),
    # one job line too many
    ("bad.txt", "1 2\n0 1 1 2\n0 1 1 2\n", 3),
    # fjs: operation announces 2 machines but lists one
    ("bad.fjs", "1 2 1\n1 2 1 4\n", 2),
    # fjs: machine 0 is invalid in the 1-based layout
    ("bad.fjs", "1 2 1\n1 1 0 4\n", 2),
    # fjs: trailing numbers after the announced operations
    ("bad.fjs", "1 2 1\n1 1 1 4 9\n", 2),
]


@pytest.mark.parametrize(("name", "text", "line"), MALFORMED)
def test_malformed_file_names_the_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        read_instance(path)
    assert info.value.where == f"{path}:{line}"


def test_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        read_instance(tmp_path / "absent.txt")
