"""The CLI as a user runs it: a real process, a real database file, exit codes."""

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from microfactory.bootstrap import DEMO_FACTORY


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "microfactory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def dump(db: Path) -> str:
    """A content fingerprint of every table (schema and rows)."""
    conn = sqlite3.connect(db)
    try:
        lines = list(conn.iterdump())
    finally:
        conn.close()
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`microfactory init` run once; each test gets a copy of the resulting database."""
    folder = tmp_path_factory.mktemp("template")
    db = folder / "shop.db"
    result = run("init", "--factory", str(DEMO_FACTORY), "--db", f"sqlite:///{db}", cwd=folder)
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


@pytest.fixture
def initialized(template_db: Path, tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "shop.db"
    shutil.copyfile(template_db, db)
    return db, f"sqlite:///{db}"


def test_init_then_show_factory(initialized: tuple[Path, str], tmp_path: Path) -> None:
    _, url = initialized
    result = run("factory", "show", "--json", "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["site"] == "demo"
    assert len(data["machines"]) == 15


def test_init_with_broken_factory_exits_2_and_leaves_db_unchanged(
    initialized: tuple[Path, str], tmp_path: Path
) -> None:
    db, url = initialized
    before = dump(db)
    broken = tmp_path / "broken.yaml"
    text = DEMO_FACTORY.read_text().replace("capability: paint,", "capability: teleport,", 1)
    assert text != DEMO_FACTORY.read_text()
    broken.write_text(text)
    result = run("init", "--factory", str(broken), "--db", url, cwd=tmp_path)
    assert result.returncode == 2
    assert "broken.yaml" in result.stderr
    assert "routing[2].capability" in result.stderr
    assert "unknown capability 'teleport'" in result.stderr
    assert dump(db) == before


def test_orders_add_and_list(initialized: tuple[Path, str], tmp_path: Path) -> None:
    _, url = initialized
    add = run(
        "orders", "add", "--customer", "acme", "--product", "bracket", "--quantity", "3",
        "--param", "colour=white", "--due", "2027-01-10T12:00:00Z", "--json", "--db", url,
        cwd=tmp_path,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    listed = run("orders", "list", "--json", "--db", url, cwd=tmp_path)
    orders = json.loads(listed.stdout)
    assert [o["id"] for o in orders] == [json.loads(add.stdout)["id"]]
    assert orders[0]["lines"] == [{"product": "bracket", "quantity": 3}]


def test_orders_add_rejects_bad_parameter(initialized: tuple[Path, str], tmp_path: Path) -> None:
    _, url = initialized
    result = run(
        "orders", "add", "--customer", "acme", "--product", "bracket", "--param", "colour=pink",
        "--db", url, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "colour='pink' is not one of" in result.stderr


CSV_OK = """order_id,customer,product,quantity,due,priority,parameters
A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,colour=white;length_mm=120
A-1,acme,alu-plate,1,2027-01-10T12:00:00Z,3,
B-7,smile,dental-model,10,2027-01-12T12:00:00Z,4,"{""arch"": ""lower""}"
"""


def test_orders_import_groups_rows_into_orders(
    initialized: tuple[Path, str], tmp_path: Path
) -> None:
    _, url = initialized
    csv = tmp_path / "orders.csv"
    csv.write_text(CSV_OK)
    result = run("orders", "import", str(csv), "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    orders = json.loads(run("orders", "list", "--json", "--db", url, cwd=tmp_path).stdout)
    assert sorted(o["id"] for o in orders) == ["A-1", "B-7"]
    a1 = next(o for o in orders if o["id"] == "A-1")
    assert len(a1["lines"]) == 2


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("C-1,acme,bracket,many,2027-01-10T12:00:00Z,3,", "is not a whole number"),  # quantity
        ("C-1,acme,widget,1,2027-01-10T12:00:00Z,3,", "unknown product 'widget'"),  # product
        ("C-1,acme,bracket,1,next week,3,", "not an RFC 3339 timestamp"),  # due date
        ("C-1,nobody,bracket,1,2027-01-10T12:00:00Z,3,", "unknown customer"),  # customer
        ("C-1,acme,bracket,1,2027-01-10T12:00:00Z,3,colour=pink", "not one of"),  # parameter
    ],
)
def test_orders_import_bad_row_names_line_and_stores_nothing(
    initialized: tuple[Path, str], tmp_path: Path, bad_row: str, reason: str
) -> None:
    db, url = initialized
    before = dump(db)
    csv = tmp_path / "orders.csv"
    csv.write_text(CSV_OK + bad_row + "\n")
    result = run("orders", "import", str(csv), "--db", url, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "orders.csv:5" in result.stderr
    assert reason in result.stderr
    assert dump(db) == before


def test_unsupported_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = run("orders", "list", "--db", "mysql://x", cwd=tmp_path)
    assert result.returncode == 2
    assert "unsupported database URL" in result.stderr
