"""What a shop-floor bus is (the port; implementations live in `connect`): it moves raw
payloads (bytes) on topics and does not parse them, so a consumer sees a garbage payload
exactly as a machine sent it and can dead-letter it. Delivery is at-least-once: a subscriber
calls `bus.ack(message)` once it has durably handled a message (the MQTT bus sends the PUBACK
only then, so a crash before that means redelivery)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from microfactory.shopfloor.events import Event
from microfactory.shopfloor.topics import ROOT, topic_for


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery: topic, raw payload and the transport's acknowledgement token; `reply_to`
    and `correlation` are the sender's receipt topic and token when it asked for a store
    receipt (MQTT v5 Response Topic and Correlation Data; see `shopfloor.receipts`)."""

    topic: str
    payload: bytes
    token: int = 0
    received_at: float = field(default=0.0, compare=False)
    reply_to: str = ""
    correlation: bytes = b""


Handler = Callable[[Message], None]


@runtime_checkable
class Bus(Protocol):
    """Port: publish raw payloads on topics, subscribe handlers to MQTT-style filters."""

    @property
    def connected(self) -> bool:
        """Whether the transport is connected now (publishing may still queue when not)."""
        ...

    def publish(
        self, topic: str, payload: bytes, *, reply_to: str = "", correlation: bytes = b""
    ) -> None:
        """Send one payload; may block while the in-flight window is full (flow control).
        `reply_to` / `correlation` ask the consumer for a store receipt (see `Message`)."""
        ...

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Call `handler` (from the bus's delivery thread) for each matching message."""
        ...

    def ack(self, message: Message) -> None:
        """Acknowledge a message after it has been durably handled."""
        ...

    def ack_many(self, messages: Sequence[Message]) -> None:
        """Acknowledge a committed batch (one write where the transport allows)."""
        ...

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every published message is acknowledged by the transport."""
        ...

    def close(self) -> None:
        """Stop delivering and release the connection; idempotent."""
        ...


def publish_event(bus: Bus, event: Event, *, site: str, area: str, root: str = ROOT) -> str:
    """Publish one event on its topic; return the topic."""
    topic = topic_for(site, area, event.machine, event.kind, root)
    bus.publish(topic, event.to_json())
    return topic
