"""Domain objects → public API schemas (the only place that knows both)."""

from __future__ import annotations

from microfactory.access import ApiToken, AuditRecord, User
from microfactory.api import schemas as s
from microfactory.orders import Order, Product, WorkOrder, WorkOrderOperation
from microfactory.services.dashboard import MachineCard, OrderDetailData


def user(u: User) -> s.UserPublic:
    return s.UserPublic(username=u.username, role=u.role.value, active=u.active, created=u.created)


def token(t: ApiToken) -> s.TokenPublic:
    return s.TokenPublic(id=t.id, user=t.user, name=t.name, created=t.created, revoked=t.revoked)


def audit(r: AuditRecord) -> s.AuditPublic:
    return s.AuditPublic(
        id=r.id,
        at=r.at,
        actor=r.actor,
        role=r.role,
        action=r.action,
        outcome=r.outcome,
        detail=r.detail,
    )


def machine(c: MachineCard) -> s.MachinePublic:
    return s.MachinePublic(
        id=c.id,
        name=c.name,
        type=c.type,
        area=c.area,
        capabilities=list(c.capabilities),
        cost_per_hour=c.cost_per_hour,
        state=c.state,
        mode=c.mode,
        state_since=c.state_since,
        reason=c.reason,
        current_job=c.current_job,
        oee_today=c.oee_today,
    )


def product(p: Product) -> s.ProductPublic:
    return s.ProductPublic(
        id=p.id,
        name=p.name,
        family=p.family,
        base_price=p.base_price,
        parameters=[
            s.ParameterPublic(
                name=q.name,
                type=q.type,
                default=q.default,
                min=q.min,
                max=q.max,
                choices=list(q.choices),
                unit=q.unit,
            )
            for q in p.parameters
        ],
        operations=[op.name for op in p.routing],
    )


def order(o: Order) -> s.OrderPublic:
    return s.OrderPublic(
        id=o.id,
        customer=o.customer,
        status=o.status.value,
        due=o.due,
        created=o.created,
        priority=o.priority,
        rush=o.rush,
        notes=o.notes,
        lines=[
            s.OrderLinePublic(
                product=ln.product,
                quantity=ln.quantity,
                parameters=dict(ln.parameters),
                unit_price=ln.unit_price,
            )
            for ln in o.lines
        ],
    )


def work_order(w: WorkOrder, late: bool) -> s.WorkOrderPublic:
    return s.WorkOrderPublic(
        id=w.id,
        order=w.order,
        product=w.product,
        quantity=w.quantity,
        due=w.due,
        status=w.status.value,
        lot=w.lot,
        late=late,
        operations=[operation(op) for op in w.operations],
    )


def operation(op: WorkOrderOperation) -> s.OperationPublic:
    return s.OperationPublic(
        id=op.id,
        seq=op.seq,
        name=op.name,
        capability=op.capability,
        minutes=op.minutes,
        status=op.status.value,
        machine=op.machine,
        actual_start=op.actual_start,
        actual_end=op.actual_end,
        good=op.good,
        rejected=op.rejected,
    )


def order_detail(d: OrderDetailData, late: dict[str, bool]) -> s.OrderDetail:
    base = order(d.order)
    return s.OrderDetail(
        **base.model_dump(),
        timeline=[
            s.TimelineEntry(status=st.value, at=at, note=note) for st, at, note in d.timeline
        ],
        work_orders=[work_order(w, late.get(w.id, False)) for w in d.work_orders],
    )
