"""The live path end to end: the digital twin measures parts and publishes them → the reactor
applies the measurements (alert, NCR, lot held: the dispatcher stops it) → disposition →
release → replan.

The twin measures with its own tolerances; the quality service judges the same events
against specifications six times tighter, so out-of-spec parts are certain in two days.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from microfactory.bootstrap import DEMO_FACTORY, bootstrap
from microfactory.connect.bus import InProcessBus
from microfactory.orders import Factory
from microfactory.quality.records import AlertKind
from microfactory.services.closed_loop import ClosedLoop, LoopConfig
from microfactory.services.demo import load_demo_factory
from microfactory.services.quality import disposition_ncr, held_lots, list_ncrs, release_hold
from microfactory.store.quality_store import SqlQualityStore

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


def tightened(factory: Factory, factor: float) -> Factory:
    products = []
    for p in factory.products:
        chars = tuple(
            dataclasses.replace(
                c,
                lsl=None if c.lsl is None else c.nominal - (c.nominal - c.lsl) / factor,
                usl=None if c.usl is None else c.nominal + (c.usl - c.nominal) / factor,
            )
            for c in p.characteristics
        )
        products.append(dataclasses.replace(p, characteristics=chars))
    return dataclasses.replace(factory, products=tuple(products))


@pytest.mark.slow
def test_twin_measurement_alert_hold_ncr_release(tmp_path: Path) -> None:
    container = bootstrap(db_url=f"sqlite:///{tmp_path / 'loop.db'}")
    try:
        factory = load_demo_factory(container.uow, DEMO_FACTORY)
        quality = SqlQualityStore(container.engine)
        # the reactor judges against the tightened specification; the twin makes parts
        # with the factory's own tolerances
        ports = container.loop_ports(tightened(factory, 6.0), InProcessBus(), "memory")
        loop = ClosedLoop(
            ports, factory, LoopConfig(start=START, days=2, seed=3), review_board=False
        )
        run = loop.run()

        out_of_spec = [a for a in run.quality_alerts if a.kind == AlertKind.OUT_OF_SPEC]
        assert out_of_spec, "the tightened specification must reject some twin parts"
        assert all(a.ncr for a in out_of_spec)
        held = held_lots(quality)
        assert held == {a.lot_id for a in out_of_spec}
        assert held <= loop.dispatcher.held  # the dispatcher knows every hold

        lot = sorted(held)[0]
        for ncr in list_ncrs(quality, lot=lot):
            disposition_ncr(quality, ncr.id, "scrap", by="qe.anna", at=loop.twin.now)
        release_hold(
            quality, loop.planning, lot, by="qe.anna", at=loop.twin.now, note="parts scrapped"
        )
        assert lot not in held_lots(quality)
        loop.dispatcher.refresh()
        assert lot not in loop.dispatcher.held
        # the release asked for a replan, which plans the lot's remaining work again
        assert loop.planning.serve_requests() is not None
    finally:
        container.close()
