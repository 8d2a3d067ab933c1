"""Staff actions through the ASGI client: quotes (upload, price and breakdown, send, accept),
orders (several typed lines, revise, rush, cancel), quality (disposition, CAPA, hold
release). Each with bad input (the reason on the page, nothing changed), CSRF and roles, the
audit record and the replan request planning receives."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from api.support import Env
from api.test_quotes import cube_stl
from microfactory.access import Role
from microfactory.orders import OrderLine, OrderStatus, WorkStatus
from microfactory.services.dashboard import take_order
from microfactory.services.orders import OrderRequest
from microfactory.services.quality import hold_lot, list_ncrs
from microfactory.store.quality_store import SqlQualityStore

from .test_pages import logged_in

ORDER = {
    "customer": "acme",
    "lines": "2",
    "lines-0-product": "bracket",
    "lines-0-quantity": "3",
    "lines-0-bracket-colour": "white",
    "lines-0-bracket-length_mm": "120",
    "lines-1-product": "enclosure",
    "lines-1-quantity": "1",
    "due": "2026-01-25T10:00",
    "priority": "3",
}


def pending_replans(env: Env) -> list[tuple[str, str]]:
    with env.ctx.uow() as tx:
        return [(r.trigger, r.reason) for r in tx.replans.pending()]


def audit_details(env: Env) -> list[str]:
    return [r.detail for r in env.ctx.audit.find(limit=200)]


# quotes -----------------------------------------------------------------------------------
def quote_on_page(c: Any, csrf: str, **fields: str) -> Any:
    form = {"material": "pla-black", "quantity": "2", "units": "mm", "customer": "acme"}
    form.update(fields)
    return c.post(
        "/quotes", files={"file": ("cube.stl", cube_stl())}, data={**form, "csrf_token": csrf}
    )


def test_quotes_page_lists_quotes_and_offers_the_upload_to_a_planner(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env, Role.PLANNER)
    r = c.get("/quotes")  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text and "No quotes yet." in r.text
    assert 'value="pla-black"' in r.text and 'value="resin-grey"' in r.text
    assert 'value="alu-6061"' not in r.text  # not printable: not offered


def test_a_viewer_reads_quotes_without_the_form(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env, Role.VIEWER)
    r = c.get("/quotes")  # type: ignore[attr-defined]
    assert r.status_code == 200 and 'id="quote-form"' not in r.text


def test_staff_quote_an_upload_send_and_accept_it(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = quote_on_page(c, csrf, product="bracket")
    assert r.status_code == 303, r.text
    quote_id = r.headers["location"].rsplit("/", 1)[1]
    page = c.get(r.headers["location"])  # type: ignore[attr-defined]
    assert page.status_code == 200
    stored = sqlite_env.ctx.quotes.get(quote_id)
    assert stored["status"] == "held" and stored["product"] == "bracket"
    assert f"{stored['price']:.2f}" in page.text
    assert "Price breakdown" in page.text and "Machine time" in page.text
    assert "capable-to-promise" in page.text
    sent = c.post(f"/quotes/{quote_id}/send", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert sent.status_code == 303
    assert sqlite_env.ctx.quotes.get(quote_id)["status"] == "sent"
    again = c.post(f"/quotes/{quote_id}/send", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert again.status_code == 409 and "already sent" in again.text
    accepted = c.post(f"/quotes/{quote_id}/accept", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert accepted.status_code == 303, accepted.text
    order_id = accepted.headers["location"].rsplit("/", 1)[1]
    with sqlite_env.ctx.uow() as tx:
        order = tx.orders.get(order_id)
    assert order.status == OrderStatus.RELEASED and order.lines[0].product == "bracket"
    assert order.lines[0].model_ref == quote_id
    after = sqlite_env.ctx.quotes.get(quote_id)
    assert after["status"] == "accepted" and after["order_id"] == order_id
    listing = c.get("/quotes")  # type: ignore[attr-defined]
    assert f'data-quote="{quote_id}"' in listing.text and "accepted" in listing.text
    details = audit_details(sqlite_env)
    assert f"quote {quote_id}" in details and f"quote {quote_id} sent" in details
    assert f"quote {quote_id} -> order {order_id}" in details


def test_a_sent_quote_keeps_its_capacity_reserved(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    quote_id = quote_on_page(c, csrf).headers["location"].rsplit("/", 1)[1]
    store = sqlite_env.ctx.quotes.store
    held = store.reservations(quote_id)
    assert held
    c.post(f"/quotes/{quote_id}/send", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert store.reservations(quote_id) == held
    now = sqlite_env.clock.now()
    assert len(store.held_reservations(now)) >= len(held)


@pytest.mark.parametrize(
    ("fields", "data", "reason"),
    [
        ({}, b"solid broken\nfacet normal 0 0 1\n", "model"),  # a corrupt STL
        ({}, b"", "choose a model file"),  # nothing uploaded
        ({"quantity": "two"}, None, "quantity: must be a whole number"),  # not a number
        ({"material": "alu-6061"}, None, "alu-6061"),  # not a printable material
        ({"customer": "nobody"}, None, "nobody&#39; is unknown; known: acme"),  # unknown customer
        ({"product": "enclosure", "material": "resin-grey"}, None, "resin"),  # wrong process
    ],
)
def test_a_refused_quote_shows_why_and_stores_nothing(
    sqlite_env: Env, fields: dict[str, str], data: bytes | None, reason: str
) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    form = {"material": "pla-black", "quantity": "1", "units": "mm", **fields}
    body = cube_stl() if data is None else data
    r = c.post(  # type: ignore[attr-defined]
        "/quotes", files={"file": ("part.stl", body)}, data={**form, "csrf_token": csrf}
    )
    assert r.status_code == 422, r.text
    assert 'role="alert"' in r.text and reason in r.text
    assert sqlite_env.ctx.quotes.recent() == []


def test_quote_actions_need_quotes_write_and_the_csrf_token(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    quote_id = quote_on_page(c, csrf).headers["location"].rsplit("/", 1)[1]
    no_csrf = c.post(f"/quotes/{quote_id}/accept", data={})  # type: ignore[attr-defined]
    assert no_csrf.status_code == 403
    q, qcsrf = logged_in(sqlite_env, Role.QUALITY)
    for action in ("send", "accept"):
        r = q.post(f"/quotes/{quote_id}/{action}", data={"csrf_token": qcsrf})  # type: ignore[attr-defined]
        assert r.status_code == 403
    assert quote_on_page(q, qcsrf).status_code == 403
    assert sqlite_env.ctx.quotes.get(quote_id)["status"] == "held"


def test_an_unknown_quote_is_404(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    assert c.get("/quotes/Q-nope").status_code == 404  # type: ignore[attr-defined]
    r = c.post("/quotes/Q-nope/accept", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 404


# orders -----------------------------------------------------------------------------------
def test_an_order_of_two_lines_with_typed_parameters(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    form = c.get("/orders/new?lines=2")  # type: ignore[attr-defined]
    assert 'name="lines-1-product"' in form.text
    assert '<select id="lines-0-bracket-colour"' in form.text  # a choice is a select
    assert 'id="lines-0-bracket-length_mm" name="lines-0-bracket-length_mm" type="number"' in (
        form.text
    )
    r = c.post("/orders/new", data={**ORDER, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303, r.text
    order_id = r.headers["location"].rsplit("/", 1)[1]
    with sqlite_env.ctx.uow() as tx:
        order = tx.orders.get(order_id)
    assert [(ln.product, ln.quantity) for ln in order.lines] == [("bracket", 3), ("enclosure", 1)]
    assert order.lines[0].parameters == {"colour": "white", "length_mm": 120.0}
    assert ("order_added", order_id) in pending_replans(sqlite_env)


def test_add_a_line_keeps_what_was_typed(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    form = {**ORDER, "lines": "1", "add_line": "1", "csrf_token": csrf}
    r = c.post("/orders/new", data=form)  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert 'name="lines-1-product"' in r.text and 'value="120"' in r.text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lines-0-bracket-length_mm": "900"}, "above its maximum"),  # out of range
        ({"lines-0-bracket-length_mm": "long"}, "length_mm must be a number"),  # not a number
        ({"lines-0-bracket-colour": "red"}, "colour"),  # not a choice
        ({"lines-1-product": "teapot"}, "unknown product &#39;teapot&#39;"),  # not in the catalog
        ({"lines-1-quantity": "0"}, "line 2"),  # the line is named
        ({"lines-0-product": "", "lines-1-product": ""}, "at least one line"),  # no line
        ({"due": "soon"}, "not a date"),  # not a date
    ],
)
def test_a_refused_order_names_the_problem_and_stores_nothing(
    sqlite_env: Env, change: dict[str, str], reason: str
) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    with sqlite_env.ctx.uow() as tx:
        before = tx.orders.count()
    r = c.post("/orders/new", data={**ORDER, **change, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and reason in r.text, r.text[-2000:]
    with sqlite_env.ctx.uow() as tx:
        assert tx.orders.count() == before


def new_order(env: Env) -> str:
    ctx = env.ctx
    order = take_order(
        ctx.uow,
        ctx.clock,
        OrderRequest(
            customer="acme",
            lines=(OrderLine(product="bracket", quantity=2),),
            due=ctx.clock.now().replace(day=20),
        ),
        True,
    )
    return order.id


def test_revise_an_order_moves_its_work_orders_and_asks_for_a_replan(sqlite_env: Env) -> None:
    order_id = new_order(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(  # type: ignore[attr-defined]
        f"/orders/{order_id}/edit",
        data={
            "due": "2026-01-22T16:00",
            "priority": "5",
            "notes": "call first",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Order changed" in page.text and "priority 3 → 5" in page.text
    with sqlite_env.ctx.uow() as tx:
        order = tx.orders.get(order_id)
        wos = tx.work_orders.find(order=order_id)
    assert order.priority == 5 and order.notes == "call first" and order.due.day == 22
    assert all(w.due == order.due and w.weight == 5 for w in wos)
    assert any(t == "order_changed" and order_id in why for t, why in pending_replans(sqlite_env))
    assert f"order {order_id} revised" in audit_details(sqlite_env)


def test_rush_doubles_the_weight_of_the_open_work(sqlite_env: Env) -> None:
    order_id = new_order(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(f"/orders/{order_id}/rush", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    with sqlite_env.ctx.uow() as tx:
        assert tx.orders.get(order_id).rush
        assert {w.weight for w in tx.work_orders.find(order=order_id)} == {6}
    again = c.post(f"/orders/{order_id}/rush", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert again.status_code == 422 and "nothing changed" in again.text


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"priority": "9"}, "priority must be 1"),  # out of range
        ({"priority": "high"}, "priority: must be a whole number"),  # not a number
        ({"due": "2026-01-01T10:00"}, "must be in the future"),  # in the past
    ],
)
def test_a_refused_revision_changes_nothing(
    sqlite_env: Env, form: dict[str, str], reason: str
) -> None:
    order_id = new_order(sqlite_env)
    with sqlite_env.ctx.uow() as tx:
        before = tx.orders.get(order_id)
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(f"/orders/{order_id}/edit", data={**form, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and reason in r.text
    with sqlite_env.ctx.uow() as tx:
        assert tx.orders.get(order_id) == before


def test_cancel_needs_a_reason_then_cancels_the_open_work(sqlite_env: Env) -> None:
    order_id = new_order(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(f"/orders/{order_id}/cancel", data={"csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and "say why" in r.text
    r = c.post(  # type: ignore[attr-defined]
        f"/orders/{order_id}/cancel", data={"reason": "customer withdrew", "csrf_token": csrf}
    )
    assert r.status_code == 303
    with sqlite_env.ctx.uow() as tx:
        assert tx.orders.get(order_id).status == OrderStatus.CANCELLED
        assert {w.status for w in tx.work_orders.find(order=order_id)} == {WorkStatus.CANCELLED}
        assert "customer withdrew" in tx.orders.timeline(order_id)[-1][2]
    assert ("order_cancelled", f"{order_id}: customer withdrew") in pending_replans(sqlite_env)
    later = c.post(f"/orders/{order_id}/edit", data={"priority": "5", "csrf_token": csrf})  # type: ignore[attr-defined]
    assert later.status_code == 409 and "cancelled" in later.text


def test_order_actions_need_orders_write(sqlite_env: Env) -> None:
    order_id = new_order(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.QUALITY)
    page = c.get(f"/orders/{order_id}")  # type: ignore[attr-defined]
    assert 'id="order-actions"' not in page.text
    for action, form in (("edit", {"priority": "5"}), ("rush", {}), ("cancel", {"reason": "x"})):
        r = c.post(f"/orders/{order_id}/{action}", data={**form, "csrf_token": csrf})  # type: ignore[attr-defined]
        assert r.status_code == 403, action
    with sqlite_env.ctx.uow() as tx:
        assert tx.orders.get(order_id).status == OrderStatus.RELEASED


def test_the_lines_form_shows_the_orders_lines_as_typed_fields(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post("/orders/new", data={**ORDER, "csrf_token": csrf})  # type: ignore[attr-defined]
    order_id = r.headers["location"].rsplit("/", 1)[1]
    page = c.get(f"/orders/{order_id}")  # type: ignore[attr-defined]
    assert f'href="/orders/{order_id}/lines"' in page.text
    form = c.get(f"/orders/{order_id}/lines")  # type: ignore[attr-defined]
    assert form.status_code == 200
    for name, value in (
        ("lines-0-was", "1"),
        ("lines-0-quantity", "3"),
        ("lines-0-bracket-length_mm", "120.0"),
        ("lines-1-was", "2"),
    ):
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', form.text), name
    assert re.search(r'<option value="white" selected>', form.text)  # the chosen colour
    assert 'name="lines-1-remove"' in form.text


def test_edit_an_orders_lines_in_the_form(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post("/orders/new", data={**ORDER, "csrf_token": csrf})  # type: ignore[attr-defined]
    order_id = r.headers["location"].rsplit("/", 1)[1]
    form = {
        "lines": "3",
        "lines-0-was": "1",
        "lines-0-product": "bracket",
        "lines-0-quantity": "5",  # 3 → 5
        "lines-0-bracket-colour": "black",  # white → black
        "lines-1-was": "2",
        "lines-1-product": "enclosure",
        "lines-1-quantity": "1",
        "lines-1-remove": "1",  # removed
        "lines-2-product": "acrylic-sign",  # added
        "lines-2-quantity": "2",
        "lines-2-acrylic-sign-text": "Makerspace",
        "csrf_token": csrf,
    }
    r = c.post(f"/orders/{order_id}/lines", data=form)  # type: ignore[attr-defined]
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Lines changed" in page.text
    with sqlite_env.ctx.uow() as tx:
        order = tx.orders.get(order_id)
        live = [w for w in tx.work_orders.find(order=order_id) if w.status != WorkStatus.CANCELLED]
    assert [(ln.product, ln.quantity, dict(ln.parameters)) for ln in order.lines] == [
        ("bracket", 5, {"colour": "black"}),
        ("acrylic-sign", 2, {"text": "Makerspace"}),
    ]
    assert sorted((w.line_no, w.product, w.quantity) for w in live) == [
        (1, "bracket", 5),
        (2, "acrylic-sign", 2),
    ]
    assert any(t == "order_changed" and order_id in why for t, why in pending_replans(sqlite_env))
    assert f"order {order_id} lines revised" in audit_details(sqlite_env)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"lines-0-quantity": "0"}, "line 1: order line quantity must be between"),  # zero
        ({"lines-0-bracket-length_mm": "900"}, "above its maximum"),  # typed field out of range
        ({"lines-0-bracket-length_mm": "long"}, "must be a number"),  # not a number
        ({"lines-0-remove": "1", "lines-1-remove": "1"}, "at least one line"),  # all removed
        ({"lines-0-was": "9"}, "no line 9"),  # a line the order does not have
    ],
)
def test_a_refused_line_edit_keeps_what_was_typed_and_changes_nothing(
    sqlite_env: Env, fields: dict[str, str], reason: str
) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post("/orders/new", data={**ORDER, "csrf_token": csrf})  # type: ignore[attr-defined]
    order_id = r.headers["location"].rsplit("/", 1)[1]
    with sqlite_env.ctx.uow() as tx:
        before = (tx.orders.get(order_id), tx.work_orders.find(order=order_id))
    form = {
        "lines": "2",
        "lines-0-was": "1",
        "lines-0-product": "bracket",
        "lines-0-quantity": "3",
        "lines-0-bracket-colour": "white",
        "lines-0-bracket-length_mm": "120",
        "lines-1-was": "2",
        "lines-1-product": "enclosure",
        "lines-1-quantity": "1",
        **fields,
        "csrf_token": csrf,
    }
    r = c.post(f"/orders/{order_id}/lines", data=form)  # type: ignore[attr-defined]
    assert r.status_code == 422 and reason in r.text, r.text[-2000:]
    for value in fields.values():
        if value not in ("1",):
            assert f'value="{value}"' in r.text  # what was typed stays
    with sqlite_env.ctx.uow() as tx:
        assert (tx.orders.get(order_id), tx.work_orders.find(order=order_id)) == before


def test_editing_lines_needs_orders_write(sqlite_env: Env) -> None:
    order_id = new_order(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.QUALITY)
    form = {"lines": "1", "lines-0-was": "1", "lines-0-product": "bracket"}
    r = c.post(  # type: ignore[attr-defined]
        f"/orders/{order_id}/lines", data={**form, "lines-0-quantity": "9", "csrf_token": csrf}
    )
    assert r.status_code == 403
    with sqlite_env.ctx.uow() as tx:
        assert tx.orders.get(order_id).lines[0].quantity == 2


# quality ----------------------------------------------------------------------------------
def ncr_on_held_lot(env: Env) -> tuple[str, str]:
    from api.test_quality_api import out_of_spec_part

    order_id = new_order(env)
    lot = f"LOT-{order_id}-1"
    out_of_spec_part(env, lot)
    store = SqlQualityStore(env.container.engine)
    ncr = next(n for n in list_ncrs(store) if n.lot_id == lot)
    return ncr.id, lot


def test_quality_disposition_capa_close_and_release_on_the_page(sqlite_env: Env) -> None:
    ncr_id, lot = ncr_on_held_lot(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.QUALITY)
    page = c.get("/quality")  # type: ignore[attr-defined]
    assert f'action="/quality/ncrs/{ncr_id}/disposition"' in page.text
    assert f'action="/quality/holds/{lot}/release"' in page.text
    early = c.post(f"/quality/holds/{lot}/release", data={"reason": "ok", "csrf_token": csrf})  # type: ignore[attr-defined]
    assert early.status_code == 409 and "disposition them first" in early.text
    no_note = c.post(  # type: ignore[attr-defined]
        f"/quality/ncrs/{ncr_id}/disposition", data={"disposition": "use-as-is", "csrf_token": csrf}
    )
    assert no_note.status_code == 422 and "justification" in no_note.text
    r = c.post(  # type: ignore[attr-defined]
        f"/quality/ncrs/{ncr_id}/disposition", data={"disposition": "return", "csrf_token": csrf}
    )
    assert r.status_code == 303
    closing = {"close": "1", "csrf_token": csrf}
    half = c.post(f"/quality/ncrs/{ncr_id}/capa", data={**closing, "root_cause": "worn nozzle"})  # type: ignore[attr-defined]
    assert half.status_code == 422 and "corrective action" in half.text
    capa = {
        "root_cause": "worn nozzle",
        "corrective_action": "nozzle replaced",
        "owner": "maintenance",
        "due": "2026-01-30",
    }
    r = c.post(f"/quality/ncrs/{ncr_id}/capa", data={**capa, **closing})  # type: ignore[attr-defined]
    assert r.status_code == 303, r.text
    store = SqlQualityStore(sqlite_env.container.engine)
    ncr = next(n for n in list_ncrs(store) if n.id == ncr_id)
    assert ncr.disposition is not None and ncr.disposition.value == "return"
    assert ncr.status.value == "closed" and ncr.capa_owner == "maintenance"
    assert ncr.capa_due is not None and ncr.capa_due.day == 30
    blank = c.post(f"/quality/holds/{lot}/release", data={"reason": " ", "csrf_token": csrf})  # type: ignore[attr-defined]
    assert blank.status_code == 422 and "say why" in blank.text
    r = c.post(  # type: ignore[attr-defined]
        f"/quality/holds/{lot}/release", data={"reason": "returned", "csrf_token": csrf}
    )
    assert r.status_code == 303
    assert store.holds(lot=lot, active_only=True) == []
    assert ("hold_released", lot) in pending_replans(sqlite_env)
    details = audit_details(sqlite_env)
    assert f"ncr {ncr_id} disposition return" in details
    assert f"lot {lot} released: returned" in details


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/quality/ncrs/NCR-x/disposition", {"disposition": "sideways"}),  # unknown choice
        ("/quality/ncrs/NCR-x/capa", {"due": "next week"}),  # not a date
    ],
)
def test_bad_quality_input_is_refused_with_the_reason(
    sqlite_env: Env, path: str, form: dict[str, str]
) -> None:
    ncr_id, _ = ncr_on_held_lot(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.QUALITY)
    r = c.post(path.replace("NCR-x", ncr_id), data={**form, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and 'role="alert"' in r.text
    store = SqlQualityStore(sqlite_env.container.engine)
    assert next(n for n in list_ncrs(store) if n.id == ncr_id).status.value == "open"


def test_quality_actions_need_quality_write(sqlite_env: Env) -> None:
    ncr_id, lot = ncr_on_held_lot(sqlite_env)
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    assert f"/quality/ncrs/{ncr_id}/disposition" not in c.get("/quality").text  # type: ignore[attr-defined]
    for path, form in (
        (f"/quality/ncrs/{ncr_id}/disposition", {"disposition": "scrap"}),
        (f"/quality/ncrs/{ncr_id}/capa", {"root_cause": "x"}),
        (f"/quality/holds/{lot}/release", {"reason": "x"}),
    ):
        assert c.post(path, data={**form, "csrf_token": csrf}).status_code == 403  # type: ignore[attr-defined]


def test_release_of_a_lot_not_on_hold_is_404(sqlite_env: Env) -> None:
    hold_lot(SqlQualityStore(sqlite_env.container.engine), "LOT-A", "check", sqlite_env.clock.now())
    c, csrf = logged_in(sqlite_env, Role.QUALITY)
    r = c.post("/quality/holds/LOT-B/release", data={"reason": "x", "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 404 and "not on hold" in r.text


def test_forms_on_the_pages_carry_no_field_the_handlers_ignore() -> None:
    names = set(re.findall(r'name="([a-z_]+)"', _template("_quality_actions.html").read_text()))
    assert names == {
        "csrf_token",
        "disposition",
        "note",
        "root_cause",
        "corrective_action",
        "preventive_action",
        "owner",
        "due",
        "close",
        "reason",
    }


def _template(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "src/microfactory/web/templates" / name


def test_a_model_over_the_general_body_limit_is_quoted_on_the_page(sqlite_env: Env) -> None:
    import trimesh

    from quoting.conftest import binary_stl

    big = binary_stl(trimesh.creation.icosphere(subdivisions=5, radius=20.0))
    assert len(big) > sqlite_env.ctx.max_body_bytes  # the page's own, larger limit applies
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(  # type: ignore[attr-defined]
        "/quotes",
        files={"file": ("sphere.stl", big)},
        data={"material": "pla-black", "quantity": "1", "units": "mm", "csrf_token": csrf},
    )
    assert r.status_code == 303, r.text[-500:]
    anonymous = sqlite_env.client().post(
        "/quotes", files={"file": ("sphere.stl", big)}, data={"material": "pla-black"}
    )
    assert anonymous.status_code == 401  # refused before its body is read
    assert len(sqlite_env.ctx.quotes.recent()) == 1
