"""Shop-floor events: what a machine (real, or the digital twin) reports over the bus.

Versioned pydantic models, one per topic kind. Every event carries `v` (schema version),
`event_id` (unique, the deduplication key), `machine`, `seq` (per-machine sequence number,
consecutive, used for gap detection) and `ts` (RFC 3339 UTC). On the wire an event is the JSON
of its model; `parse_event` reads it back and raises `ValidationError` with a reason.

Everything a model accepts can be stored on SQLite and PostgreSQL: integers fit a signed 64-bit
column (`seq` < 2^63; part counts ≤ `MAX_PARTS` per event, so running totals take billions of
events to reach 2^63, and the store saturates them there), strings hold no NUL character (which
PostgreSQL text refuses) and no lone surrogate (which no UTF-8 database stores), and every
timestamp lies in years 1..9999 in UTC.
"""

from __future__ import annotations

import hashlib
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
MAX_SEQ = 2**63 - 1
MAX_PARTS = 2**31 - 1  # parts per counter / job event: more is a broken or hostile sender
# no NUL (PostgreSQL text refuses it); a lone surrogate fails pydantic's own str check
_STORABLE = r"^[^\x00]*$"


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("timestamp is outside years 1..9999 in UTC") from None


UtcDatetime = Annotated[pydantic.AwareDatetime, AfterValidator(_as_utc)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Unit = Annotated[str, Field(max_length=32, pattern=_STORABLE)]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
Parts = Annotated[int, Field(ge=0, le=MAX_PARTS)]


def _text(max_length: int, min_length: int = 0) -> Any:
    """A storable string field of at most `max_length` characters."""
    return Field(min_length=min_length, max_length=max_length, pattern=_STORABLE)


EventId = Annotated[str, _text(64, min_length=1)]
Text64 = Annotated[str, _text(64)]
Ref = Annotated[str, _text(64, min_length=1)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    event_id: EventId
    machine: Name
    seq: Seq
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
    reason: Text64 | None = None


class PartCounter(_Event):
    """Parts made since the previous counter event (increments, not running totals)."""

    kind: Literal["counter"] = "counter"
    good: Parts = 0
    reject: Parts = 0
    work_order: Text64 | None = None


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
    work_order: Ref
    operation: Ref
    good: Parts = 0
    reject: Parts = 0
    material_lot: Ref | None = None
    """The material lot scanned or loaded for this job (a spool, a resin bottle); without
    it, material is issued first-expiry-first-out."""


class Measurement(_Event):
    """A quality characteristic measured on a part or a lot."""

    kind: Literal["measurement"] = "measurement"
    characteristic: Name
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Unit = ""
    part_id: Text64 | None = None
    lot_id: Text64 | None = None


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
    unit: NotRequired[Annotated[str, Field(max_length=32, pattern=_STORABLE, default="")]]
    ts: NotRequired[Annotated[UtcDatetime | None, Field(default=None)]]


class _SampleBatchDict(TypedDict):
    """`SampleBatch` as a typed dict (fields, defaults and constraints as in the model)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    v: NotRequired[Literal[1]]
    event_id: EventId
    machine: Name
    seq: Seq
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


def dead_letter_key(topic: str, payload: bytes) -> str:
    """The identity of a refused message: a hash of its topic and whole payload, so that a
    redelivered (or re-sent) bad message is stored once."""
    h = hashlib.blake2b(digest_size=16)
    h.update(topic.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    h.update(payload)
    return h.hexdigest()


@dataclass(frozen=True)
class DeadLetter:
    """A payload the ingester refused. `code` is one of DEAD_LETTER_CODES; `key` (by default
    `dead_letter_key(topic, payload)`) makes storing it idempotent. `payload` may be a prefix
    of what arrived: give the key of the whole payload then."""

    received: datetime
    topic: str
    code: str
    reason: str
    payload: bytes
    key: str = ""

    def __post_init__(self) -> None:
        if self.code not in DEAD_LETTER_CODES:
            raise ValueError(f"dead-letter code {self.code!r} must be one of {DEAD_LETTER_CODES}")
        if not self.key:
            object.__setattr__(self, "key", dead_letter_key(self.topic, self.payload))


DEAD_LETTER_CODES = (
    "json",  # not JSON
    "schema",  # JSON, but not a valid event (or one that disagrees with its topic)
    "topic",  # not one of our topics
    "unknown_machine",
    "timestamp",  # the event's or one of its samples' time is implausible
    "oversize",
    "decode",  # decoding failed in an unforeseen way (the reason names the exception)
    "poison",  # valid, but the store refused it (the reason names the database error)
)


QUARANTINE_STATUSES = ("pending", "accepted", "applied", "rejected")


@dataclass(frozen=True)
class Quarantined:
    """An event held for review instead of applied: its `seq` jumped further past the
    machine's last sequence number than the plausibility window allows. It is not in the
    event store (nothing downstream sees it) until a person accepts it; `payload` is its wire
    form. `status`: pending → accepted → applied, or pending → rejected."""

    event_id: str
    machine: str
    kind: str
    seq: int
    ts: datetime
    received: datetime
    topic: str
    reason: str
    payload: bytes
    status: str = "pending"
    id: int = 0
    decided: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in QUARANTINE_STATUSES:
            raise ValueError(
                f"quarantine status {self.status!r} must be one of {QUARANTINE_STATUSES}"
            )


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
