"""OPC UA client adapter (asyncua): a `Bus` whose messages come from a machine's OPC UA nodes.

`subscribe` connects to the server, browses `Objects/Machines/<machine>` (the layout of
`opcua_sim.OpcUaMachineSimulator`, after OPC 40001-1) and turns data changes into events on the
usual topics: MachineryItemState / OperationMode / DowntimeReason → `state`, the GoodParts /
RejectParts running totals → `counter` increments, `Process/<signal>` → `sample`. Event ids are
fresh; sequence numbers are counted per machine from `first_seq` (pass the store's last seq + 1
to continue a machine's numbering after a restart).

`publish` is the gateway direction: it writes a state, counter or sample event into the
server's nodes (job and measurement events have no nodes in this model and are refused).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaError

from microfactory.connect.bus import Handler, Message
from microfactory.connect.opcua_sim import NAMESPACE_URI, LoopThread
from microfactory.core.errors import ConnectorError, ValidationError
from microfactory.core.ids import new_id
from microfactory.shopfloor.events import (
    Event,
    PartCounter,
    Sample,
    SampleBatch,
    StateChanged,
    parse_event,
)
from microfactory.shopfloor.machines import MachineMode, MachineState
from microfactory.shopfloor.topics import ROOT, parse_topic, topic_for, topic_matches

_STATE_VARS = ("MachineryItemState", "OperationMode", "DowntimeReason")


@dataclass(frozen=True)
class OpcUaSettings:
    endpoint: str
    site: str
    area: str
    root: str = ROOT
    namespace_uri: str = NAMESPACE_URI
    publishing_interval_ms: float = 50.0
    first_seq: Mapping[str, int] = field(default_factory=dict)
    timeout_s: float = 30.0


@dataclass
class _MachineView:
    name: str
    seq: int
    values: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    state_pending: bool = False
    state_ts: datetime | None = None


class OpcUaBus:
    """A `Bus` over one OPC UA client session (see the module docstring)."""

    def __init__(self, settings: OpcUaSettings) -> None:
        self.settings = settings
        self._loop = LoopThread("opcua-client")
        self._client = Client(settings.endpoint, timeout=settings.timeout_s)
        self._handlers: list[tuple[str, Handler]] = []
        self._machines: dict[str, _MachineView] = {}
        self._nodes: dict[tuple[str, str], Any] = {}
        self._by_node: dict[Any, tuple[str, str]] = {}
        self._subscribed: set[str] = set()
        self._subscription: Any = None
        self._closed = False
        self._ns = 0
        try:
            self._loop.run(self._connect(), settings.timeout_s)
        except (OSError, TimeoutError, UaError) as exc:
            self._loop.close()
            raise ConnectorError(
                f"OPC UA server {settings.endpoint} not reachable: {exc!r}"
            ) from exc

    async def _connect(self) -> None:
        await self._client.connect()
        self._ns = await self._client.get_namespace_index(self.settings.namespace_uri)
        ns = self._ns
        folder = await self._client.nodes.objects.get_child(f"{ns}:Machines")
        for machine_node in await folder.get_children():
            name = (await machine_node.read_browse_name()).Name
            view = _MachineView(name, int(self.settings.first_seq.get(name, 0)))
            self._machines[name] = view
            for var in (*_STATE_VARS, "GoodParts", "RejectParts"):
                self._nodes[(name, var)] = await machine_node.get_child(f"{ns}:{var}")
            process = await machine_node.get_child(f"{ns}:Process")
            for node in await process.get_children():
                signal = (await node.read_browse_name()).Name
                desc = await node.read_description()
                view.units[signal] = desc.Text or ""
                self._nodes[(name, f"Process/{signal}")] = node
        self._by_node = {node: key for key, node in self._nodes.items()}

    @property
    def machines(self) -> list[str]:
        return sorted(self._machines)

    @property
    def connected(self) -> bool:
        return not self._closed

    # subscriber side ------------------------------------------------------------------------
    def subscribe(self, pattern: str, handler: Handler) -> None:
        self._handlers.append((pattern, handler))
        wanted = [
            m
            for m in self._machines
            if m not in self._subscribed
            and any(
                topic_matches(
                    pattern,
                    topic_for(self.settings.site, self.settings.area, m, k, self.settings.root),
                )
                for k in ("state", "counter", "sample")
            )
        ]
        if wanted:
            self._loop.run(self._subscribe(wanted), self.settings.timeout_s)

    async def _subscribe(self, machines: list[str]) -> None:
        if self._subscription is None:
            self._subscription = await self._client.create_subscription(
                self.settings.publishing_interval_ms, self, queue_maxsize=0
            )
        nodes = [n for (m, _), n in self._nodes.items() if m in machines]
        self._subscribed.update(machines)
        await self._subscription.subscribe_data_change(nodes, queuesize=1000, sampling_interval=0.0)

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        """asyncua callback (client loop thread): one monitored value changed."""
        key = self._by_node.get(node)
        if key is None:
            return
        machine, var = key
        view = self._machines[machine]
        ts = _source_ts(data)
        previous = view.values.get(var)
        view.values[var] = val
        if var in _STATE_VARS:
            view.state_ts = ts
            if not view.state_pending:
                view.state_pending = True
                self._loop.loop.call_soon(self._emit_state, view)
        elif var in ("GoodParts", "RejectParts"):
            if previous is not None:
                delta = int(val) - int(previous)
                delta = int(val) if delta < 0 else delta  # the counter was reset
                if delta:
                    good, reject = (delta, 0) if var == "GoodParts" else (0, delta)
                    self._emit(
                        PartCounter(
                            event_id=new_id(),
                            machine=machine,
                            seq=self._seq(view),
                            ts=ts,
                            good=good,
                            reject=reject,
                        )
                    )
        else:
            signal = var.split("/", 1)[1]
            sample = Sample(signal=signal, value=float(val), unit=view.units.get(signal, ""))
            self._emit(
                SampleBatch(
                    event_id=new_id(),
                    machine=machine,
                    seq=self._seq(view),
                    ts=ts,
                    samples=[sample],
                )
            )

    def _emit_state(self, view: _MachineView) -> None:
        view.state_pending = False
        try:
            state = MachineState(str(view.values.get("MachineryItemState")))
            mode = MachineMode(view.values.get("OperationMode") or MachineMode.IDLE.value)
        except ValueError:
            return
        reason = view.values.get("DowntimeReason") or None
        self._emit(
            StateChanged(
                event_id=new_id(),
                machine=view.name,
                seq=self._seq(view),
                ts=view.state_ts or _now(),
                state=state,
                mode=mode,
                reason=reason,
            )
        )

    @staticmethod
    def _seq(view: _MachineView) -> int:
        view.seq += 1
        return view.seq - 1

    def _emit(self, event: Event) -> None:
        s = self.settings
        topic = topic_for(s.site, s.area, event.machine, event.kind, s.root)
        message = Message(topic, event.to_json())
        for pattern, handler in list(self._handlers):
            if topic_matches(pattern, topic):
                handler(message)

    # publisher (gateway) side -----------------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes, *, reply_to: str = "", correlation: bytes = b""
    ) -> None:
        """Write the event to the machine's nodes (OPC UA has no receipts: `reply_to` and
        `correlation` are ignored)."""
        where = parse_topic(topic, self.settings.root)
        event = parse_event(payload)
        if event.machine != where.machine or event.machine not in self._machines:
            raise ValidationError(f"OPC UA server has no machine {event.machine!r}", where="topic")
        self._loop.run(self._write_event(event), self.settings.timeout_s)

    async def _write_event(self, event: Event) -> None:
        m = event.machine
        string = ua.VariantType.String
        if isinstance(event, StateChanged):
            await self._write(m, "OperationMode", event.mode.value, string)
            await self._write(m, "DowntimeReason", event.reason or "", string)
            await self._write(m, "MachineryItemState", event.state.value, string)
        elif isinstance(event, PartCounter):
            for var, n in (("GoodParts", event.good), ("RejectParts", event.reject)):
                if n:
                    total = int(await self._nodes[(m, var)].read_value())
                    await self._write(m, var, total + n, ua.VariantType.UInt64)
        elif isinstance(event, SampleBatch):
            for sample in event.samples:
                if (m, f"Process/{sample.signal}") not in self._nodes:
                    raise ValidationError(f"machine {m} has no process variable {sample.signal}")
                await self._write(
                    m, f"Process/{sample.signal}", sample.value, ua.VariantType.Double
                )
        else:
            raise ValidationError(f"OPC UA nodes carry no {event.kind} events", where="kind")

    async def _write(self, machine: str, var: str, value: Any, vtype: ua.VariantType) -> None:
        await self._nodes[(machine, var)].write_value(ua.Variant(value, vtype))

    def ack(self, message: Message) -> None:
        """Nothing to acknowledge: OPC UA data changes are not redelivered."""

    def ack_many(self, messages: Sequence[Message]) -> None:
        """Nothing to acknowledge."""

    def flush(self, timeout: float = 10.0) -> bool:
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError, TimeoutError, UaError):
            self._loop.run(self._client.disconnect(), 10.0)
        self._loop.close()


def _source_ts(data: Any) -> datetime:
    """The server's source timestamp of a change (OPC UA gives naive UTC), else now."""
    try:
        stamp = data.monitored_item.Value.SourceTimestamp
    except AttributeError:
        stamp = None
    if isinstance(stamp, datetime):
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return _now()


def _now() -> datetime:
    return datetime.now(UTC)
