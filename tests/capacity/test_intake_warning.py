"""The intake warning where people take orders: the order page after "Take order" on the
dashboard, and `microfactory orders add --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.support import Env
from microfactory.access import Role
from microfactory.bootstrap import DEMO_FACTORY
from web.test_pages import logged_in


def take(env: Env, product: str, quantity: str, due: str) -> str:
    c, csrf = logged_in(env, Role.PLANNER)
    r = c.post(  # type: ignore[attr-defined]
        "/orders/new",
        data={
            "customer": "acme",
            "lines-0-product": product,
            "lines-0-quantity": quantity,
            "due": due,
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303, r.text[:300]
    page = c.get(r.headers["location"])  # type: ignore[attr-defined]
    assert page.status_code == 200
    return str(page.text)


def test_an_order_that_cannot_make_its_date_is_warned_on_its_page(sqlite_env: Env) -> None:
    # now is 2026-01-12 10:00 in Berlin; three large prototypes take over a day to print
    html = take(sqlite_env, "large-prototype", "3", "2026-01-12T20:00")
    assert 'id="capacity-check"' in html
    assert "Capacity warning:" in html and "after the due date" in html


def test_an_order_that_fits_says_so(sqlite_env: Env) -> None:
    html = take(sqlite_env, "bracket", "1", "2026-01-20T10:00")
    assert 'id="capacity-check"' in html
    assert "Capacity warning" not in html and "fits: estimated completion" in html


def test_orders_add_answers_with_the_capacity_check(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shop.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "microfactory", *args, "--db", db],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    assert run("init", "--factory", str(DEMO_FACTORY)).returncode == 0
    # due in two hours: three large prototypes print for over a day
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds")
    late = run(
        "orders", "add", "--customer", "acme", "--product", "large-prototype",
        "--quantity", "3", "--due", soon, "--json",
    )  # fmt: skip
    assert late.returncode == 0, late.stderr
    answer = json.loads(late.stdout)
    assert answer["capacity"]["late"] is True
    assert "after the due date" in answer["capacity"]["message"]
    fits = run(
        "orders", "add", "--customer", "acme", "--product", "bracket", "--quantity", "1",
        "--json",
    )  # fmt: skip
    assert json.loads(fits.stdout)["capacity"]["late"] is False
