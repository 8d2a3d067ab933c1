"""The 0018m_materials migration keeps what a database held: each lot's consumption rows
become issues and its opening receipt is what it holds plus what it gave, so the mass
balance holds from the start; downgrading gives the consumption rows back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from microfactory.store.base import make_engine
from microfactory.store.migrate import alembic_config
from microfactory.store.sql import SqlUnitOfWorkFactory

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def migrate(url: str, target: str, *, down: bool = False) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, target)
    finally:
        engine.dispose()


def test_consumption_becomes_a_balanced_ledger_and_back(url: str) -> None:
    migrate(url, "0017_event_path")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO material_lots (id, material, quantity_kg, received, supplier) "
                "VALUES ('PLA-1', 'pla-black', 7.5, :t, 'Filamentum'), "
                "('PETG-1', 'petg', 3.0, NULL, '')"
            ),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO lot_consumption (material_lot, work_order, operation, quantity_kg, at)"
                " VALUES ('PLA-1', 'WO-1', 'WO-1-1', 2.0, :t), ('PLA-1', 'WO-2', 'WO-2-1', 0.5, :t)"
            ),
            {"t": T0},
        )
    migrate(url, "heads")
    uow = SqlUnitOfWorkFactory(engine)
    with uow() as tx:
        balances = {b.lot: b for b in tx.stock.balances()}
        issues = tx.stock.movements(lot="PLA-1")
    pla = balances["PLA-1"]
    assert (pla.receipts, pla.issues, pla.on_hand, pla.error) == (10.0, 2.5, 7.5, 0.0)
    assert balances["PETG-1"].receipts == 3.0 and balances["PETG-1"].error == 0.0
    assert [(m.kind, m.work_order, m.quantity) for m in issues] == [
        ("receipt", None, 10.0),
        ("issue", "WO-1", 2.0),
        ("issue", "WO-2", 0.5),
    ]
    engine.dispose()
    migrate(url, "0017_event_path", down=True)
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT material_lot, work_order, quantity_kg FROM lot_consumption ORDER BY id")
        ).all()
        lots = conn.execute(text("SELECT id, quantity_kg FROM material_lots ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("PLA-1", "WO-1", 2.0), ("PLA-1", "WO-2", 0.5)]
    assert [tuple(r) for r in lots] == [("PETG-1", 3.0), ("PLA-1", 7.5)]
