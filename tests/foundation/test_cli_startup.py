"""Start-up of the command line: `microfactory quote` loads only what quoting needs, and a
database already at the newest schema is opened without running Alembic."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

import microfactory
from microfactory.store.migrate import declared_heads, expected_heads, upgrade

PROBE = """
import sys
sys.argv = ["microfactory", *sys.argv[1:]]
from microfactory.cli import main
try:
    main.main()
except SystemExit:
    pass
heavy = ("ortools", "numba", "pandas", "alembic", "trimesh", "scipy")
print(" ".join(sorted(m for m in heavy if m in sys.modules)))
"""


def test_heads_read_from_the_migration_files_are_alembics_heads() -> None:
    assert declared_heads() == expected_heads()


def test_a_database_at_the_heads_is_not_migrated_again(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    upgrade(engine)
    before = sys.modules.copy()
    upgrade(engine)  # already at the heads: nothing to do
    with engine.connect() as conn:
        stored = {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    assert stored == expected_heads()
    assert set(sys.modules) == set(before)


def _loaded(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter on this source tree; the last line of stdout names
    the heavy packages it loaded."""
    src = str(Path(microfactory.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=src)
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_quote_does_not_load_the_planner_or_alembic(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shop.db'}"
    assert _loaded("init", "--db", db, cwd=tmp_path).returncode == 0
    model = tmp_path / "cube.stl"
    import trimesh

    trimesh.creation.box(extents=(10, 10, 10)).export(model)
    result = _loaded("quote", str(model), "--material", "pla-black", "--db", db, cwd=tmp_path)
    assert "price" in result.stdout, result.stderr
    # none of ortools, numba, pandas, alembic, trimesh, scipy
    assert result.stdout.splitlines()[-1] == ""


def test_a_group_command_still_finds_subcommands_from_every_module(tmp_path: Path) -> None:
    # `orders show` is added to the `orders` group by another module than the group's own
    result = _loaded("orders", "show", "--help", cwd=tmp_path)
    assert "ORDER" in result.stdout.upper(), result.stderr
