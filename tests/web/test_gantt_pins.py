"""Drag and drop on the schedule's Gantt in a real browser (headless Chromium): a planner
drags an operation's bar to another printer 45 minutes later, the operation is pinned there
and the new plan has it there; clicking the bar offers to unpin it, and unpinning plans
again without the pin. Screenshots go to artifacts/web/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from microfactory.access import Role
from microfactory.orders import OrderLine
from microfactory.services.dashboard import take_order
from microfactory.services.orders import OrderRequest

from .conftest import LiveServer, login, shot

pytestmark = pytest.mark.browser

# pixel centre of an operation's bar, and of a machine row at a wall time (site time zone)
BAR_CENTRE = """([op]) => {
  const gd = document.getElementById('gantt'), fl = gd._fullLayout;
  const box = gd.getBoundingClientRect();
  for (const t of gd.data) {
    const i = t.text.indexOf(op);
    if (i < 0) continue;
    const x0 = fl.xaxis.d2p(t.base[i]), x1 = fl.xaxis.d2p(fl.xaxis.d2c(t.base[i]) + t.x[i]);
    const y = fl.yaxis.d2p(t.y[i]);
    return {x: box.left + fl.xaxis._offset + (x0 + x1) / 2, y: box.top + fl.yaxis._offset + y,
            base: t.base[i], machine: t.y[i]};
  }
  return null;
}"""
ROW_Y = """([machine]) => {
  const gd = document.getElementById('gantt'), fl = gd._fullLayout;
  const box = gd.getBoundingClientRect();
  return box.top + fl.yaxis._offset + fl.yaxis.d2p(machine);
}"""


def _plan_with_orders(server: LiveServer) -> Any:
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


def test_dragging_a_bar_pins_the_operation_and_replans_around_it(
    page: Any, live_server: LiveServer
) -> None:
    ctx = live_server.ctx
    plan = _plan_with_orders(live_server)
    now = ctx.clock.now()
    printed = next(
        op
        for op in plan.operations
        if op.machine.startswith("fdm-0") and now <= op.start < now + timedelta(days=2)
    )
    target = "fdm-06" if printed.machine != "fdm-06" else "fdm-05"
    login(page, live_server, Role.PLANNER, "/schedule")
    page.wait_for_selector("#gantt .main-svg")
    before = int(page.locator("#plan-version").get_attribute("data-version") or "0")
    bar = page.evaluate(BAR_CENTRE, [printed.operation])
    assert bar is not None and bar["machine"] == printed.machine
    row_y = page.evaluate(ROW_Y, [target])
    # 45 minutes to the right, in the chart's own scale
    dx = page.evaluate(
        """([base]) => { const xa = document.getElementById('gantt')._fullLayout.xaxis;
          return xa.c2p(xa.d2c(base) + 45 * 60000) - xa.c2p(xa.d2c(base)); }""",
        [bar["base"]],
    )
    page.mouse.move(bar["x"], bar["y"])
    page.mouse.move(bar["x"] + 1, bar["y"])  # plotly's hover needs a move over the bar
    page.mouse.down()
    page.mouse.move(bar["x"] + dx / 2, (bar["y"] + row_y) / 2, steps=4)
    page.mouse.move(bar["x"] + dx, row_y, steps=4)
    page.mouse.up()
    page.wait_for_url(f"**/schedule?version={before + 1}")
    page.wait_for_selector("#gantt .main-svg")
    shot(page, "schedule-gantt-pinned")

    pins = ctx.planning.pins()
    assert [(p.operation, p.machine, p.by) for p in pins] == [
        (printed.operation, target, "planner")
    ]
    pinned_start = pins[0].start
    assert pinned_start is not None
    # the drop lands where the mouse let go: 45 minutes after the old start
    assert abs(pinned_start - (printed.start + timedelta(minutes=45))) <= timedelta(minutes=5)
    current = ctx.planning.current()
    assert current is not None and current.version == before + 1
    placed = next(op for op in current.operations if op.operation == printed.operation)
    assert (placed.machine, placed.start) == (target, pinned_start)
    record = ctx.audit.find(limit=1)[0]
    assert record.action == "POST /schedule/pin" and record.actor == "planner"
    page.wait_for_selector(f'#pin-table tr[data-operation="{printed.operation}"]')
    page.wait_for_selector("#gantt[data-pins-shown]")
    outline = page.evaluate(
        """([op]) => { for (const t of document.getElementById('gantt').data) {
            const i = t.text.indexOf(op); if (i >= 0) return t.marker.line.width[i]; } }""",
        [printed.operation],
    )
    assert outline == 3  # the pinned bar is outlined

    # unpin from the bar: click it, then the panel's button
    bar = page.evaluate(BAR_CENTRE, [printed.operation])
    page.mouse.move(bar["x"], bar["y"])
    page.mouse.move(bar["x"] + 1, bar["y"])
    page.mouse.down()
    page.mouse.up()
    page.click("#unpin-selected")
    page.wait_for_url(f"**/schedule?version={before + 2}")
    assert ctx.planning.pins() == []
    assert "unpin" in (ctx.planning.current().reason or "")


def test_a_viewer_gets_no_drag_and_cannot_pin(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, Role.VIEWER, "/schedule")
    assert page.locator("#pins").count() == 0
    status = page.evaluate(
        """async () => (await fetch('/schedule/pin', {method: 'POST', body: new URLSearchParams(
            {operation: 'SO-1-1-1', machine: 'fdm-01'})})).status"""
    )
    assert status == 403


def test_a_drop_the_planner_cannot_keep_says_why_and_changes_nothing(
    page: Any, live_server: LiveServer
) -> None:
    ctx = live_server.ctx
    plan = ctx.planning.current() or _plan_with_orders(live_server)
    printed = next(op for op in plan.operations if op.machine.startswith("fdm-0"))
    login(page, live_server, Role.PLANNER, "/schedule")
    page.wait_for_selector("#gantt .main-svg")
    before = ctx.planning.current()
    # what the script sends for a drop on the inspection row, which cannot print
    answer = page.evaluate(
        """async ([op]) => { const form = new FormData();
          form.append('operation', op); form.append('machine', 'inspect');
          form.append('start_local', '');
          const r = await fetch('/schedule/pin', {method: 'POST', body: form, headers: {
            'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}});
          return [r.status, await r.json()]; }""",
        [printed.operation],
    )
    assert answer[0] == 422
    assert "inspect cannot run operation" in answer[1]["detail"]
    assert ctx.planning.pins() == []
    after = ctx.planning.current()
    assert after is not None and before is not None and after.version == before.version


def test_the_pin_form_works_from_the_keyboard(page: Any, live_server: LiveServer) -> None:
    ctx = live_server.ctx
    plan = ctx.planning.current() or _plan_with_orders(live_server)
    printed = next(op for op in plan.operations if op.machine.startswith("fdm-0"))
    target = "fdm-04" if printed.machine != "fdm-04" else "fdm-03"
    login(page, live_server, Role.PLANNER, "/schedule")
    page.wait_for_selector("#gantt .main-svg")
    before = int(page.locator("#plan-version").get_attribute("data-version") or "0")
    page.focus("#pin-operation")
    page.keyboard.type(printed.operation)
    page.keyboard.press("Tab")
    page.select_option("#pin-machine", target)
    page.focus("#pin-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/schedule?version={before + 1}")
    pins = ctx.planning.pins()
    assert [(p.operation, p.machine, p.start) for p in pins] == [(printed.operation, target, None)]
    current = ctx.planning.current()
    assert current is not None
    assert next(op for op in current.operations if op.operation == printed.operation).machine == (
        target
    )
    ctx.planning.unpin(printed.operation)
