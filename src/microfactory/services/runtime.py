"""The shop-floor runtime of one site: the ingester stores what machines say, the reactor
applies it, the planning service serves the replans it asked for — what `microfactory
ingest` and `microfactory run` run until SIGTERM.

The ingester commits on its own thread; after each commit it pokes the runtime, whose thread
runs the reactor to the end of the store and then the planning service. The reactor keeps its
cursor in the database, so stopping at any moment (even `kill -9`) loses nothing: the next
start applies what is left, each event once. A failure of the reactor or the planner is
logged, counted and retried at the next poke or after `poll_s`; ingestion never waits for it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from microfactory.services.ingestion import BatchResult, Ingester
from microfactory.services.planning import PlanningService
from microfactory.services.reactor import Reactor

log = logging.getLogger(__name__)


@dataclass
class RuntimeCounters:
    plans: int = 0
    failures: int = 0
    last_error: str = ""


class ShopRuntime:
    def __init__(
        self,
        ingester: Ingester,
        reactor: Reactor | None,
        planning: PlanningService | None,
        *,
        poll_s: float = 1.0,
    ) -> None:
        self.ingester = ingester
        self.reactor = reactor
        self.planning = planning
        self.poll_s = poll_s
        self.counters = RuntimeCounters()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        previous = ingester.on_commit

        def poke(result: BatchResult) -> None:
            if previous is not None:
                previous(result)
            if result.stored:
                self._wake.set()

        ingester.on_commit = poke

    def start(self) -> None:
        self.ingester.start()
        if self.reactor is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="reactor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.apply_pending()
            self._wake.wait(self.poll_s)
            self._wake.clear()
        self.apply_pending()

    def apply_pending(self) -> None:
        """Apply every stored event not applied yet, then serve the replan requests."""
        if self.reactor is None:
            return
        try:
            self.reactor.catch_up()
            if self.planning is not None and self.planning.serve_requests() is not None:
                self.counters.plans += 1
        except Exception as exc:  # the store or the planner failed: retried at the next poke
            self.counters.failures += 1
            self.counters.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.exception("the reactor or the planner failed; retrying")

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what the ingester holds, apply it, stop."""
        self.ingester.stop(timeout)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.ingester.counters.as_dict())
        if self.reactor is not None:
            out["applied"] = self.reactor.counters.applied
            out["rejected"] = self.reactor.counters.rejected
            out["reactor_failures"] = self.counters.failures
            out["plans"] = self.counters.plans
        return out
