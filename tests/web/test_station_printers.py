"""Printers on the shop-floor pages: the station terminal of a printer with a host confirms a
clear plate and loads a spool (the print farm's records, with who did it), the machines index
and the overview's printer tiles show each printer's live status, and the printer tiles are
pushed over Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.support import FAST_HASHER, NOW, PASSWORD, Env, make_env
from microfactory.access import Role
from microfactory.api.composition import build_app
from microfactory.bootstrap import bootstrap
from microfactory.core.clock import FixedClock
from microfactory.printfarm_bootstrap import build_print_farm
from microfactory.services.factory import init_factory
from printfarm.conftest import farm_factory

from .test_pages import logged_in


@pytest.fixture
def farm_env(tmp_path: Path) -> Iterator[Env]:
    """The app over a print farm of two OctoPrint printers (nothing listens at their URL:
    these pages read and write the print farm's records, not the hosts)."""
    url = f"sqlite:///{tmp_path / 'farm.db'}"
    path = farm_factory(
        tmp_path / "farm.yaml", {"p1": "http://127.0.0.1:9", "p2": "http://127.0.0.1:9"}
    )
    container = bootstrap(db_url=url)
    try:
        init_factory(container.uow, path)
        build_print_farm(container, hosts=lambda m: "not driven in this test").close()
        ctx = build_app(container, FixedClock(NOW), FAST_HASHER, auth_clock=FixedClock(NOW))
        tokens = {}
        for role in Role:
            ctx.state.ctx.auth.add_user(role.value, PASSWORD, role)
            tokens[role], _ = ctx.state.ctx.auth.issue_token(role.value, "test")
    finally:
        container.close()
    yield from make_env(url, tokens)


def test_an_operator_loads_a_spool_and_clears_the_plate_at_the_station(farm_env: Env) -> None:
    c, csrf = logged_in(farm_env, Role.OPERATOR)
    page = c.get("/stations/p1")  # type: ignore[attr-defined]
    assert page.status_code == 200 and "Plate is clear" in page.text and "not clear" in page.text
    r = c.post(  # type: ignore[attr-defined]
        "/stations/p1/spool",
        data={"material": "pla-white", "lot": "PLA-W-1", "grams": "750", "csrf_token": csrf},
    )
    assert r.status_code == 303, r.text
    r = c.post("/stations/p1/plate-clear", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303, r.text
    (row,) = [p for p in farm_env.ctx.printers.report() if p["machine"] == "p1"]  # type: ignore[union-attr]
    assert (row["plate_clear"], row["material"], row["lot"], row["remaining_g"]) == (
        True,
        "pla-white",
        "PLA-W-1",
        750.0,
    )
    assert row["changed_by"] == "user:operator"


def test_a_wrong_spool_is_refused_with_the_reason(farm_env: Env) -> None:
    c, csrf = logged_in(farm_env, Role.OPERATOR)
    r = c.post(  # type: ignore[attr-defined]
        "/stations/p1/spool", data={"material": "pla-pink", "csrf_token": csrf}
    )
    assert r.status_code == 422 and "unknown material" in r.text
    r = c.post(  # type: ignore[attr-defined]
        "/stations/p1/spool", data={"material": "pla-white", "grams": "-1", "csrf_token": csrf}
    )
    assert r.status_code == 422 and "must not be negative" in r.text
    (row,) = [p for p in farm_env.ctx.printers.report() if p["machine"] == "p1"]  # type: ignore[union-attr]
    assert row["material"] is None


def test_printers_show_on_the_machines_index_and_the_overview(farm_env: Env) -> None:
    c, _ = logged_in(farm_env)
    index = c.get("/machines").text  # type: ignore[attr-defined]
    assert 'data-machine="p1"' in index and 'data-machine="p2"' in index
    panel = c.get("/printers/panel")  # type: ignore[attr-defined]
    assert panel.status_code == 200
    assert 'data-printer="p1"' in panel.text and 'sse-connect="/stream/printers"' in panel.text
    assert 'hx-get="/printers/panel"' in c.get("/").text  # type: ignore[attr-defined]


def test_the_overview_has_no_printer_section_without_printers(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    panel = c.get("/printers/panel")  # type: ignore[attr-defined]
    assert panel.status_code == 200 and panel.text == ""
