"""MQTT bus over paho-mqtt (v2 callback API) to a real broker such as Mosquitto.

Reliability choices (see docs/connectivity.md):
* QoS 1 both ways, MQTT v5 with `clean_start=False` and a session expiry, and a stable client id:
  the broker keeps the subscription and queues messages while a consumer is away.
* Subscribers acknowledge manually (`manual_ack=True`): the PUBACK goes out only when the
  consumer calls `ack` after committing, so a crash before commit means redelivery, not loss.
  The CONNECT carries Receive Maximum = 65535 so the broker may keep many messages in flight.
* Publishers are flow-controlled: at most `window` unacknowledged messages; `publish` blocks
  when the window is full and raises `ConnectorError` after `publish_timeout` seconds.
* A sender that wants a store receipt sets the MQTT v5 Response Topic and Correlation Data
  (`publish(..., reply_to=, correlation=)`); a subscriber gets them in `Message`.
* A handler that raises does not stop the network thread: the message stays unacknowledged
  (the broker redelivers it after a reconnect) and `handler_errors` counts it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from microfactory.connect.bus import Handler, Message
from microfactory.core.errors import ConnectorError
from microfactory.shopfloor.topics import topic_matches

_PUBACK = struct.Struct("!BBH")
log = logging.getLogger("microfactory.mqtt")
_RESPONSE_TOPIC, _CORRELATION_DATA = 0x08, 0x09
FastHandler = Callable[[str, bytes, int, str, bytes], None]


def _lean_properties(packet: bytes | bytearray, pos: int) -> tuple[str, bytes, int] | None:
    """Read the PUBLISH properties at `pos`: (response topic, correlation data, payload start)
    when they hold nothing but those two; None for anything else (paho's path reads it)."""
    length, mult, i = 0, 1, pos
    while True:
        if i >= len(packet) or i - pos > 3:
            return None
        byte = packet[i]
        i += 1
        length += (byte & 0x7F) * mult
        if not byte & 0x80:
            break
        mult *= 128
    end = i + length
    if end > len(packet):
        return None
    reply_to, correlation = "", b""
    while i < end:
        prop = packet[i]
        if prop not in (_RESPONSE_TOPIC, _CORRELATION_DATA) or i + 3 > end:
            return None
        size = (packet[i + 1] << 8) | packet[i + 2]
        value = bytes(packet[i + 3 : i + 3 + size])
        i += 3 + size
        if i > end:
            return None
        if prop == _CORRELATION_DATA:
            correlation = value
        else:
            try:
                reply_to = value.decode()
            except UnicodeDecodeError:
                return None
    return reply_to, correlation, end


class _BufferedSocket:
    """A TCP socket with a user-space read buffer.

    paho reads each packet with several tiny `recv` calls (1 byte of type, 1–4 of length, then
    the body) and one packet per `select`. Reading 256 KiB at a time and reporting `pending()`
    (which paho's loop checks, as it does for TLS sockets) removes most of those system calls.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            chunk = self._sock.recv(262144)
            if not chunk:
                return b""
            self._buf = bytearray(chunk)
            self._pos = 0
        end = min(self._pos + bufsize, len(self._buf))
        out = bytes(self._buf[self._pos : end])
        self._pos = end
        return out

    def pending(self) -> int:
        return len(self._buf) - self._pos

    def peek_packet(self) -> tuple[int, bytearray, int] | None:
        """The next MQTT packet (fixed header byte, body, position after it) if it is wholly
        buffered; `skip_to` that position consumes it."""
        buf, pos = self._buf, self._pos
        size = len(buf)
        length, mult, i = 0, 1, pos + 1
        while True:
            if i >= size or i - pos > 4:
                return None  # incomplete, or a malformed length that paho will report
            byte = buf[i]
            i += 1
            length += (byte & 0x7F) * mult
            if not byte & 0x80:
                break
            mult *= 128
        if i + length > size:
            return None
        return buf[pos], buf[i : i + length], i + length

    def skip_to(self, pos: int) -> None:
        self._pos = pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    """paho's client with three economies for high message rates:

    * the buffered socket, draining every buffered packet per wake-up;
    * one wake-up of the network thread per burst of queued packets, not one per packet
      (paho writes a byte to its socket pair for every packet queued from another thread);
    * `ack_many`: the PUBACKs of a committed batch go out as one write;
    * a lean PUBLISH decoder for the common case (QoS 1, MQTT v5 without properties, manual
      acknowledgement): paho builds a `Properties` object (≈ 60 µs of Python) and an
      `MQTTMessage` for every message; this hands topic, payload and packet id straight to
      `on_fast_publish`. Any other PUBLISH takes paho's own path.
    """

    _wake_pending = False
    on_fast_publish: FastHandler | None = None

    def _lean_publish(self, header: int, packet: bytes | bytearray) -> bool:
        """Deliver a PUBLISH of the common kind through `on_fast_publish`; False otherwise."""
        fast = self.on_fast_publish
        if (
            fast is None
            or header & 0xF6 != 0x32  # PUBLISH with QoS 1 (any DUP / RETAIN flag)
            or not self._manual_ack
            or self._protocol != mqtt.MQTTv5
            or len(packet) < 2
        ):
            return False
        end = 2 + ((packet[0] << 8) | packet[1])  # topic length, then topic
        if len(packet) <= end + 2:  # packet id, then properties
            return False
        mid = (packet[end] << 8) | packet[end + 1]
        try:
            topic = bytes(packet[2:end]).decode()
        except UnicodeDecodeError:
            return False
        if packet[end + 2] == 0:  # no properties: the common case
            fast(topic, bytes(packet[end + 3 :]), mid, "", b"")
            return True
        props = _lean_properties(packet, end + 2)  # a store-receipt request, or paho's path
        if props is None:
            return False
        fast(topic, bytes(packet[props[2] :]), mid, props[0], props[1])
        return True

    def _handle_publish(self) -> Any:
        if self._lean_publish(self._in_packet["command"], self._in_packet["packet"]):
            return mqtt.MQTT_ERR_SUCCESS
        return super()._handle_publish()

    def _packet_queue(
        self, command: int, packet: bytes | bytearray, mid: int, qos: int, info: Any = None
    ) -> Any:
        if self._thread is None or self._sockpairW is None:
            return super()._packet_queue(command, packet, mid, qos, info)
        self._out_packet.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": info,
            }
        )
        if not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(BlockingIOError):
                self._sockpairW.send(b"0")
        return mqtt.MQTT_ERR_SUCCESS

    def loop_write(self) -> Any:
        self._wake_pending = False  # before draining: a packet queued later wakes us again
        return super().loop_write()

    def ack_many(self, mids: Sequence[int]) -> None:
        """Queue the PUBACKs (QoS 1, MQTT v5 short form = success) of many messages at once."""
        if mids:
            packet = b"".join(_PUBACK.pack(0x40, 2, mid) for mid in mids)
            self._packet_queue(0x40, packet, 0, 1)

    def _create_socket(self) -> Any:
        sock: Any = super()._create_socket()
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _BufferedSocket(sock)

    def loop_read(self, max_packets: int = 1) -> Any:
        """paho's read, then every packet already buffered: a lean PUBLISH straight from the
        buffer, anything else (or a packet not wholly buffered) through paho's reader."""
        rc = super().loop_read(max_packets)
        current = self._sock
        if not isinstance(current, _BufferedSocket):
            return rc
        sock: _BufferedSocket = current
        budget = 10_000
        lean = 0
        while rc == mqtt.MQTT_ERR_SUCCESS and budget > 0:
            if sock.pending() <= 0 or self._sock is not current:
                break
            budget -= 1
            if self._in_packet["command"] == 0 and self.on_fast_publish is not None:
                found = sock.peek_packet()
                if found is not None and self._lean_publish(found[0], found[1]):
                    sock.skip_to(found[2])
                    lean += 1
                    continue
            rc = super().loop_read(max_packets)
        if lean:
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
        return rc


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "microfactory"
    keepalive: int = 30
    window: int = 1000
    session_expiry_s: int = 7 * 24 * 3600
    publish_timeout: float = 30.0
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.window <= 65535:
            raise ValueError("window must be between 1 and 65535 messages")
        if not self.client_id or len(self.client_id) > 128:
            raise ValueError("client_id must be 1–128 characters (a stable id per consumer)")


class MqttBus:
    """A `Bus` on one paho client: publisher, subscriber or both, with its own network thread."""

    def __init__(self, settings: MqttSettings, *, connect_timeout: float | None = 10.0) -> None:
        self.settings = settings
        self._subs: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()
        self._dispatch = threading.RLock()
        self._orphans: list[Message] = []
        self._targets: dict[str, list[Handler]] = {}
        self._window = threading.Semaphore(settings.window)
        self._idle = threading.Condition()
        self._outstanding = 0
        self._connected = threading.Event()
        self._closed = False
        self.disconnects = 0
        self.handler_errors = 0
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        client.max_inflight_messages_set(0)  # our semaphore bounds it; paho scans O(n)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_fast_publish = self._on_fast_publish
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self._subacks: dict[int, threading.Event] = {}
        self._client = client
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = settings.session_expiry_s
        props.ReceiveMaximum = 65535
        client.connect_async(
            settings.host, settings.port, settings.keepalive, clean_start=False, properties=props
        )
        client.loop_start()
        if connect_timeout is not None and not self._connected.wait(connect_timeout):
            self.close()
            raise ConnectorError(
                f"MQTT broker {settings.host}:{settings.port} not reachable "
                f"within {connect_timeout:g} s"
            )

    # paho callbacks (network thread) -------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if getattr(rc, "is_failure", False):
            return
        with self._dispatch:  # with `subscribe`: a pattern is subscribed here or there
            patterns = [p for p, _ in self._subs]
            self._connected.set()
        for pattern in dict.fromkeys(patterns):
            client.subscribe(pattern, qos=1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        if self._connected.is_set():
            self.disconnects += 1
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        reply_to = getattr(props, "ResponseTopic", "") or ""
        correlation = getattr(props, "CorrelationData", b"") or b""
        self._deliver(
            Message(
                msg.topic,
                bytes(msg.payload),
                msg.mid if msg.qos > 0 else 0,
                time.time(),
                str(reply_to),
                bytes(correlation),
            )
        )

    def _on_fast_publish(
        self, topic: str, payload: bytes, mid: int, reply_to: str, correlation: bytes
    ) -> None:
        self._deliver(Message(topic, payload, mid, time.time(), reply_to, correlation))

    def _deliver(self, message: Message) -> None:
        with self._dispatch:
            targets = self._targets.get(message.topic)
            if targets is None:
                targets = [h for p, h in self._subs if topic_matches(p, message.topic)]
                if len(self._targets) < 100_000:
                    self._targets[message.topic] = targets
            if not targets:
                # A resumed session delivers its backlog right after CONNACK, possibly before
                # the application has subscribed its handler: keep it for that handler.
                self._orphans.append(message)
                return
            for handler in targets:
                try:
                    handler(message)
                except Exception:  # the network thread must survive any one message
                    self.handler_errors += 1
                    log.exception(
                        "handler failed on a message on %r (left unacknowledged)", message.topic
                    )

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, rcs: object, props: object
    ) -> None:
        with self._lock:
            done = self._subacks.pop(mid, None)
        if done is not None:
            done.set()

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object
    ) -> None:
        self._window.release()
        with self._idle:
            self._outstanding -= 1
            if self._outstanding <= 0:
                self._idle.notify_all()

    # Bus port --------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(
        self, topic: str, payload: bytes, *, reply_to: str = "", correlation: bytes = b""
    ) -> None:
        if self._closed:
            raise ConnectorError("publish on a closed MQTT bus")
        if not self._window.acquire(timeout=self.settings.publish_timeout):
            raise ConnectorError(
                f"MQTT broker {self.settings.host}:{self.settings.port} acknowledged nothing "
                f"for {self.settings.publish_timeout:g} s ({self.settings.window} in flight)"
            )
        with self._idle:
            self._outstanding += 1
        props = None
        if reply_to or correlation:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if reply_to:
                props.ResponseTopic = reply_to
            if correlation:
                props.CorrelationData = correlation
        info = self._client.publish(topic, payload, qos=1, properties=props)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self._on_publish(self._client, None, info.mid, None, None)
            raise ConnectorError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")

    def subscribe(self, pattern: str, handler: Handler) -> None:
        with self._dispatch:
            self._subs.append((pattern, handler))
            self._targets.clear()
            waiting = [m for m in self._orphans if topic_matches(pattern, m.topic)]
            self._orphans = [m for m in self._orphans if not topic_matches(pattern, m.topic)]
            for message in waiting:
                handler(message)
            connected = self._connected.is_set()
        if connected:
            done = threading.Event()
            with self._lock:
                result, mid = self._client.subscribe(pattern, qos=1)
                if mid is not None:
                    self._subacks[mid] = done
            if result != mqtt.MQTT_ERR_SUCCESS:
                raise ConnectorError(f"MQTT subscribe failed: {mqtt.error_string(result)}")
            if not done.wait(10.0):
                raise ConnectorError(f"MQTT broker did not confirm subscription to {pattern}")

    def ack(self, message: Message) -> None:
        if message.token and not self._closed:
            self._client.ack(message.token, 1)

    def ack_many(self, messages: Sequence[Message]) -> None:
        if not self._closed:
            self._client.ack_many([m.token for m in messages if m.token])

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    @property
    def in_flight(self) -> int:
        return self._outstanding

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._client.disconnect()
        self._client.loop_stop()
