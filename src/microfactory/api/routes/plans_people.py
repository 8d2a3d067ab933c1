"""A plan by person over HTTP: `GET /api/v1/plans/current/people` and
`GET /api/v1/plans/{version}/people` give each operator's shifts and the parts of planned
operations they attend (setup, run, unload, with the share of the person), in a window
(default: the plan's span). Thin: parse, call the planning service, render."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from microfactory.access import User
from microfactory.api import schemas as s
from microfactory.api.context import ApiContext
from microfactory.api.deps import ALLOW_READ, context
from microfactory.core.errors import NotFound
from microfactory.core.timeutil import utc
from microfactory.services.planning import PlanVersion
from microfactory.services.planning_people import PlanPeople, plan_people

router = APIRouter()
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(ALLOW_READ)]
From = Annotated[datetime | None, Query(description="RFC 3339; default: the plan's first start")]
To = Annotated[datetime | None, Query(description="RFC 3339; default: the plan's last end")]


def people_public(people: PlanPeople) -> s.PlanPeoplePublic:
    return s.PlanPeoplePublic(
        version=people.version,
        start=people.start,
        end=people.end,
        operators=[
            s.OperatorLanePublic(
                operator=lane.operator,
                name=lane.name,
                skills=list(lane.skills),
                shifts=[s.ShiftPublic(start=a, end=b) for a, b in lane.shifts],
                assignments=[
                    s.AssignmentPublic(
                        operation=p.operation,
                        work_order=p.work_order,
                        machine=p.machine,
                        operator=p.operator,
                        part=p.part,
                        start=p.start,
                        end=p.end,
                        share=p.share,
                    )
                    for p in lane.assignments
                ],
            )
            for lane in people.lanes
        ],
    )


def _people(
    ctx: ApiContext, plan: PlanVersion, start: datetime | None, end: datetime | None
) -> s.PlanPeoplePublic:
    return people_public(
        plan_people(ctx.uow, plan, utc(start) if start else None, utc(end) if end else None)
    )


@router.get(
    "/plans/current/people",
    response_model=s.PlanPeoplePublic,
    tags=["plans"],
    summary="The current plan by operator: shifts and assignments",
)
def current_people(
    user: Reader, ctx: Ctx, start: From = None, end: To = None
) -> s.PlanPeoplePublic:
    plan = ctx.planning.current()
    if plan is None:
        raise NotFound("no plan yet: POST /api/v1/plans/replan makes one")
    return _people(ctx, plan, start, end)


@router.get(
    "/plans/{version}/people",
    response_model=s.PlanPeoplePublic,
    tags=["plans"],
    summary="A plan version by operator: shifts and assignments",
)
def version_people(
    version: int, user: Reader, ctx: Ctx, start: From = None, end: To = None
) -> s.PlanPeoplePublic:
    return _people(ctx, ctx.planning.version(version), start, end)
