"""The shop-floor bus: its in-process implementation (the port, `Bus`, and the `Message` it
delivers are declared in `shopfloor.bus`).

A bus moves raw payloads (bytes) on topics; it does not parse them, so a consumer sees a
garbage payload exactly as a machine sent it and can dead-letter it. Delivery is
at-least-once: a subscriber calls `bus.ack(message)` once it has durably handled a message
(the MQTT bus sends the PUBACK only then, so a crash before that means redelivery).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from microfactory.shopfloor.bus import Bus, Handler, Message, publish_event
from microfactory.shopfloor.topics import topic_matches


class InProcessBus:
    """The embedded default: synchronous delivery to matching handlers, in publish order."""

    def __init__(self) -> None:
        self._subs: list[tuple[str, Handler]] = []
        self._targets: dict[str, list[Handler]] = {}  # per topic, emptied on subscribe
        self._lock = threading.RLock()
        self._closed = False
        self.published = 0

    @property
    def connected(self) -> bool:
        return not self._closed

    def publish(
        self, topic: str, payload: bytes, *, reply_to: str = "", correlation: bytes = b""
    ) -> None:
        with self._lock:
            if self._closed:
                return
            self.published += 1
            targets = self._targets.get(topic)
            if targets is None:
                targets = [h for p, h in self._subs if topic_matches(p, topic)]
                if len(self._targets) < 100_000:
                    self._targets[topic] = targets
            message = Message(topic, bytes(payload), self.published, 0.0, reply_to, correlation)
        # handlers run outside the lock: a handler may publish (a receipt) while another thread
        # publishes into it (and waits for room), which would otherwise deadlock
        for handler in targets:
            handler(message)

    def subscribe(self, pattern: str, handler: Handler) -> None:
        with self._lock:
            self._subs.append((pattern, handler))
            self._targets.clear()

    def ack(self, message: Message) -> None:
        """Nothing to do: in-process delivery is complete when the handler returns."""

    def ack_many(self, messages: Sequence[Message]) -> None:
        """Nothing to do either."""

    def flush(self, timeout: float = 10.0) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._subs.clear()
            self._targets.clear()


__all__ = ["Bus", "Handler", "InProcessBus", "Message", "publish_event"]
