"""Shared test fixtures: the reference data committed under tests/data, service availability,
and one database per test for every store (SQLite file and the real PostgreSQL at
127.0.0.1:5432).

Tests that need a service skip when it is missing, except under CI=true, where they fail:
CI runs on a machine that has the services, so a missing one is a real failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_HOST = os.environ.get("MICROFACTORY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MICROFACTORY_TEST_PG_PORT", "5432"))
PG_ADMIN_URL = os.environ.get(
    "MICROFACTORY_TEST_PG_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"
)
MQTT_HOST = os.environ.get("MICROFACTORY_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("MICROFACTORY_TEST_MQTT_PORT", "1883"))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when the service is unreachable; fail under CI=true."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


REFERENCE_DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """`tests/data`: the published data sets the tests read, committed with the tests."""
    return REFERENCE_DATA


@pytest.fixture
def mqtt_broker() -> tuple[str, int]:
    require_service("Mosquitto", MQTT_HOST, MQTT_PORT)
    return MQTT_HOST, MQTT_PORT


def _pg_database() -> Iterator[str]:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    from sqlalchemy import create_engine, text

    name = f"mf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from _pg_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'microfactory.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a fresh SQLite file and on a fresh PostgreSQL db."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'microfactory.db'}"
    else:
        yield from _pg_database()
