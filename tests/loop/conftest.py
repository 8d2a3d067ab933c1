"""Loop fixtures: one short seeded demo run on SQLite shared by the recomputation tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.cli.demo import run_demo

DAYS = 3
SEED = 11


@dataclass
class DemoRun:
    url: str
    summary: dict[str, Any]


def demo_run(url: str, days: float, seed: int, factory: Path = DEMO_FACTORY, **kw: Any) -> DemoRun:
    container = bootstrap(db_url=url, migrate=False)
    try:
        summary = run_demo(container, days=days, seed=seed, factory_file=factory, **kw)
    finally:
        container.close()
    return DemoRun(url, summary)


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    path = tmp_path_factory.mktemp("loop") / "demo.db"
    yield demo_run(f"sqlite:///{path}", DAYS, SEED, bus="memory")
