"""Master data on the dashboard through the ASGI client: customers with typed fields,
products and materials as YAML entries validated like the factory file, users managed by an
admin; bad input shows the field path and changes nothing; roles and CSRF."""

from __future__ import annotations

import pytest

from api.support import PASSWORD, Env
from microfactory.access import Role

from .test_pages import logged_in


def factory_versions(env: Env) -> int:
    from sqlalchemy import func, select

    from microfactory.store.tables import FactoryRow

    with env.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(FactoryRow)).scalar_one())


def test_a_planner_adds_a_customer_who_can_then_order(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    assert "/master-data" in c.get("/").text  # type: ignore[attr-defined]
    form = {"id": "brio", "name": "Brio Toys", "email": "buy@brio.example", "csrf_token": csrf}
    r = c.post("/master-data/customers", data=form)  # type: ignore[attr-defined]
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])  # type: ignore[attr-defined]
    assert "Customer brio saved." in page.text
    assert 'value="brio"' in c.get("/orders/new").text  # type: ignore[attr-defined]
    assert "customer brio saved" in [a.detail for a in sqlite_env.ctx.audit.find(limit=20)]


def test_a_product_is_edited_as_its_yaml_entry(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.ADMIN)
    page = c.get("/master-data/products/bracket")  # type: ignore[attr-defined]
    assert page.status_code == 200 and "base_price: 14.0" in page.text
    from microfactory.services.master_data import entry

    text = entry(sqlite_env.ctx.uow, "products", "bracket").yaml
    r = c.post(  # type: ignore[attr-defined]
        "/master-data/products/bracket",
        data={"yaml": text.replace("base_price: 14.0", "base_price: 15.0"), "csrf_token": csrf},
    )
    assert r.status_code == 303, r.text
    assert sqlite_env.ctx.dashboard.factory().product_map["bracket"].base_price == 15.0


@pytest.mark.parametrize(
    ("path", "form", "status", "reason"),
    [
        # the factory file's validator names the path: an empty name
        ("/master-data/customers/acme", {"name": ""}, 422, "customers"),
        # an id already in use
        ("/master-data/customers", {"id": "acme", "name": "Again"}, 409, "already exists"),
        # broken YAML
        ("/master-data/materials/petg", {"yaml": "id: [petg"}, 422, "YAML syntax error"),
        # a value the factory file refuses, with its path
        ("/master-data/materials/petg", {"yaml": "id: petg\nname: P\nkind: filament\n"
         "density_g_cm3: -1\ncost_per_kg: 1"}, 422, "density_g_cm3"),
    ],
)  # fmt: skip
def test_a_refused_edit_shows_why_and_keeps_the_factory(
    sqlite_env: Env, path: str, form: dict[str, str], status: int, reason: str
) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    before = factory_versions(sqlite_env)
    r = c.post(path, data={**form, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == status, r.text[-1500:]
    assert 'role="alert"' in r.text and reason in r.text
    assert factory_versions(sqlite_env) == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.QUALITY, Role.OPERATOR])
def test_only_masterdata_writers_edit(sqlite_env: Env, role: Role) -> None:
    c, csrf = logged_in(sqlite_env, role)
    page = c.get("/master-data/customers")  # type: ignore[attr-defined]
    assert page.status_code == 200 and 'id="entry-form"' not in page.text
    form = {"id": "brio", "name": "Brio", "csrf_token": csrf}
    assert c.post("/master-data/customers", data=form).status_code == 403  # type: ignore[attr-defined]
    assert (
        c.post(
            "/master-data/products/bracket", data={"yaml": "id: bracket", "csrf_token": csrf}
        ).status_code
        == 403
    )  # type: ignore[attr-defined]


def test_edits_need_the_csrf_token(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env, Role.PLANNER)
    r = c.post("/master-data/customers", data={"id": "brio", "name": "Brio"})  # type: ignore[attr-defined]
    assert r.status_code == 403


def test_an_unknown_section_or_entry_is_404(sqlite_env: Env) -> None:
    c, _ = logged_in(sqlite_env, Role.PLANNER)
    assert c.get("/master-data/machines").status_code == 404  # type: ignore[attr-defined]
    assert c.get("/master-data/products/teapot").status_code == 404  # type: ignore[attr-defined]


def test_an_admin_adds_a_user_and_changes_a_role(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.ADMIN)
    r = c.post(  # type: ignore[attr-defined]
        "/admin/users",
        data={"username": "sam", "password": PASSWORD, "role": "operator", "csrf_token": csrf},
    )
    assert r.status_code == 303, r.text
    r = c.post("/admin/users/sam", data={"role": "quality", "active": "1", "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    users = {u.username: u for u in sqlite_env.ctx.auth.list_users()}
    assert users["sam"].role == Role.QUALITY and users["sam"].active


@pytest.mark.parametrize(
    ("path", "form", "reason"),
    [
        ("/admin/users", {"username": "kim", "password": "short", "role": "viewer"}, "password"),
        ("/admin/users", {"username": "kim", "password": PASSWORD, "role": "boss"}, "boss"),
        ("/admin/users/admin", {"role": "viewer", "active": "1"}, "cannot demote"),
    ],
)
def test_bad_user_changes_are_refused(
    sqlite_env: Env, path: str, form: dict[str, str], reason: str
) -> None:
    c, csrf = logged_in(sqlite_env, Role.ADMIN)
    before = sqlite_env.ctx.auth.list_users()
    r = c.post(path, data={**form, "csrf_token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 422 and reason in r.text
    assert sqlite_env.ctx.auth.list_users() == before


def test_a_planner_may_not_manage_users(sqlite_env: Env) -> None:
    c, csrf = logged_in(sqlite_env, Role.PLANNER)
    assert c.get("/admin/users").status_code == 403  # type: ignore[attr-defined]
    r = c.post(  # type: ignore[attr-defined]
        "/admin/users",
        data={"username": "kim", "password": PASSWORD, "role": "admin", "csrf_token": csrf},
    )
    assert r.status_code == 403
