"""Review of held events (the quarantine of implausible sequence jumps): what is held, and a
person's decision. The decision is recorded in the store; the running ingester applies accepted
events (`Ingester.apply_reviews`), so that one writer keeps each machine's sequence state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from microfactory.core.clock import Clock
from microfactory.core.errors import ValidationError
from microfactory.core.timeutil import to_rfc3339
from microfactory.services.ports import TelemetryReader
from microfactory.shopfloor.events import QUARANTINE_STATUSES, Quarantined


def _held_view(q: Quarantined) -> dict[str, Any]:
    try:
        payload: Any = json.loads(q.payload)
    except ValueError:
        payload = q.payload.decode("utf-8", "backslashreplace")
    return {
        "id": q.id,
        "status": q.status,
        "machine": q.machine,
        "kind": q.kind,
        "seq": q.seq,
        "event_id": q.event_id,
        "ts": to_rfc3339(q.ts),
        "received": to_rfc3339(q.received),
        "decided": None if q.decided is None else to_rfc3339(q.decided),
        "topic": q.topic,
        "reason": q.reason,
        "payload": payload,
    }


def quarantine_report(
    reader: TelemetryReader, *, status: str | None = "pending", machine: str | None = None
) -> dict[str, Any]:
    """Events held for review (pending by default; `status=None`: all), oldest first."""
    if status is not None and status not in QUARANTINE_STATUSES:
        raise ValidationError(f"must be one of {', '.join(QUARANTINE_STATUSES)}", where="status")
    items = reader.quarantine(status=status, machine=machine)
    return {"quarantined": [_held_view(q) for q in items], "count": len(items)}


def decide_quarantined(
    reader: TelemetryReader, clock: Clock, ids: Sequence[int], *, accept: bool
) -> dict[str, Any]:
    """Accept (to be applied by the ingester) or reject held events; only pending ones change."""
    if not ids:
        raise ValidationError("give at least one held event id", where="ids")
    status = "accepted" if accept else "rejected"
    changed = reader.decide_quarantined(list(ids), status, clock.now())
    return {
        "status": status,
        "changed": changed,
        "unchanged": [i for i in ids if i not in set(changed)],
        "note": "accepted events are applied by the running ingester within a second "
        "(or by the next one to start)"
        if accept
        else "rejected events stay in the quarantine for the record",
    }
