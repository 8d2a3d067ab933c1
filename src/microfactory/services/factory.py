"""Use case: load a factory file into the store (the `init` command)."""

from __future__ import annotations

from pathlib import Path

import yaml

from microfactory.core.clock import Clock, SystemClock
from microfactory.core.errors import NotFound
from microfactory.orders import Factory
from microfactory.orders.factory_file import load_factory, resolve_relative_times
from microfactory.services.materials import receive_opening_lots
from microfactory.services.ports import UnitOfWork, UnitOfWorkFactory


def init_factory(uow: UnitOfWorkFactory, path: str | Path, clock: Clock | None = None) -> Factory:
    """Validate the whole file first, then store it in one transaction: a broken file leaves
    the database exactly as it was. Its material lots not in stock yet are received as
    opening stock (at their `received` time, else now). Relative lot times (`-64d`) are
    resolved against the clock's now, and stored resolved."""
    now = (clock or SystemClock()).now()
    factory = load_factory(path, at=now)
    definition = resolve_relative_times(yaml.safe_load(Path(path).read_bytes()), now)
    with uow() as tx:
        tx.factory.save(factory, definition, str(path))
        receive_opening_lots(tx, factory, now)
        tx.commit()
    return factory


def current_factory(tx: UnitOfWork) -> Factory:
    factory = tx.factory.current()
    if factory is None:
        raise NotFound("no factory loaded: run `microfactory init --factory FILE.yaml` first")
    return factory
