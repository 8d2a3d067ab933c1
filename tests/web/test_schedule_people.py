"""The schedule by person in a real browser (headless Chromium): after planning two orders,
the people Gantt has a lane per operator of the demo crew, and an operator's lane shows the
part of an operation the plan gives them, on shift; the page reads at phone width (390 px)
without sideways scrolling. Screenshots go to artifacts/web/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from microfactory.access import Role
from microfactory.orders import OrderLine
from microfactory.services.dashboard import take_order
from microfactory.services.orders import OrderRequest
from microfactory.services.planning_people import plan_people

from .conftest import LiveServer, login, shot

pytestmark = pytest.mark.browser

# the bars of an operation in the people chart: (lane, part) of each
BARS_OF = """([op]) => {
  const gd = document.getElementById('people-gantt');
  const out = [];
  for (const t of gd.data) {
    if (!t.text) continue;
    t.text.forEach((name, i) => { if (name === op) out.push([t.y[i], t.name, t.base[i]]); });
  }
  return out;
}"""
LANES = """() => document.getElementById('people-gantt')._fullLayout.yaxis.tickvals"""


def _planned(server: LiveServer) -> Any:
    ctx = server.ctx
    for i in range(2):
        take_order(
            ctx.uow,
            ctx.clock,
            OrderRequest(
                customer="acme",
                lines=(OrderLine(product="bracket", quantity=2 + i),),
                due=ctx.clock.now() + timedelta(days=2 + i),
            ),
            True,
        )
    return ctx.planning.plan()


def test_the_people_lanes_show_an_operators_assignment(page: Any, live_server: LiveServer) -> None:
    ctx = live_server.ctx
    plan = _planned(live_server)
    now = ctx.clock.now()
    people = plan_people(ctx.uow, plan, now - timedelta(hours=12), now + timedelta(days=3))
    lane = next(lane for lane in people.lanes if lane.assignments)
    assignment = lane.assignments[0]
    login(page, live_server, Role.VIEWER, "/schedule")
    page.click("#people-view")
    page.wait_for_url(f"{live_server.url}/schedule/people")
    page.wait_for_selector("#people-gantt .main-svg")
    assert page.locator("#plan-version").get_attribute("data-version") == str(plan.version)
    lanes = page.evaluate(LANES)
    assert lanes == [p.operator for p in people.lanes]  # every operator has a lane
    bars = page.evaluate(BARS_OF, [assignment.operation])
    assert [lane.operator, assignment.part] in [bar[:2] for bar in bars]
    row = page.locator(f"tr[data-operator='{lane.operator}']")
    row.locator("summary").click()
    item = row.locator(f"li[data-operation='{assignment.operation}']").first
    assert item.is_visible()
    assert assignment.part in item.inner_text() and assignment.machine in item.inner_text()
    shot(page, "schedule-people")


def test_the_people_view_fits_a_phone(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        if live_server.ctx.planning.current() is None:
            _planned(live_server)
        login(page, live_server, Role.VIEWER, "/schedule/people")
        page.wait_for_selector("#people-gantt .main-svg")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1
        shot(page, "schedule-people-390")
    finally:
        context.close()
