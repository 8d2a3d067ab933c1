"""Planning commands: `microfactory plan` (solve and store a plan version), `plan show`,
`plan gantt`, `plan event` (a shop-floor change: stored downtime or hold, then a re-plan)
and `microfactory bench schedule` (public benchmark files).

Thin: parse, call the planning engine, render. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

WORKERS_HELP = (
    "CP-SAT worker threads (and processes for the job-sequence and machine-order searches "
    "of large plans)."
)


def schedule_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(help="Instance files (.txt job shop, .fjs, .json job shop with due dates)."),
    ],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    solution_dir: Annotated[
        Path | None, typer.Option("--solution-dir", help="Write DIR/<instance>.json.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help=WORKERS_HELP,
        ),
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the search.")] = 0,
) -> None:
    """Minimise the makespan of job-shop / flexible job-shop instances (the total weighted
    tardiness of a .json job shop with due dates and weights)."""
    from microfactory.core.errors import ValidationError
    from microfactory.planning.bench import run_instance, solution_document

    if time_limit <= 0:
        raise ValidationError("must be positive", where="--time-limit")
    if workers < 1:
        raise ValidationError("must be at least 1", where="--workers")
    from microfactory.cli.common import time_limit_progress

    for path in files:
        with time_limit_progress(time_limit, f"solving {path.name}", enabled=not as_json):
            row, problem, result = run_instance(path, time_limit, workers, seed)
        if solution_dir is not None and result.has_plan:
            solution_dir.mkdir(parents=True, exist_ok=True)
            target = solution_dir / f"{row['instance']}.json"
            target.write_text(json.dumps(solution_document(problem, result)) + "\n")
        typer.echo(json.dumps(row) if as_json else _line(row))


def _line(row: dict[str, Any]) -> str:
    if row.get("objective") == "weighted_tardiness":
        return (
            f"{row['instance']}: weighted tardiness {row['weighted_tardiness']} (lower bound "
            f"{row['lower_bound']}, makespan {row['makespan']}, {row['status']}, "
            f"{row['seconds']:.1f} s; {row['jobs']} jobs, {row['machines']} machines)"
        )
    return (
        f"{row['instance']}: makespan {row['makespan']} (lower bound {row['lower_bound']}, "
        f"{row['status']}, {row['seconds']:.1f} s; {row['jobs']} jobs, {row['machines']} "
        f"machines, {row['operations']} operations)"
    )


DB_OPTION = typer.Option("--db", help="Database URL (default: the configured one).")
plan_app = typer.Typer(help="Finite-capacity plan of the open work orders.")


@plan_app.callback(invoke_without_command=True)
def plan_cmd(
    ctx: typer.Context,
    db: Annotated[str | None, DB_OPTION] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 10.0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help=WORKERS_HELP,
        ),
    ] = 2,
    objective: Annotated[
        str,
        typer.Option("--objective", help="weighted_tardiness | makespan | tardiness_then_makespan"),
    ] = "weighted_tardiness",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan summary as JSON.")
    ] = False,
) -> None:
    """Release confirmed orders, plan every open work order, store the plan as a version."""
    if ctx.invoked_subcommand is not None:
        return
    from microfactory.cli.common import open_container, print_json, time_limit_progress
    from microfactory.core.errors import ValidationError
    from microfactory.planning.model import Objective
    from microfactory.services.planning import PlanningSettings

    try:
        goal = Objective(objective)
    except ValueError:
        raise ValidationError(f"unknown objective {objective!r}", where="--objective") from None
    if time_limit <= 0 or workers < 1:
        raise ValidationError("time limit and workers must be positive", where="--time-limit")
    container = open_container(db)
    try:
        settings = PlanningSettings(time_limit=time_limit, workers=workers, objective=goal)
        service = container.planning(settings)
        with time_limit_progress(time_limit, "planning", enabled=not as_json):
            plan = service.plan()
    finally:
        container.close()
    summary = _summary(plan)
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"plan v{plan.version}: {summary['operations']} operations on "
        f"{summary['machines']} machines, {plan.status} ({plan.solver}, {plan.seconds:.1f} s), "
        f"weighted tardiness {plan.weighted_tardiness}, late work orders: "
        f"{', '.join(summary['late_work_orders']) or 'none'}"
    )


EVENT_HELP = "machine_down | machine_back | maintenance | rush_order | quality_hold"


@plan_app.command("event")
def plan_event(
    kind: Annotated[str, typer.Argument(help=EVENT_HELP)],
    machine: Annotated[str | None, typer.Option("--machine", help="Machine id.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="RFC 3339 time of the event (default: now).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="End of a downtime (default: the machine's MTTR) or window."),
    ] = None,
    order: Annotated[str | None, typer.Option("--order", help="Rush order id.")] = None,
    work_order: Annotated[
        str | None, typer.Option("--work-order", help="Work order put on quality hold.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the plan).")] = "",
    db: Annotated[str | None, DB_OPTION] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 10.0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help=WORKERS_HELP,
        ),
    ] = 2,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan summary as JSON.")
    ] = False,
) -> None:
    """Tell the planner what changed on the shop floor and re-plan: a machine broke down or
    is back, a maintenance window, a rush order, a quality hold. Downtimes are stored, so
    every later plan keeps off them."""
    from microfactory.cli.common import open_container, print_json
    from microfactory.core.clock import SystemClock
    from microfactory.core.errors import ValidationError
    from microfactory.core.timeutil import parse_rfc3339
    from microfactory.services.planning import (
        EventKind,
        PlanningSettings,
        ReplanEvent,
    )

    try:
        event_kind = EventKind(kind)
    except ValueError:
        raise ValidationError(
            f"unknown event {kind!r}; one of {EVENT_HELP}", where="KIND"
        ) from None
    if time_limit <= 0 or workers < 1:
        raise ValidationError("time limit and workers must be positive", where="--time-limit")
    clock = SystemClock()
    when = parse_rfc3339(at) if at else clock.now().replace(second=0, microsecond=0)
    try:
        event = ReplanEvent(
            event_kind,
            at=when,
            machine=machine,
            until=parse_rfc3339(until) if until else None,
            order=order,
            work_order=work_order,
            reason=reason,
        )
    except ValueError as exc:
        raise ValidationError(str(exc), where=kind) from None
    container = open_container(db)
    try:
        settings = PlanningSettings(time_limit=time_limit, workers=workers)
        service = container.planning(settings, clock)
        plan = service.replan(event)
        downtimes = service.downtimes(since=when)
    finally:
        container.close()
    summary = _summary(plan)
    summary["downtimes"] = {
        m: [{"start": s.isoformat(), "end": e.isoformat(), "reason": r} for s, e, r in spans]
        for m, spans in downtimes.items()
    }
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"plan v{plan.version} after {plan.reason}: {plan.status} ({plan.solver}, "
        f"{plan.seconds:.1f} s), {plan.moved} operations moved, weighted tardiness "
        f"{plan.weighted_tardiness}, late work orders: "
        f"{', '.join(plan.late_work_orders) or 'none'}"
    )
    for m, spans in downtimes.items():
        for s, e, r in spans:
            typer.echo(f"  {m} unavailable {s:%Y-%m-%d %H:%M} - {e:%Y-%m-%d %H:%M} ({r})")


def _summary(plan: Any) -> dict[str, Any]:
    return {
        "version": plan.version,
        "status": plan.status,
        "solver": plan.solver,
        "seconds": plan.seconds,
        "objective": plan.objective,
        "objective_value": plan.objective_value,
        "weighted_tardiness": plan.weighted_tardiness,
        "operations": len(plan.operations),
        "machines": len({op.machine for op in plan.operations}),
        "late_work_orders": plan.late_work_orders,
        "moved": plan.moved,
        "reason": plan.reason,
        "created_at": plan.created_at.isoformat(),
    }


def _load_plan(db: str | None, version: int | None) -> tuple[Any, str, set[str]]:
    """The plan, the site's time zone and the operations pinned now."""
    from microfactory.cli.common import open_container
    from microfactory.core.errors import NotFound

    container = open_container(db)
    try:
        service = container.planning()
        plan = service.version(version) if version is not None else service.current()
        tz = container.timezone()
        pinned = {p.operation for p in service.pins()}
    finally:
        container.close()
    if plan is None:
        raise NotFound("no plan yet: run `microfactory plan` first")
    return plan, tz, pinned


@plan_app.command("show")
def plan_show(
    db: Annotated[str | None, DB_OPTION] = None,
    version: Annotated[int | None, typer.Option("--version", help="Plan version.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The current (or a given) plan version as a table, by start time."""
    from rich.table import Table

    from microfactory.cli.common import console, print_json
    from microfactory.core.timeutil import local_text

    plan, tz, pinned = _load_plan(db, version)
    late = set(plan.late_work_orders)
    if as_json:
        summary = _summary(plan)
        summary["operations"] = [
            {
                "operation": op.operation,
                "work_order": op.work_order,
                "machine": op.machine,
                "start": op.start.isoformat(),
                "end": op.end.isoformat(),
                "due": op.due.isoformat() if op.due else None,
                "late": op.work_order in late,
                "frozen": op.frozen,
                "pinned": op.operation in pinned,
                "operator": op.operator,
            }
            for op in plan.operations
        ]
        print_json(summary)
        return
    table = Table(title=f"plan v{plan.version} ({plan.status}, {plan.reason})")
    staffed = any(op.operator for op in plan.operations)
    columns = ["operation", "work order", "machine", "start", "end", "due"]
    for column in columns + (["operator"] if staffed else []):
        table.add_column(column)
    for op in plan.operations:
        style = "red" if op.work_order in late else None
        cells = [
            op.operation,
            op.work_order,
            op.machine,
            local_text(op.start, tz),
            local_text(op.end, tz),
            local_text(op.due, tz),
        ]
        table.add_row(*cells, *([op.operator or "-"] if staffed else []), style=style)
    console.print(table)


@plan_app.command("gantt")
def plan_gantt(
    out: Annotated[Path, typer.Option("--out", help="FILE.html or FILE.png")],
    db: Annotated[str | None, DB_OPTION] = None,
    version: Annotated[int | None, typer.Option("--version", help="Plan version.")] = None,
    people: Annotated[
        bool, typer.Option("--people", help="Add a row per operator (who attends what).")
    ] = False,
) -> None:
    """Write a Gantt chart of the plan (late work orders highlighted)."""
    from microfactory.services.planning_gantt import write_gantt

    plan, tz, _ = _load_plan(db, version)
    typer.echo(f"wrote {write_gantt(plan, out, tz, people=people)}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    bench.command("schedule")(schedule_cmd)
    app.add_typer(plan_app, name="plan")


@plan_app.command("pin")
def plan_pin(
    operation: Annotated[str, typer.Argument(help="Operation id (as in `plan show`).")],
    machine: Annotated[str, typer.Option("--machine", help="Machine that must run it.")],
    start: Annotated[
        str | None, typer.Option("--start", help="RFC 3339 start it must keep (optional).")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who pins it (kept with the pin).")] = "cli",
    db: Annotated[str | None, DB_OPTION] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 10.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan summary as JSON.")
    ] = False,
) -> None:
    """Pin an operation to a machine (and a start time) and plan around it; every later
    plan keeps it there until `plan unpin`."""
    from microfactory.cli.common import open_container, print_json
    from microfactory.core.clock import SystemClock
    from microfactory.core.errors import ValidationError
    from microfactory.core.timeutil import parse_rfc3339
    from microfactory.services.planning import PlanningSettings

    if time_limit <= 0:
        raise ValidationError("must be positive", where="--time-limit")
    try:
        when = parse_rfc3339(start) if start else None
    except ValueError as exc:
        raise ValidationError(str(exc), where="--start") from None
    container = open_container(db)
    try:
        service = container.planning(PlanningSettings(time_limit=time_limit), SystemClock())
        plan = service.pin(operation, machine, when, by=by)
    finally:
        container.close()
    _print_pinned(plan, as_json, print_json)


@plan_app.command("unpin")
def plan_unpin(
    operation: Annotated[str, typer.Argument(help="Operation id.")],
    by: Annotated[str, typer.Option("--by", help="Who unpins it.")] = "cli",
    db: Annotated[str | None, DB_OPTION] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 10.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan summary as JSON.")
    ] = False,
) -> None:
    """Remove an operation's pin and plan again."""
    from microfactory.cli.common import open_container, print_json
    from microfactory.core.clock import SystemClock
    from microfactory.core.errors import ValidationError
    from microfactory.services.planning import PlanningSettings

    if time_limit <= 0:
        raise ValidationError("must be positive", where="--time-limit")
    container = open_container(db)
    try:
        service = container.planning(PlanningSettings(time_limit=time_limit), SystemClock())
        plan = service.unpin(operation, by=by)
    finally:
        container.close()
    _print_pinned(plan, as_json, print_json)


@plan_app.command("pins")
def plan_pins(
    db: Annotated[str | None, DB_OPTION] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the pins as JSON.")] = False,
) -> None:
    """The planner's pins: operation, machine, start (if pinned), who and when."""
    from microfactory.cli.common import open_container, print_json

    container = open_container(db)
    try:
        pins = container.planning().pins()
    finally:
        container.close()
    rows: list[dict[str, str]] = [
        {
            "operation": p.operation,
            "machine": p.machine,
            "start": "" if p.start is None else p.start.isoformat(),
            "by": p.by,
            "at": p.at.isoformat(),
        }
        for p in pins
    ]
    if as_json:
        print_json({"pins": [dict(row, start=row["start"] or None) for row in rows]})
        return
    if not rows:
        typer.echo("no pinned operations")
    for row in rows:
        where = row["machine"] + (f" at {row['start']}" if row["start"] else "")
        typer.echo(f"{row['operation']}: {where} (by {row['by']}, {row['at']})")


def _print_pinned(plan: Any, as_json: bool, print_json: Any) -> None:
    summary = _summary(plan)
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"plan v{plan.version} after {plan.reason}: {plan.status} ({plan.solver}, "
        f"{plan.seconds:.1f} s), {plan.moved} operations moved, weighted tardiness "
        f"{plan.weighted_tardiness}"
    )
