"""The print farm at work: one worker thread per printer (poll its host, settle its job,
publish what changed, start the next job), a slicer thread that slices ahead of the plan, a
planner thread that runs the replans the print farm asks for, and a watcher that wakes the
printers when a new plan is stored.

A printer whose host fails (unreachable, wrong key, an unexpected error) gets the reason on its
record and is polled again; the other printers are not held up. Nothing here keeps state that
matters across a restart: the print farm's records do, and a restarted runtime adopts the
running jobs it finds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from microfactory.core.errors import ConnectorError
from microfactory.services.ports import PrinterHost
from microfactory.services.printfarm import PrintFarm
from microfactory.shopfloor.events import Event

log = logging.getLogger(__name__)


class Replanner(Protocol):
    """The planning service's queue of replan requests (served after the reactor's next
    batch by the shop runtime, or by whichever runtime serves them)."""

    def request(self, at: datetime, trigger: str, reason: str = "") -> None: ...


@dataclass(frozen=True)
class RuntimeSettings:
    poll_s: float = 1.0
    """How often an idle or printing printer's host is asked for its status."""
    starting_poll_s: float = 0.1
    """How often while a started job has not shown on the host yet."""
    plan_watch_s: float = 0.1
    """How often the current plan's version is checked."""
    replan_retry_s: float = 5.0
    """Wait before asking again when the planning service could not take a request."""
    slice_idle_s: float = 2.0


@dataclass
class RuntimeCounters:
    polls: int = 0
    unreachable: int = 0
    errors: int = 0
    replans: int = 0
    replan_errors: int = 0
    plans_seen: int = 0
    errors_by_printer: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class PrintFarmRuntime:
    def __init__(
        self,
        farm: PrintFarm,
        hosts: Mapping[str, PrinterHost],
        publish: Callable[[Sequence[Event]], None],
        *,
        replanner: Replanner | None = None,
        settings: RuntimeSettings | None = None,
    ) -> None:
        self.farm = farm
        self.hosts = dict(hosts)
        self.publish = publish
        self.replanner = replanner
        self.settings = settings or RuntimeSettings()
        self.counters = RuntimeCounters()
        self._stop = threading.Event()
        self._wake = {m: threading.Event() for m in self.hosts}
        self._slice_wake = threading.Event()
        self._replan_wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._threads:
            return
        for machine in sorted(self.hosts):
            self._spawn(f"printer-{machine}", self._worker, machine)
        self._spawn("slicer", self._slicer)
        self._spawn("planner", self._planner)
        self._spawn("plan-watch", self._watch)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"printfarm-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wake(self, machine: str | None = None) -> None:
        for m, event in self._wake.items():
            if machine is None or m == machine:
                event.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.wake()
        self._slice_wake.set()
        self._replan_wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self.farm.flush(self.publish)

    def _count_error(self, machine: str) -> None:
        with self._lock:
            self.counters.errors += 1
            self.counters.errors_by_printer[machine] = (
                self.counters.errors_by_printer.get(machine, 0) + 1
            )

    # -- threads ------------------------------------------------------------------------------

    def _worker(self, machine: str) -> None:
        host = self.hosts[machine]
        wake = self._wake[machine]
        while not self._stop.is_set():
            wait = self.settings.poll_s
            try:
                wait = self._step(machine, host)
            except Exception:  # a bug must not stop the other printers: logged and counted
                log.exception("print farm: printer %s", machine)
                self._count_error(machine)
            wake.wait(wait)
            wake.clear()

    def _step(self, machine: str, host: PrinterHost) -> float:
        """One look at a printer and, when it may, a job started. Returns the next wait."""
        error = ""
        try:
            status = host.status()
        except ConnectorError as exc:
            status, error = None, str(exc)
            with self._lock:
                self.counters.unreachable += 1
        with self._lock:
            self.counters.polls += 1
        seen = self.farm.observe(machine, status, error)
        if seen.events:
            self.farm.flush(self.publish)
        if seen.ended_file:
            self.farm.tidy(machine, host, seen.ended_file)
        if seen.can_dispatch and self.farm.dispatch(machine, host) is not None:
            return self.settings.starting_poll_s
        if self.farm.starting(machine):
            return self.settings.starting_poll_s
        return self.settings.poll_s

    def _slicer(self) -> None:
        while not self._stop.is_set():
            try:
                sliced = self.farm.slice_ahead()
            except Exception:
                log.exception("print farm: slicing")
                self._count_error("(slicer)")
                sliced = 0
            if sliced:
                self.wake()
                continue
            self._slice_wake.wait(self.settings.slice_idle_s)
            self._slice_wake.clear()

    def _planner(self) -> None:
        """Hand the print farm's replan wishes to the planning service's queue."""
        while not self._stop.is_set():
            self._replan_wake.wait(0.5)
            self._replan_wake.clear()
            reason = self.farm.take_replan()
            if reason is None:
                continue
            if self.replanner is None:
                log.warning("print farm: no planning service to ask for a replan (%s)", reason)
                continue
            try:
                self.replanner.request(self.farm.clock.now(), "print_farm", reason)
                with self._lock:
                    self.counters.replans += 1
            except Exception:
                log.exception("print farm: asking for a replan (%s)", reason)
                with self._lock:
                    self.counters.replan_errors += 1
                self.farm.request_replan(reason)
                self._stop.wait(self.settings.replan_retry_s)

    def _watch(self) -> None:
        seen: int | None = None
        while not self._stop.is_set():
            try:
                version = self.farm.plans.current_version()
                if version != seen:
                    seen = version
                    with self._lock:
                        self.counters.plans_seen += 1
                    self.wake()
                    self._slice_wake.set()
                if self.farm.has_replan_requests():
                    self._replan_wake.set()
                if self.farm.has_wanted_slices():
                    self._slice_wake.set()
                self.farm.flush(self.publish)
            except Exception:
                log.exception("print farm: watching the plan")
                self._count_error("(watch)")
            self._stop.wait(self.settings.plan_watch_s)
