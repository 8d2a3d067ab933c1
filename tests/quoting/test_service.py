"""The quoting use case and the `microfactory quote` command on the demo factory."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trimesh
from typer.testing import CliRunner

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.clock import FixedClock
from microfactory.core.errors import ValidationError
from microfactory.orders.factory_file import load_factory
from microfactory.quoting.leadtime import LeadTimeRule, promise_date
from microfactory.services.quoting import quote_upload

from .conftest import binary_stl

CUBE = binary_stl(trimesh.creation.box((20, 20, 20)))
FRIDAY_NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CLI_KEYS = {
    "volume_mm3",
    "surface_mm2",
    "bbox_mm",
    "mass_g",
    "machine_hours",
    "price",
    "currency",
    "promised_date",
    "process",
    "warnings",
}


def test_promise_skips_the_weekend() -> None:
    # one production day + one handling day from a Friday: Monday, then Tuesday
    rule = LeadTimeRule(hours_per_day=8, free_share=1.0, handling_days=1)
    assert promise_date(FRIDAY_NOON, 4.0, 1, rule) == datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_promise_grows_with_machine_hours_over_capacity() -> None:
    rule = LeadTimeRule(hours_per_day=10, free_share=0.5, handling_days=0, work_weekends=True)
    # 2 machines × 10 h × 50 % = 10 h a day → 35 h need 4 days
    assert promise_date(FRIDAY_NOON, 35.0, 2, rule) == datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_quote_upload_on_the_demo_factory() -> None:
    factory = load_factory(DEMO_FACTORY)
    response = quote_upload(
        factory,
        CUBE,
        "cube.stl",
        material="pla-black",
        quantity=3,
        clock=FixedClock(FRIDAY_NOON),
        units="mm",
    )
    data = response.to_dict()
    assert set(data) >= CLI_KEYS
    assert data["currency"] == factory.site.currency
    assert data["volume_mm3"] == pytest.approx(8000.0)
    assert data["process"] == "fdm"
    assert data["promise_basis"].startswith("lead-time rule")
    assert response.promised_date > FRIDAY_NOON


def test_refused_upload_raises_validation_error() -> None:
    with pytest.raises(ValidationError, match="empty"):
        quote_upload(
            load_factory(DEMO_FACTORY),
            b"",
            "x.stl",
            material="pla-black",
            quantity=1,
            clock=FixedClock(FRIDAY_NOON),
        )


def test_cli_quote_json_has_the_contract_keys(write: Callable[[str, bytes], Path]) -> None:
    from microfactory.cli.main import app

    path = write("cube.stl", CUBE)
    result = CliRunner().invoke(
        app,
        [
            "quote",
            str(path),
            "--material",
            "pla-black",
            "--quantity",
            "2",
            "--json",
            "--factory",
            str(DEMO_FACTORY),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= CLI_KEYS
    assert data["bbox_mm"] == [20.0, 20.0, 20.0]
    assert data["quantity"] == 2


def test_cli_refuses_a_corrupt_file_with_exit_code_2(write: Callable[[str, bytes], Path]) -> None:
    path = write("broken.stl", b"\x00garbage" * 50)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "microfactory",
            "quote",
            str(path),
            "--material",
            "pla-black",
            "--factory",
            str(DEMO_FACTORY),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "not an STL" in proc.stderr
    assert proc.stdout == ""


def test_cli_quote_holds_and_accept_makes_an_order(
    write: Callable[[str, bytes], Path], tmp_path: Path
) -> None:
    from microfactory.cli.main import app

    db = f"sqlite:///{tmp_path / 'mf.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    customer = load_factory(DEMO_FACTORY).customers[0].id
    path = write("cube.stl", CUBE)
    quoted = runner.invoke(
        app,
        [
            "quote",
            str(path),
            "-m",
            "pla-black",
            "-q",
            "2",
            "--json",
            "--db",
            db,
            "--customer",
            customer,
        ],
    )
    assert quoted.exit_code == 0, quoted.output
    data = json.loads(quoted.output)
    assert data["promise_basis"].startswith("capable-to-promise")
    accepted = runner.invoke(app, ["quote", "accept", data["quote_id"], "--json", "--db", db])
    assert accepted.exit_code == 0, accepted.output
    order = json.loads(accepted.output)
    assert order["order_id"].startswith("SO")
    assert len(order["tracking_token"]) >= 32
