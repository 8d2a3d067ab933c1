"""API test fixtures: the real app over a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from microfactory.access import Role

from .support import Env, make_env, seed


@pytest.fixture
def env(migrated_db_url: str) -> Iterator[Env]:
    """The app over SQLite and over PostgreSQL."""
    yield from make_env(migrated_db_url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Role, str]]:
    """A seeded SQLite file, made once and copied for each test (seeding takes a second)."""
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    tokens = seed(f"sqlite:///{path}")
    return path, tokens


@pytest.fixture
def sqlite_env(sqlite_template: tuple[Path, dict[Role, str]], tmp_path: Path) -> Iterator[Env]:
    """The app over SQLite only (for tests where the store does not matter)."""
    template, tokens = sqlite_template
    target = tmp_path / "microfactory.db"
    shutil.copyfile(template, target)
    yield from make_env(f"sqlite:///{target}", dict(tokens))
