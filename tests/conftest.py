"""Shared test fixtures: the reference data committed under tests/data, service availability,
and one database per test for every store (SQLite file and the real PostgreSQL at
127.0.0.1:5432): empty (`sqlite_url`, `pg_url`, `db_url`), or already at the newest schema
(`migrated_sqlite_url`, `migrated_pg_url`, `migrated_db_url`: a copy of a template migrated
once per process, for the many tests whose subject is not the migrations).

Tests that need a service skip when it is missing, except under CI=true, where they fail:
CI runs on a machine that has the services, so a missing one is a real failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class _PgDatabases:
    """This process's PostgreSQL test databases. Each test gets its own database; one that
    asks for the newest schema gets a copy of a template migrated once per process (each
    pytest-xdist worker has its own; a copy takes a tenth of a second, migrating two
    seconds). Databases are dropped on a background thread (PostgreSQL checkpoints on each
    DROP DATABASE), all before the session ends; a failed drop fails the session."""

    def __init__(self) -> None:
        from concurrent.futures import Future, ThreadPoolExecutor

        from sqlalchemy import create_engine

        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.base = PG_ADMIN_URL.rsplit("/", 1)[0]
        self.template: str | None = None
        self.dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")
        self.drops: list[Future[None]] = []

    def _execute(self, sql: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def create(self, *, migrated: bool) -> str:
        name = f"mf_test_{uuid.uuid4().hex[:12]}"
        if migrated:
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._migrated_template()}"')
        else:
            self._execute(f'CREATE DATABASE "{name}"')
        return name

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def _migrated_template(self) -> str:
        if self.template is None:
            from microfactory.store.base import make_engine
            from microfactory.store.migrate import upgrade

            name = f"mf_template_{uuid.uuid4().hex[:12]}"
            self._execute(f'CREATE DATABASE "{name}"')
            engine = make_engine(self.url(name))
            try:
                upgrade(engine)
            finally:
                # a template must have no connections while it is copied
                engine.dispose()
            self.template = name
        return self.template

    def check_closed(self, name: str) -> None:
        """Fail the test that leaves a connection to its database open. Such a connection,
        found later by the garbage collector, warns (an error under `-W error`) inside
        whichever test is running then, on whichever worker."""
        import gc

        from sqlalchemy import text

        gc.collect()  # a connection only unreachable is closed (and warns) here, in its test
        # a backend whose client went away ends at once: the slack is for a loaded CI
        deadline = time.monotonic() + 10.0
        while True:
            with self.admin.connect() as conn:
                open_ = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).scalar_one()
            if not open_ or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not open_, f"the test left {open_} connection(s) to its database {name} open"

    def drop_later(self, name: str) -> None:
        self.drops.append(
            self.dropper.submit(self._execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )

    def close(self) -> None:
        if self.template is not None:
            self.drop_later(self.template)
        self.dropper.shutdown(wait=True)
        self.admin.dispose()
        for drop in self.drops:
            drop.result()  # raises what a drop raised


_pg: _PgDatabases | None = None
_DATABASE_OWNERS: dict[str, str] = {}
"""Which test each PostgreSQL test database was made for: a failure that names a database
(a connection found open by the garbage collector during a later test) is told whose it was."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        text = str(report.longrepr)
        owners = {n: t for n, t in _DATABASE_OWNERS.items() if n in text and t != item.nodeid}
        for name, test in owners.items():
            report.sections.append(("database owner", f"{name} was made for {test}"))
    return report


@pytest.fixture(scope="session", autouse=True)
def _pg_databases_dropped() -> Iterator[None]:
    """Wait, at the end of the session, until every test database is dropped."""
    yield
    global _pg
    if _pg is not None:
        pg, _pg = _pg, None
        pg.close()


def _pg_database(*, migrated: bool = False) -> Iterator[str]:
    global _pg
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    if _pg is None:
        _pg = _PgDatabases()
    pg = _pg
    name = pg.create(migrated=migrated)
    _DATABASE_OWNERS[name] = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
    try:
        yield pg.url(name)
        pg.check_closed(name)
    finally:
        pg.drop_later(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from _pg_database()


@pytest.fixture
def migrated_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, already at the newest schema (for tests
    about something else than migrating), dropped afterwards."""
    yield from _pg_database(migrated=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'microfactory.db'}"


@pytest.fixture(scope="session")
def _sqlite_migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, made once per process (per xdist worker)."""
    from microfactory.store.base import make_engine
    from microfactory.store.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # closing the last connection folds the WAL into the file
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "template WAL not checkpointed"
    return path


@pytest.fixture
def migrated_sqlite_url(_sqlite_migrated_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite file for one test, already at the newest schema (a copy of a template
    migrated once)."""
    target = tmp_path / "microfactory.db"
    assert not target.exists(), "a test asked for two SQLite databases at the same path"
    shutil.copyfile(_sqlite_migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a fresh SQLite file and on a fresh PostgreSQL db."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'microfactory.db'}"
    else:
        yield from _pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_db_url(request: pytest.FixtureRequest) -> str:
    """As `db_url` (each test runs on SQLite and on PostgreSQL), but the fresh database is
    already at the newest schema: for tests whose subject is not the migrations (these run
    on empty databases through `db_url`, `sqlite_url` and `pg_url`)."""
    name = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_pg_url"
    return str(request.getfixturevalue(name))
