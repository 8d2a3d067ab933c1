"""Reference data sets for the quality tests.

Piston-ring inside diameters: Montgomery, *Introduction to Statistical Quality Control*
(Table 6.3 Phase I, 25 samples of 5; Table 6.4 Phase II, samples 26-40), as distributed
with the R package qcc (``pistonrings``).
"""

from __future__ import annotations

import csv
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PISTON_CSV = HERE / "data" / "pistonrings.csv"


@pytest.fixture(scope="session")
def piston_rings() -> np.ndarray:
    """All 40 samples of 5 as a (40, 5) array; rows 0-24 are Phase I."""
    with PISTON_CSV.open(newline="") as handle:
        values = [float(row["value"]) for row in csv.DictReader(handle)]
    return np.asarray(values).reshape(40, 5)


@pytest.fixture(scope="session")
def per_point_rules() -> ModuleType:
    """The per-point Python reference implementation that the benchmark also uses."""
    path = ROOT / "benchmarks" / "quality" / "per_point_rules.py"
    spec = importlib.util.spec_from_file_location("per_point_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _service_reachable(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


QUALITY_TABLES = (
    "quality_measurements",
    "quality_limits",
    "quality_alerts",
    "quality_ncrs",
    "quality_lot_holds",
)


@pytest.fixture(scope="module")
def migrated_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    """One migrated SQLite file and (when reachable) one PostgreSQL database per module;
    tests empty the quality tables instead of migrating a new database each time (the
    function-scoped fixtures of tests/conftest.py cost seconds per test on this machine)."""
    import uuid

    from sqlalchemy import create_engine, text

    from microfactory.store.base import make_engine
    from microfactory.store.migrate import upgrade

    engines: dict[str, Engine] = {}
    sqlite = make_engine(f"sqlite:///{tmp_path_factory.mktemp('quality') / 'q.db'}")
    upgrade(sqlite)
    engines["sqlite"] = sqlite
    host = os.environ.get("MICROFACTORY_TEST_PG_HOST", "127.0.0.1")
    port = int(os.environ.get("MICROFACTORY_TEST_PG_PORT", "5432"))
    admin_url = os.environ.get(
        "MICROFACTORY_TEST_PG_URL", f"postgresql+psycopg://postgres@{host}:{port}/test"
    )
    admin = None
    name = f"mf_quality_{uuid.uuid4().hex[:12]}"
    if _service_reachable(host, port):
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        pg = make_engine(f"{admin_url.rsplit('/', 1)[0]}/{name}")
        upgrade(pg)
        engines["postgresql"] = pg
    try:
        yield engines
    finally:
        for engine in engines.values():
            engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def quality_store(request: pytest.FixtureRequest, migrated_engines: dict[str, Engine]) -> object:
    """The quality store contract on memory, SQLite and PostgreSQL (emptied for each test).
    PostgreSQL skips locally when unreachable and fails under CI=true."""
    from sqlalchemy import text

    from microfactory.store.quality_store import MemoryQualityStore, SqlQualityStore

    if request.param == "memory":
        return MemoryQualityStore()
    engine = migrated_engines.get(request.param)
    if engine is None:
        message = "PostgreSQL is not reachable"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message} (CI=true: services are required)")
        pytest.skip(message)
    with engine.begin() as conn:
        for table in QUALITY_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    return SqlQualityStore(engine)
