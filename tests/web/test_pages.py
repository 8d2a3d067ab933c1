"""Dashboard pages through the ASGI client (no browser): sessions, CSRF on forms, offline
assets, HTML errors, the live-update event format."""

from __future__ import annotations

import re
from pathlib import Path

from api.support import Env
from microfactory.access import Role
from microfactory.web.pages import TEMPLATES, sse_event

WEB = Path(__file__).resolve().parents[2] / "src" / "microfactory" / "web"
PAGES = ["/", "/schedule", "/orders", "/orders/new", "/maintenance", "/quality", "/machines/cnc"]


def logged_in(env: Env, role: Role = Role.VIEWER) -> tuple[object, str]:
    c = env.client()
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = c.post(
        "/login",
        data={
            "username": role.value,
            "password": "correct horse battery",
            "csrf_token": token.group(1),
            "next": "/",
        },
    )
    assert r.status_code == 303, r.text
    session_csrf = c.get("/").text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', session_csrf)
    assert found is not None
    return c, found.group(1)


def test_pages_redirect_to_login_without_a_session(sqlite_env: Env) -> None:
    c = sqlite_env.client()
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=")


def test_every_page_renders_for_a_viewer(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    for path in PAGES:
        r = c.get(path)  # type: ignore[attr-defined]
        assert r.status_code == 200, (path, r.text[:300])
        assert "<main" in r.text


def test_login_form_without_its_csrf_token_is_refused(sqlite_env: Env) -> None:
    r = sqlite_env.client().post(
        "/login", data={"username": "admin", "password": "correct horse battery"}
    )
    assert r.status_code == 403
    assert "mf_session" not in r.headers.get("set-cookie", "")


def test_page_form_without_the_session_csrf_token_is_refused(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(
        "/orders/new",
        data={
            "customer": "acme",
            "lines-0-product": "bracket",  # type: ignore[attr-defined]
            "lines-0-quantity": "1",
            "due": "2026-01-20T10:00",
        },
    )
    assert r.status_code == 403


def test_page_form_with_the_session_csrf_token_takes_the_order(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(  # type: ignore[attr-defined]
        "/orders/new",
        data={
            "customer": "acme",
            "lines-0-product": "bracket",
            "lines-0-quantity": "2",
            "due": "2026-01-20T10:00",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/orders/SO-")


def test_bad_order_form_shows_the_reason_on_the_form(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    r = c.post(  # type: ignore[attr-defined]
        "/orders/new",
        data={
            "customer": "acme",
            "lines-0-product": "bracket",
            "lines-0-quantity": "2",
            "lines-0-bracket-colour": "red",
            "due": "2026-01-20T10:00",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 422
    assert "colour" in r.text
    assert 'role="alert"' in r.text


def test_viewer_is_forbidden_to_take_orders_on_the_page(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.VIEWER)
    r = c.post(  # type: ignore[attr-defined]
        "/orders/new",
        data={
            "customer": "acme",
            "lines-0-product": "bracket",
            "lines-0-quantity": "2",
            "due": "2026-01-20T10:00",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]


def test_unknown_machine_page_is_an_html_404(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env)
    r = c.get("/machines/nope")  # type: ignore[attr-defined]
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]


def test_audit_page_is_for_admins_only(sqlite_env: Env) -> None:
    viewer, _ = logged_in(sqlite_env, Role.VIEWER)
    assert viewer.get("/admin/audit").status_code == 403  # type: ignore[attr-defined]
    admin, _ = logged_in(sqlite_env, Role.ADMIN)
    page = admin.get("/admin/audit")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "POST /login" in page.text


def test_templates_and_styles_load_nothing_from_outside(sqlite_env: Env) -> None:
    for path in [*(WEB / "templates").glob("*.html"), WEB / "static" / "app.css"]:
        text = path.read_text()
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), path
        assert "url(http" not in text, path


def test_vendored_scripts_are_served_from_the_package(sqlite_env: Env) -> None:
    c = sqlite_env.client()
    for asset in ("htmx.min.js", "htmx-sse.min.js", "swagger-ui-bundle.js", "swagger-ui.css"):
        assert c.get(f"/static/vendor/{asset}").status_code == 200, asset


def test_plotly_is_served_from_the_installed_package_gzipped(sqlite_env: Env) -> None:
    import gzip

    import plotly

    original = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    r = sqlite_env.client().get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.content == original  # httpx decodes the gzip body
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(gzip.compress(original, 1))


def test_sse_event_puts_every_html_line_in_a_data_field() -> None:
    assert sse_event("tiles", "<li>a</li>\n<li>b</li>") == (
        "event: tiles\ndata: <li>a</li>\ndata: <li>b</li>\n\n"
    )


def test_state_styles_name_every_state_in_words() -> None:
    render = TEMPLATES.env.globals["state_style"]
    for state in ("Executing", "NotExecuting", "OutOfService", "NotAvailable", "Unknown"):
        css, symbol, words = render(state)  # type: ignore[operator]
        assert css and symbol and words


def test_pages_write_times_in_the_site_locale(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    ctx = sqlite_env.app.state.ctx
    ctx.timezone = "Europe/Berlin"
    form = {"customer": "acme", "lines-0-product": "bracket", "lines-0-quantity": "2"}
    r = c.post("/orders/new", data={**form, "due": "2026-01-20T10:00", "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    german = re.compile(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d ME(S)?Z")
    iso = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T")
    page = c.get("/orders").text  # type: ignore[attr-defined]
    assert iso.search(page) and not german.search(page)
    ctx.locale = "de"
    page = c.get("/orders").text  # type: ignore[attr-defined]
    assert german.search(page) and not iso.search(page)
