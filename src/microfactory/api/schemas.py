"""API schemas: separate create / update / public models, so storage columns never leak and
clients cannot set what they must not (ids of users, timestamps, statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

T = TypeVar("T")

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Username = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$")]
ParamValue = str | int | float | bool


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Problem(BaseModel):
    """RFC 9457 problem details; `where` names the field, `errors` lists every one."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str = ""
    where: str | None = None
    errors: list[dict[str, str]] | None = None


# auth ----------------------------------------------------------------------------------
class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserPublic(BaseModel):
    username: str
    role: str
    active: bool
    created: datetime


class LoginOut(BaseModel):
    user: UserPublic
    csrf_token: str
    expires: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    password: Annotated[str, Field(min_length=10, max_length=1024)]
    role: Annotated[str, Field(pattern="^(admin|planner|operator|maintenance|quality|viewer)$")]


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: (
        Annotated[str, Field(pattern="^(admin|planner|operator|maintenance|quality|viewer)$")]
        | None
    ) = None
    active: bool | None = None
    password: Annotated[str, Field(min_length=10, max_length=1024)] | None = None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    username: Username | None = None


class TokenPublic(BaseModel):
    id: int
    user: str
    name: str
    created: datetime
    revoked: bool


class TokenIssued(TokenPublic):
    token: str = Field(description="the secret; shown once, store it now")


class AuditPublic(BaseModel):
    id: int | None
    at: datetime
    actor: str
    role: str
    action: str
    outcome: int
    detail: str


# factory -------------------------------------------------------------------------------
class MachinePublic(BaseModel):
    id: str
    name: str
    type: str
    area: str
    capabilities: list[str]
    cost_per_hour: float
    state: str
    mode: str
    state_since: datetime | None
    reason: str | None
    current_job: str | None
    oee_today: float | None


class FactoryPublic(BaseModel):
    site: str
    name: str
    timezone: str
    currency: str
    areas: list[dict[str, str]]
    machines: int
    products: list[str]
    materials: list[str]


class ParameterPublic(BaseModel):
    name: str
    type: str
    default: ParamValue | None
    min: float | None
    max: float | None
    choices: list[str]
    unit: str


class ProductPublic(BaseModel):
    id: str
    name: str
    family: str
    base_price: float
    parameters: list[ParameterPublic]
    operations: list[str]


class CustomerPublic(BaseModel):
    id: str
    name: str
    segment: str


# orders --------------------------------------------------------------------------------
class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: Id
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    parameters: dict[Annotated[str, Field(max_length=64)], ParamValue] = Field(
        default_factory=dict, max_length=50
    )


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: Id
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=100)]
    due: AwareDatetime
    priority: Annotated[int, Field(ge=1, le=5)] = 3
    rush: bool = False
    notes: Annotated[str, Field(max_length=2000)] = ""
    release: bool = Field(default=True, description="release into work orders at once")


class OrderLinePublic(BaseModel):
    product: str
    quantity: int
    parameters: dict[str, Any]
    unit_price: float | None


class OrderPublic(BaseModel):
    id: str
    customer: str
    status: str
    due: datetime
    created: datetime
    priority: int
    rush: bool
    notes: str
    lines: list[OrderLinePublic]


class TimelineEntry(BaseModel):
    status: str
    at: datetime
    note: str


class OperationPublic(BaseModel):
    id: str
    seq: int
    name: str
    capability: str
    minutes: float
    status: str
    machine: str | None
    actual_start: datetime | None
    actual_end: datetime | None
    good: int
    rejected: int


class WorkOrderPublic(BaseModel):
    id: str
    order: str
    product: str
    quantity: int
    due: datetime
    status: str
    lot: str
    late: bool
    operations: list[OperationPublic]


class OrderDetail(OrderPublic):
    timeline: list[TimelineEntry]
    work_orders: list[WorkOrderPublic]


class Overview(BaseModel):
    site: str
    now: datetime
    machines: list[MachinePublic]
    state_counts: dict[str, int]
    order_counts: dict[str, int]
    late_orders: int
    open_alerts: int
    oee_today: float | None


# machines: history and telemetry -------------------------------------------------------
class StateSegmentPublic(BaseModel):
    start: datetime
    end: datetime
    state: str
    mode: str
    reason: str | None


class SeriesPointPublic(BaseModel):
    at: datetime
    count: int
    min: float
    max: float
    mean: float


class SeriesPublic(BaseModel):
    machine: str
    signal: str
    start: datetime
    end: datetime
    points: list[SeriesPointPublic]


class EventPublic(BaseModel):
    event_id: str
    machine: str
    kind: str
    seq: int
    ts: datetime
    body: dict[str, Any]


class OeePublic(BaseModel):
    start: datetime
    end: datetime
    machines: dict[str, float]
    mean: float | None


# plans ---------------------------------------------------------------------------------
class CrewPartPublic(BaseModel):
    """An operator's part in a planned operation: `setup` and `unload` (a machine that runs
    unattended), or `run` (the whole run), at `share` percent of the person."""

    operator: str
    part: Literal["setup", "run", "unload"]
    start: datetime
    end: datetime
    share: int


class PlannedOperationPublic(BaseModel):
    operation: str
    work_order: str
    machine: str
    start: datetime
    end: datetime
    due: datetime | None
    late: bool
    operator: str | None = None
    crew: list[CrewPartPublic] = []


class AssignmentPublic(CrewPartPublic):
    operation: str
    work_order: str
    machine: str


class ShiftPublic(BaseModel):
    start: datetime
    end: datetime


class OperatorLanePublic(BaseModel):
    operator: str
    name: str
    skills: list[str]
    shifts: list[ShiftPublic]
    assignments: list[AssignmentPublic]


class PlanPeoplePublic(BaseModel):
    """A plan version by person: each operator's shifts and assignments in [start, end)."""

    version: int
    start: datetime
    end: datetime
    operators: list[OperatorLanePublic]


class PlanSummary(BaseModel):
    version: int
    current: bool
    created_at: datetime
    status: str
    solver: str
    seconds: float
    reason: str
    weighted_tardiness: int | None
    moved: int


class PlanPublic(PlanSummary):
    late_work_orders: list[str]
    operations: list[PlannedOperationPublic]


class ReplanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=200)] = "manual replan"
    time_limit_s: Annotated[float, Field(gt=0, le=60)] = 5.0


class PlanEventIn(BaseModel):
    """A shop-floor change told to the planner. `machine` for machine_down / machine_back /
    maintenance; `until` the end of a downtime (default: the machine's MTTR) or of a
    maintenance window (required); `order` for rush_order; `work_order` for quality_hold."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["machine_down", "machine_back", "maintenance", "rush_order", "quality_hold"]
    at: AwareDatetime | None = None
    until: AwareDatetime | None = None
    machine: Id | None = None
    order: Id | None = None
    work_order: Id | None = None
    reason: Annotated[str, Field(max_length=200)] = ""
    time_limit_s: Annotated[float, Field(gt=0, le=60)] = 5.0


class DowntimePublic(BaseModel):
    machine: str
    start: datetime
    end: datetime
    reason: str


# maintenance ---------------------------------------------------------------------------
class MaintenanceOrderPublic(BaseModel):
    id: str
    machine: str
    kind: str
    status: str
    reason: str
    created: datetime
    window_start: datetime | None
    window_end: datetime | None
    started: datetime | None
    done: datetime | None
    labour_hours: float


class OperationStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    machine: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class OperationFinishIn(OperationStartIn):
    good: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    scrap: Annotated[int, Field(ge=0, le=10_000_000)] = 0
