"""Shop-floor events: what a machine (real, or the digital twin) reports over the bus.

Versioned pydantic models, one per topic kind. Every event carries `v` (schema version),
`event_id` (unique, the deduplication key), `machine`, `seq` (per-machine sequence number,
consecutive, used for gap detection) and `ts` (RFC 3339 UTC). On the wire an event is the JSON
of its model; `parse_event` reads it back and raises `ValidationError` with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, NotRequired, cast

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

from microfactory.core.errors import ValidationError
from microfactory.core.ids import new_id
from microfactory.shopfloor.machines import MachineMode, MachineState

SCHEMA_VERSION = 1
EVENT_KINDS = ("state", "counter", "sample", "job", "measurement")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SOURCE_PATTERN = r"^(user|host):[A-Za-z0-9][A-Za-z0-9_.@-]{0,58}$"
MAX_SAMPLES_PER_BATCH = 10_000


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[pydantic.AwareDatetime, AfterValidator(_as_utc)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Unit = Annotated[str, Field(max_length=32)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    event_id: Annotated[str, Field(min_length=1, max_length=64)]
    machine: Name
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    ts: UtcDatetime
    source: Annotated[str, Field(pattern=SOURCE_PATTERN)] | None = None
    """Who reported it when not the machine itself: `user:<name>` for a person at a
    station, `host:<adapter>` for a printer host. Such events keep no machine sequence."""

    def to_json(self) -> bytes:
        """The wire form (UTF-8 JSON, `ts` as RFC 3339 UTC with a trailing Z)."""
        return self.model_dump_json(exclude_none=True).replace('+00:00"', 'Z"', 1).encode()


class StateChanged(_Event):
    """OPC 40001-1 MachineryItemState plus operation mode and, when down, a reason code."""

    kind: Literal["state"] = "state"
    state: MachineState
    mode: MachineMode = MachineMode.IDLE
    reason: Annotated[str, Field(max_length=64)] | None = None


class PartCounter(_Event):
    """Parts made since the previous counter event (increments, not running totals)."""

    kind: Literal["counter"] = "counter"
    good: Annotated[int, Field(ge=0)] = 0
    reject: Annotated[int, Field(ge=0)] = 0
    work_order: Annotated[str, Field(max_length=64)] | None = None


class Sample(BaseModel):
    """One sensor reading; `ts` defaults to the batch's `ts`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: Name
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Unit = ""
    ts: UtcDatetime | None = None


class SampleBatch(_Event):
    kind: Literal["sample"] = "sample"
    samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES_PER_BATCH)]


class JobEvent(_Event):
    """An operation of a work order started or finished on this machine."""

    kind: Literal["job"] = "job"
    action: Literal["started", "finished", "aborted"]
    work_order: Annotated[str, Field(min_length=1, max_length=64)]
    operation: Annotated[str, Field(min_length=1, max_length=64)]
    good: Annotated[int, Field(ge=0)] = 0
    reject: Annotated[int, Field(ge=0)] = 0


class Measurement(_Event):
    """A quality characteristic measured on a part or a lot."""

    kind: Literal["measurement"] = "measurement"
    characteristic: Name
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Unit = ""
    part_id: Annotated[str, Field(max_length=64)] | None = None
    lot_id: Annotated[str, Field(max_length=64)] | None = None


Event = Annotated[
    StateChanged | PartCounter | SampleBatch | JobEvent | Measurement,
    Field(discriminator="kind"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


_BY_KIND: dict[str, type[_Event]] = {
    "state": StateChanged,
    "counter": PartCounter,
    "sample": SampleBatch,
    "job": JobEvent,
    "measurement": Measurement,
}


def parse_event(payload: bytes | str, kind: str | None = None) -> Event:
    """Validate one wire payload; raise `ValidationError` whose `where` is 'json' or 'schema'.

    With `kind` (known from the topic) the payload is validated against that model alone,
    which is faster than trying the union and refuses a payload of another kind."""
    try:
        model = _BY_KIND.get(kind) if kind is not None else None
        if model is not None:
            return model.model_validate_json(payload)  # type: ignore[return-value]
        return _EVENT_ADAPTER.validate_json(payload)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ValidationError(f"bad JSON: {first['msg']}", where="json") from None
        loc = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ValidationError(f"{loc}: {first['msg']}", where="schema") from None


# Fast path for the hot kind (sample batches) ------------------------------------------------


class _SampleDict(TypedDict):
    """`Sample` as a typed dict: the same fields, constraints and defaults (filled in, in this
    order, so that a validated sample's values are its row), validated without a model."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    signal: Name
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: NotRequired[Annotated[str, Field(max_length=32, default="")]]
    ts: NotRequired[Annotated[UtcDatetime | None, Field(default=None)]]


class _SampleBatchDict(TypedDict):
    """`SampleBatch` as a typed dict (fields, defaults and constraints as in the model)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    v: NotRequired[Literal[1]]
    event_id: Annotated[str, Field(min_length=1, max_length=64)]
    machine: Name
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    ts: UtcDatetime
    kind: NotRequired[Literal["sample"]]
    samples: Annotated[list[_SampleDict], Field(min_length=1, max_length=MAX_SAMPLES_PER_BATCH)]


_SAMPLE_BATCH_DICT: TypeAdapter[_SampleBatchDict] = TypeAdapter(_SampleBatchDict)

SampleTuple = tuple[str, float, str, datetime | None]


@dataclass(frozen=True, slots=True)
class SampleRows:
    """A validated sample batch in compact form: what the ingester stores, without the 11
    pydantic objects per batch (kept in a queue by the thousand, those also made the garbage
    collector a large share of the ingestion cost). `samples` holds (signal, value, unit, ts)
    tuples; `payload` is the wire form it came from, and `to_event` gives the full model."""

    kind: ClassVar[str] = "sample"
    event_id: str
    machine: str
    seq: int
    ts: datetime
    samples: tuple[SampleTuple, ...]
    payload: bytes

    def to_event(self) -> SampleBatch:
        return SampleBatch.model_validate_json(self.payload)


def parse_sample_batch_fast(payload: bytes) -> SampleRows | None:
    """Validate a sample batch against the typed-dict twin of `SampleBatch` (one cached
    validator straight from bytes, no model objects); return None when it refuses, and the
    caller then runs `parse_event`, so every refusal and its reason come from the model.

    Invariant (tested): whatever this accepts, `parse_event(payload, "sample")` accepts with the
    same content."""
    try:
        d = _SAMPLE_BATCH_DICT.validate_json(payload)
    except pydantic.ValidationError:
        return None
    rows = cast(tuple[SampleTuple, ...], tuple([tuple(s.values()) for s in d["samples"]]))
    return SampleRows(d["event_id"], d["machine"], d["seq"], d["ts"], rows, bytes(payload))


def event_from_dict(data: dict[str, Any]) -> Event:
    """Validate an already-decoded event (e.g. from the OPC UA adapter)."""
    try:
        return _EVENT_ADAPTER.validate_python(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ValidationError(f"{loc}: {first['msg']}", where="schema") from None


def new_event_id() -> str:
    return new_id()


# Records the ingestion side produces (plain dataclasses shared by services and stores) --------


@dataclass(frozen=True)
class DeadLetter:
    """A payload the ingester refused. `code` is one of DEAD_LETTER_CODES."""

    received: datetime
    topic: str
    code: str
    reason: str
    payload: bytes

    def __post_init__(self) -> None:
        if self.code not in DEAD_LETTER_CODES:
            raise ValueError(f"dead-letter code {self.code!r} must be one of {DEAD_LETTER_CODES}")


DEAD_LETTER_CODES = ("json", "schema", "topic", "unknown_machine", "timestamp", "oversize")


@dataclass(frozen=True)
class SeqGap:
    """Sequence numbers `first..last` (inclusive) of `machine` that never arrived."""

    machine: str
    first: int
    last: int
    detected: datetime

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError("a gap's first seq must not be after its last")

    @property
    def missing(self) -> int:
        return self.last - self.first + 1


@dataclass
class MachineStatus:
    """The current state of one machine as the event store knows it."""

    machine: str
    state: MachineState = MachineState.NOT_AVAILABLE
    mode: MachineMode = MachineMode.IDLE
    reason: str | None = None
    since: datetime | None = None
    last_seq: int = -1
    last_event: datetime | None = None
    good: int = 0
    reject: int = 0
    events: int = 0
