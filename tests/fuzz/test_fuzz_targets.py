"""The atheris fuzz targets (issue 22), in `make test`: every committed corpus input replays
cleanly in-process, and a short coverage-guided run per target finds no crash, no input slower
than 20 s and no memory peak over 2 GB. The only allowed failure is each target's documented
ValidationError.

The short run is bounded by a count of executions: the committed corpus plus `NEW_RUNS` mutated
inputs per target (sized to a few seconds each on a CI machine; MICROFACTORY_FUZZ_RUNS to
change), with MICROFACTORY_FUZZ_SECONDS (default 30) as a ceiling on a slow machine. A count,
unlike a time, does the same work on a fast and on a loaded machine. Longer runs that grow the
corpus: benchmarks/fuzz/run.py."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI

HERE = Path(__file__).resolve().parent
TARGETS = ["mqtt_payload", "model_intake", "factory_yaml", "orders_csv"]
FUZZ_SECONDS = int(os.environ.get("MICROFACTORY_FUZZ_SECONDS", "30"))
# mutated inputs per target beyond the corpus replay; about a thousand executions a second for
# the payload and model targets, a few hundred for the CSV, tens for the factory file
NEW_RUNS = {"mqtt_payload": 5000, "model_intake": 5000, "factory_yaml": 300, "orders_csv": 1000}
RUNS_OVERRIDE = os.environ.get("MICROFACTORY_FUZZ_RUNS")


def need_atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("atheris is not installed (pip install -e '.[dev]')")
        pytest.skip("atheris is not installed (pip install -e '.[dev]')")


def corpus(target: str) -> list[Path]:
    return sorted((HERE / "corpus" / target).iterdir())


@pytest.mark.parametrize("target", TARGETS)
def test_every_corpus_input_replays_without_a_crash(target: str) -> None:
    need_atheris()
    module = importlib.import_module(f"fuzz.{target}" if __package__ == "fuzz" else target)
    files = corpus(target)
    assert len(files) >= 4
    for path in files:
        module.TestOneInput(path.read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_a_short_fuzz_run_finds_no_crash(target: str, tmp_path: Path) -> None:
    need_atheris()
    found = tmp_path / "found"
    found.mkdir()
    new_runs = int(RUNS_OVERRIDE) if RUNS_OVERRIDE else NEW_RUNS[target]
    command = [
        sys.executable,
        str(HERE / f"{target}.py"),
        f"-runs={len(corpus(target)) + new_runs}",
        f"-max_total_time={FUZZ_SECONDS}",
        "-timeout=20",
        "-rss_limit_mb=2048",
        "-max_len=65536",
        f"-artifact_prefix={tmp_path}/",
        str(found),  # new inputs go here, the committed corpus stays as it is
        str(HERE / "corpus" / target),
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=FUZZ_SECONDS + 300, check=False
    )
    crashes = sorted(p for p in tmp_path.iterdir() if p.is_file())
    if proc.returncode != 0 or crashes:
        shown = [f"{p.name}: {p.read_bytes()[:300]!r}" for p in crashes]
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        pytest.fail(f"fuzz target {target} failed (exit {proc.returncode}):\n{shown}\n{tail}")
    assert "Done" in proc.stderr
