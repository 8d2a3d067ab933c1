"""An OPC UA machine simulator (asyncua server) for tests and demos.

Address space, in namespace `NAMESPACE_URI` (names follow OPC 40001-1 where it has them):

    Objects/Machines/<machine>/MachineryItemState   String  NotAvailable|OutOfService|
                                                            NotExecuting|Executing
    Objects/Machines/<machine>/OperationMode        String  idle|setup|processing|maintenance
    Objects/Machines/<machine>/DowntimeReason       String  "" when none
    Objects/Machines/<machine>/GoodParts            UInt64  running total
    Objects/Machines/<machine>/RejectParts          UInt64  running total
    Objects/Machines/<machine>/Process/<signal>     Double  process variable; its description
                                                            holds the engineering unit

The server runs on its own event-loop thread; the methods are synchronous and return once the
value is set (subscribed clients are then notified by the server).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds

from microfactory.core.errors import ConnectorError
from microfactory.shopfloor.machines import MachineMode, MachineState

NAMESPACE_URI = "urn:microfactory:machines"
T = TypeVar("T")


class LoopThread:
    """An asyncio event loop on a daemon thread, for driving asyncua from synchronous code."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5.0)
        if not self.loop.is_running():
            self.loop.close()


class OpcUaMachineSimulator:
    """Serve a set of machines over OPC UA. `signals` maps machine → [(signal, unit), ...]."""

    def __init__(
        self,
        endpoint: str,
        signals: Mapping[str, Sequence[tuple[str, str]]],
    ) -> None:
        self.endpoint = endpoint
        self.signals = {m: list(s) for m, s in signals.items()}
        self._nodes: dict[tuple[str, str], Any] = {}
        self._server: Server | None = None
        self._loop: LoopThread | None = None

    def start(self, timeout: float = 60.0) -> None:
        self._loop = LoopThread("opcua-sim")
        try:
            self._loop.run(self._start(), timeout)
        except (OSError, TimeoutError) as exc:
            self._loop.close()
            raise ConnectorError(
                f"OPC UA simulator could not start on {self.endpoint}: {exc}"
            ) from exc

    async def _start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("microfactory machine simulator")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE_URI)
        folder = await server.nodes.objects.add_folder(idx, "Machines")
        for machine, signals in self.signals.items():
            obj = await folder.add_object(idx, machine)
            initial: list[tuple[str, Any, ua.VariantType]] = [
                ("MachineryItemState", MachineState.NOT_EXECUTING.value, ua.VariantType.String),
                ("OperationMode", MachineMode.IDLE.value, ua.VariantType.String),
                ("DowntimeReason", "", ua.VariantType.String),
                ("GoodParts", 0, ua.VariantType.UInt64),
                ("RejectParts", 0, ua.VariantType.UInt64),
            ]
            for name, value, vtype in initial:
                node = await obj.add_variable(idx, name, ua.Variant(value, vtype))
                await node.set_writable()
                self._nodes[(machine, name)] = node
            process = await obj.add_folder(idx, "Process")
            for signal, unit in signals:
                node = await process.add_variable(
                    idx, signal, ua.Variant(0.0, ua.VariantType.Double)
                )
                await node.write_attribute(
                    AttributeIds.Description,
                    ua.DataValue(ua.Variant(ua.LocalizedText(unit), ua.VariantType.LocalizedText)),
                )
                await node.set_writable()
                self._nodes[(machine, f"Process/{signal}")] = node
        await server.start()
        self._server = server

    def _write(self, machine: str, name: str, value: Any, vtype: ua.VariantType) -> None:
        node = self._nodes.get((machine, name))
        if node is None:
            raise KeyError(f"simulator has no {name} for machine {machine!r}")
        assert self._loop is not None
        self._loop.run(node.write_value(ua.Variant(value, vtype)))

    def set_state(
        self, machine: str, state: MachineState, mode: MachineMode, reason: str | None = None
    ) -> None:
        self._write(machine, "OperationMode", mode.value, ua.VariantType.String)
        self._write(machine, "DowntimeReason", reason or "", ua.VariantType.String)
        self._write(machine, "MachineryItemState", state.value, ua.VariantType.String)

    def add_parts(self, machine: str, good: int = 0, reject: int = 0) -> None:
        for name, n in (("GoodParts", good), ("RejectParts", reject)):
            if n:
                node = self._nodes[(machine, name)]
                assert self._loop is not None
                total = int(self._loop.run(node.read_value()))
                self._write(machine, name, total + n, ua.VariantType.UInt64)

    def set_signal(self, machine: str, signal: str, value: float) -> None:
        self._write(machine, f"Process/{signal}", float(value), ua.VariantType.Double)

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._server is not None:
            self._loop.run(self._server.stop())
            self._server = None
        self._loop.close()
        self._loop = None
