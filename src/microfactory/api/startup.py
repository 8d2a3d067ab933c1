"""What a serving process does around its lifetime (the app's lifespan):

* the heap left by imports and composition (about 330 000 objects: FastAPI, SQLAlchemy,
  plotly, pydantic, the app) is moved out of the cyclic garbage collector's reach with
  `gc.freeze()`. Without it every full collection walks all of it, about 150 ms of CPU with
  every thread stopped, several times a minute under fifty dashboards; with it a full
  collection walks only what was made since (issue 23). On shutdown it is handed back
  (`gc.unfreeze()`), so a process that builds many apps (the tests) does not keep them.
* the collector's youngest generation is allowed `YOUNG_THRESHOLD` new objects instead of
  700 before it runs. A request makes a few thousand objects; at 700, those of the requests
  in flight were caught alive by nearly every young collection, promoted, and their growing
  number set off a full collection (50-300 ms, every thread stopped) every few seconds under
  fifty operators: ten in a 40 s station benchmark against one with 10 000, and a fifth as
  many young collections (benchmarks/stations/RESULTS.md). Restored on shutdown.
* the pages' shared read models are warmed in a background thread (`warm`), so the process
  answers at once and the first visitors do not each wait for a cold computation.
* on shutdown, what background writers still hold is stored (`stop`: the audit records
  handed to the audit log's writer).
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

YOUNG_THRESHOLD = 10_000
"""New objects before the youngest generation is collected (CPython's default is 700)."""

WARM_JOIN_S = 30.0
"""How long shutdown waits for an unfinished warm-up (it reads the database)."""

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def serving_lifespan(
    inner: Lifespan,
    warm: Callable[[], object] | None = None,
    stop: Callable[[], object] | None = None,
) -> Lifespan:
    """`inner` (the app's own lifespan) with the heap frozen after start-up, `warm` run
    in a daemon thread, and `stop` (what background writers still hold) run at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            gc.collect()
            gc.freeze()
            thresholds = gc.get_threshold()
            gc.set_threshold(max(YOUNG_THRESHOLD, thresholds[0]), *thresholds[1:])
            warmer = None
            if warm is not None:
                warmer = threading.Thread(target=warm, name="warm-read-models", daemon=True)
                warmer.start()
            try:
                yield state
            finally:
                if warmer is not None:
                    # never outlives the app: the stores it reads are closed after this
                    await asyncio.to_thread(warmer.join, WARM_JOIN_S)
                if stop is not None:
                    await asyncio.to_thread(stop)
                gc.set_threshold(*thresholds)
                gc.unfreeze()

    return lifespan
