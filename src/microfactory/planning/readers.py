"""Readers for public benchmark files.

* Job shop, OR-Library / Taillard "standard" layout: first line `jobs machines`, then one
  line per job with `machine duration` pairs in routing order; machines 0-based.
* Flexible job shop, Brandimarte / Hurink `.fjs`: first line `jobs machines [avg]`, then
  one line per job: `n_ops`, then per operation `k` followed by `k` pairs
  `machine duration`; machines 1-based.

* Job shop with due dates and weights, JSON (the total-weighted-tardiness benchmark of
  Singer & Pinedo, `benchmarks/schedule/twt/`): `{"name": str, "jobs": [{"weight": int,
  "due": int, "release": int (optional, default 0), "ops": [[machine, duration], ...]}]}`;
  machines 0-based, one machine per operation, operations in routing order. Other keys
  are ignored.

Errors are `ValidationError` whose `where` is `file:line` (JSON: `file:jobs[j].field`).
Blank lines are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from microfactory.core.errors import ValidationError
from microfactory.planning.model import Job, Machine, Mode, Operation, Problem, chain_precedences


def read_instance(path: str | Path) -> Problem:
    """Read a `.fjs` file as flexible job shop, a `.json` file as job shop with due dates
    and weights, anything else as classic job shop."""
    path = Path(path)
    if path.suffix.lower() == ".fjs":
        return read_fjs(path)
    if path.suffix.lower() == ".json":
        return read_due_date_json(path)
    return read_jssp(path)


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read instance: {exc}", where=str(path)) from exc
    rows = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1)]
    return [(number, tokens) for number, tokens in rows if tokens]


def _ints(path: Path, number: int, tokens: list[str]) -> list[int]:
    values: list[int] = []
    for token in tokens:
        try:
            values.append(int(token))
        except ValueError:
            raise ValidationError(f"not an integer: {token!r}", where=f"{path}:{number}") from None
    return values


def _header(path: Path, rows: list[tuple[int, list[str]]]) -> tuple[int, int]:
    if not rows:
        raise ValidationError("empty instance file", where=f"{path}:1")
    number, tokens = rows[0]
    where = f"{path}:{number}"
    if len(tokens) < 2:
        raise ValidationError("header must be 'jobs machines'", where=where)
    jobs, machines = _ints(path, number, tokens[:2])
    if jobs <= 0 or machines <= 0:
        raise ValidationError("jobs and machines must be positive", where=where)
    return jobs, machines


def _check_job_count(path: Path, rows: list[tuple[int, list[str]]], jobs: int) -> None:
    if len(rows) - 1 < jobs:
        last = rows[-1][0] if rows else 1
        raise ValidationError(
            f"header announces {jobs} jobs but only {len(rows) - 1} job lines follow",
            where=f"{path}:{last}",
        )
    if len(rows) - 1 > jobs:
        raise ValidationError(
            f"extra line after the {jobs} announced jobs", where=f"{path}:{rows[jobs + 1][0]}"
        )


def _mode(path: Path, number: int, machine: int, duration: int, machines: int) -> Mode:
    where = f"{path}:{number}"
    if not 0 <= machine < machines:
        raise ValidationError(f"machine {machine} out of range", where=where)
    if duration < 0:
        raise ValidationError(f"negative duration {duration}", where=where)
    return Mode(machine, duration)


def read_jssp(path: str | Path) -> Problem:
    path = Path(path)
    rows = _lines(path)
    n_jobs, n_machines = _header(path, rows)
    _check_job_count(path, rows, n_jobs)
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for job, (number, tokens) in enumerate(rows[1:]):
        values = _ints(path, number, tokens)
        if not values or len(values) % 2:
            raise ValidationError(
                "a job line needs 'machine duration' pairs", where=f"{path}:{number}"
            )
        ids: list[int] = []
        for k in range(0, len(values), 2):
            mode = _mode(path, number, values[k], values[k + 1], n_machines)
            ids.append(len(operations))
            operations.append(Operation(job=job, modes=(mode,), name=f"j{job}o{k // 2}"))
        job_ops.append(ids)
    return Problem(
        machines=tuple(Machine(name=f"m{m}") for m in range(n_machines)),
        jobs=tuple(Job(name=f"j{j}") for j in range(n_jobs)),
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
        name=path.stem,
    )


def read_fjs(path: str | Path) -> Problem:
    path = Path(path)
    rows = _lines(path)
    n_jobs, n_machines = _header(path, rows)
    _check_job_count(path, rows, n_jobs)
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for job, (number, tokens) in enumerate(rows[1:]):
        values = _ints(path, number, tokens)
        where = f"{path}:{number}"
        if not values or values[0] <= 0:
            raise ValidationError(
                "a job line starts with its positive operation count", where=where
            )
        pos, ids = 1, []
        for k in range(values[0]):
            if pos >= len(values):
                raise ValidationError(f"operation {k} is missing", where=where)
            count = values[pos]
            pairs = values[pos + 1 : pos + 1 + 2 * count]
            if count <= 0 or len(pairs) != 2 * count:
                raise ValidationError(f"operation {k} has a bad machine list", where=where)
            modes = [
                _mode(path, number, pairs[i] - 1, pairs[i + 1], n_machines)
                for i in range(0, len(pairs), 2)
            ]
            if len({mode.machine for mode in modes}) != len(modes):
                raise ValidationError(f"operation {k} lists a machine twice", where=where)
            ids.append(len(operations))
            operations.append(Operation(job=job, modes=tuple(modes), name=f"j{job}o{k}"))
            pos += 1 + 2 * count
        if pos != len(values):
            raise ValidationError("trailing numbers after the last operation", where=where)
        job_ops.append(ids)
    return Problem(
        machines=tuple(Machine(name=f"m{m}") for m in range(n_machines)),
        jobs=tuple(Job(name=f"j{j}") for j in range(n_jobs)),
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
        name=path.stem,
    )


def _json_int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"must be an integer, got {value!r}", where=where)
    if value < minimum:
        raise ValidationError(f"must be >= {minimum}, got {value}", where=where)
    return value


def read_due_date_json(path: str | Path) -> Problem:
    """A job shop with due dates and weights (see the module docstring); the number of
    machines is one more than the largest machine index used."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read instance: {exc}", where=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from exc
    if not isinstance(document, dict):
        raise ValidationError("the instance must be a JSON object", where=str(path))
    name = document.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ValidationError("must be a non-empty string", where=f"{path}:name")
    raw_jobs = document.get("jobs")
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise ValidationError("must be a non-empty list of jobs", where=f"{path}:jobs")
    jobs: list[Job] = []
    operations: list[Operation] = []
    job_ops: list[list[int]] = []
    for j, raw in enumerate(raw_jobs):
        where = f"{path}:jobs[{j}]"
        if not isinstance(raw, dict):
            raise ValidationError("a job must be an object", where=where)
        for key in ("weight", "due", "ops"):
            if key not in raw:
                raise ValidationError(f"missing {key!r}", where=where)
        weight = _json_int(raw["weight"], f"{where}.weight")
        due = _json_int(raw["due"], f"{where}.due")
        release = _json_int(raw.get("release", 0), f"{where}.release")
        ops = raw["ops"]
        if not isinstance(ops, list) or not ops:
            raise ValidationError("must be a non-empty list", where=f"{where}.ops")
        ids: list[int] = []
        for k, pair in enumerate(ops):
            at = f"{where}.ops[{k}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValidationError("an operation is [machine, duration]", where=at)
            machine = _json_int(pair[0], f"{at}[0]")
            duration = _json_int(pair[1], f"{at}[1]")
            ids.append(len(operations))
            operations.append(Operation(job=j, modes=(Mode(machine, duration),), name=f"j{j}o{k}"))
        jobs.append(Job(name=f"j{j}", release=release, due=due, weight=weight))
        job_ops.append(ids)
    n_machines = 1 + max(op.modes[0].machine for op in operations)
    return Problem(
        machines=tuple(Machine(name=f"m{m}") for m in range(n_machines)),
        jobs=tuple(jobs),
        operations=tuple(operations),
        precedences=chain_precedences(job_ops),
        name=name,
    )
