"""Fuzz target: the MQTT payload decoder and the ingester's per-message validation.

Input: one selector byte (which topic kind the message arrives on) and the payload. Allowed
outcome: `parse_event` raises the documented `ValidationError`; `parse_sample_batch_fast`
returns None; `Ingester._validate` returns an event or a dead letter and never raises.
Checked invariant: whatever the fast path accepts, `parse_event` accepts with the same
content (see `parse_sample_batch_fast`).

Run: python tests/fuzz/mqtt_payload.py [libFuzzer flags] CORPUS_DIR...
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import atheris

with (
    atheris.instrument_imports(include=["microfactory"])
    if __name__ == "__main__"
    else contextlib.nullcontext()
):
    from microfactory.bootstrap import bootstrap
    from microfactory.core.clock import FixedClock
    from microfactory.core.errors import ValidationError
    from microfactory.services.ingestion import Ingester
    from microfactory.shopfloor.events import DeadLetter, parse_event, parse_sample_batch_fast
    from microfactory.store.telemetry_tables import SqlTelemetryStore

KINDS = (None, "state", "counter", "sample", "job", "measurement")
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
_INGESTER: Ingester | None = None


def ingester() -> Ingester:
    """A real ingester over a scratch SQLite file (validation never writes to it)."""
    global _INGESTER
    if _INGESTER is None:
        folder = tempfile.mkdtemp(prefix="fuzz-mqtt-")
        container = bootstrap(db_url=f"sqlite:///{folder}/fuzz.db")
        _INGESTER = Ingester(SqlTelemetryStore(container.engine), clock=FixedClock(NOW))
    return _INGESTER


def _topic(payload: bytes, kind: str) -> str:
    """The topic the payload's own machine would publish on (so validation goes deep)."""
    machine = "m1"
    try:
        decoded = json.loads(payload)
        if isinstance(decoded, dict) and isinstance(decoded.get("machine"), str):
            machine = decoded["machine"]
    except (ValueError, RecursionError):
        pass
    return f"microfactory/v1/demo/area/{machine}/{kind}"


def TestOneInput(data: bytes) -> None:  # the name atheris calls
    if not data:
        return
    kind = KINDS[data[0] % len(KINDS)]
    payload = data[1:]
    try:
        event = parse_event(payload, kind)
    except ValidationError:
        event = None
    fast = parse_sample_batch_fast(payload)
    if fast is not None:
        slow = parse_event(payload, "sample")  # must accept what the fast path accepted
        if fast.to_event() != slow:
            raise AssertionError("fast and model sample decoders disagree")
    if kind is not None:
        outcome = ingester()._validate(_topic(payload, kind), payload, NOW)
        if not isinstance(outcome, DeadLetter) and event is None and fast is None:
            raise AssertionError("the ingester accepted a payload parse_event refused")


if __name__ == "__main__":
    # libFuzzer re-runs argv[0] through the shell for -merge / -fork: make it "python script"
    argv0 = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}"
    atheris.Setup([argv0, *sys.argv[1:]], TestOneInput)
    atheris.Fuzz()
