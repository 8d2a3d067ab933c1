"""Quality commands: `spc` (control charts with run rules) and `quality capability`.

Thin: parse options, call the quality engine, render JSON or a short table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

quality_app = typer.Typer(
    help="Quality: process capability, records and traces.", no_args_is_help=True
)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def spc_cmd(
    chart: Annotated[
        str, typer.Option("--chart", help="xbar-r, xbar-s, imr, p, np, c, u, ewma or cusum")
    ],
    data: Annotated[Path, typer.Option("--data", help="CSV with a 'value' column")],
    subgroup_size: Annotated[
        int | None,
        typer.Option("--subgroup-size", help="Rows per subgroup (or sample size for p/np/u)"),
    ] = None,
    rules: Annotated[
        str, typer.Option("--rules", help="nelson or western-electric (or rule ids)")
    ] = "nelson",
    exclude_out_of_control: Annotated[
        bool,
        typer.Option(
            "--exclude-out-of-control",
            help="Phase I: drop subgroups beyond the limits and re-estimate until none remain",
        ),
    ] = False,
    lam: Annotated[float, typer.Option("--lambda", help="EWMA smoothing constant")] = 0.2,
    width: Annotated[float, typer.Option("--limit-width", help="EWMA limit width L")] = 3.0,
    k: Annotated[float, typer.Option("--k", help="CUSUM reference value (in sigma)")] = 0.5,
    h: Annotated[float, typer.Option("--h", help="CUSUM decision interval (in sigma)")] = 5.0,
    target: Annotated[
        float | None, typer.Option("--target", help="Known mean for EWMA / CUSUM")
    ] = None,
    sigma: Annotated[
        float | None, typer.Option("--sigma", help="Known sigma for EWMA / CUSUM")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also write the chart (.html or .png)")
    ] = None,
    limits_from: Annotated[
        Path | None,
        typer.Option(
            "--limits-from",
            help="Phase II: estimate the limits from this CSV (Phase I) and freeze them",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Control chart limits, points and every rule violation (0-based point indices)."""
    from microfactory.quality.charts import control_chart
    from microfactory.quality.measurement_csv import read_measurements

    def chart_of(path: Path, phase_one: bool, estimate: Any = None) -> Any:
        table = read_measurements(path)
        return control_chart(
            chart,
            table.values,
            sizes=table.sizes,
            subgroup_labels=table.subgroups,
            subgroup_size=subgroup_size,
            rules=rules,
            exclude_out_of_control=exclude_out_of_control and phase_one,
            estimate=estimate,
            lam=lam,
            width=width,
            k=k,
            h=h,
            target=target,
            sigma=sigma,
        )

    if limits_from is not None:
        reference = chart_of(limits_from, True)
        result = chart_of(data, False, reference.estimate)
    else:
        result = chart_of(data, True)
    if plot is not None:
        from microfactory.quality.chart_plot import chart_figure
        from microfactory.services.figures import write_figure

        write_figure(chart_figure(result, f"{result.chart} chart of {data.name}"), plot, width=1200)
    if as_json:
        _print_json(result.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    table_out = Table(title=f"{result.chart} chart of {data.name}")
    for col in ("series", "points", "center", "lcl", "ucl", "violations"):
        table_out.add_column(col)
    for s in result.charts:

        def fmt(values: Any) -> str:
            return "varies" if len(set(values.tolist())) > 1 else f"{float(values[0]):.6g}"

        table_out.add_row(
            s.name,
            str(s.points.shape[0]),
            fmt(s.center),
            fmt(s.lcl),
            fmt(s.ucl),
            str(len(s.violations)),
        )
    console = Console()
    console.print(table_out)
    for name, v in result.violations:
        console.print(f"  {name}: {v.rule} at point {v.index}")
    if result.excluded:
        console.print(f"excluded from the estimate: {', '.join(map(str, result.excluded))}")
    if plot is not None:
        console.print(f"chart written to {plot}")


def capability_cmd(
    data: Annotated[Path, typer.Option("--data", help="CSV with a 'value' column")],
    lsl: Annotated[float | None, typer.Option("--lsl", help="Lower specification limit")] = None,
    usl: Annotated[float | None, typer.Option("--usl", help="Upper specification limit")] = None,
    target: Annotated[
        float | None, typer.Option("--target", help="Target (default: mid-specification)")
    ] = None,
    subgroup_size: Annotated[
        int, typer.Option("--subgroup-size", help="Rows per subgroup for within sigma")
    ] = 1,
    confidence: Annotated[
        float, typer.Option("--confidence", help="Confidence level of the intervals")
    ] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Cp, Cpk, Pp, Ppk, Cpm with confidence intervals and an Anderson–Darling check."""
    from microfactory.quality.capability import process_capability
    from microfactory.quality.measurement_csv import read_measurements
    from microfactory.quality.subgroups import Subgroups

    table = read_measurements(data)
    values: Any = table.values
    if table.subgroups is not None:
        values = Subgroups.from_labels(table.values, table.subgroups)
    result = process_capability(
        values,
        lsl=lsl,
        usl=usl,
        target=target,
        subgroup_size=subgroup_size,
        confidence=confidence,
    )
    if as_json:
        _print_json(result.to_dict())
        return
    from rich.console import Console

    console = Console()
    console.print(
        f"n={result.n} mean={result.mean:.6g} sigma within={result.sigma_within:.6g} "
        f"overall={result.sigma_overall:.6g}"
    )
    for name in ("cp", "cpk", "pp", "ppk", "cpm"):
        value = getattr(result, name)
        if value is None:
            continue
        ci = result.intervals.get(name)
        span = f"  [{ci.low:.3f}, {ci.high:.3f}]" if ci else ""
        console.print(f"{name:>4} = {value:.3f}{span}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def _quality_store(db: str | None) -> tuple[Any, Any]:
    """(container, SqlQualityStore) for `--db`; the caller closes the container."""
    from microfactory.cli.common import open_container

    container = open_container(db)
    return container, container.quality_store()


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: MICROFACTORY_DATABASE_URL or sqlite)"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def trace_cmd(
    key: Annotated[
        str,
        typer.Argument(help="Material lot, order, work order, serial number, part id or lot"),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Genealogy: forward from a material lot (to the customers: a recall list), backward
    from an order, work order, serial, part or lot (to the material lots)."""
    from microfactory.services.genealogy import trace

    container, store = _quality_store(db)
    try:
        with container.uow() as tx:
            result = trace(tx, store, key)
    finally:
        container.close()
    if as_json:
        _print_json(result)
        return
    from rich.console import Console

    console = Console(soft_wrap=True)
    if result["direction"] == "forward":
        lot = result["material_lot"]
        console.print(
            f"material lot {lot['id']} ({lot['material']}): {result['consumed']:g} {lot['unit']} "
            f"used, {lot['on_hand']:g} {lot['unit']} on hand; went into:"
        )
        for wo in result["work_orders"]:
            parts = ", ".join(wo["serials"]) or f"{wo['parts']} parts"
            console.print(
                f"  {wo['id']} ({wo['product']}, lot {wo['lot']}) of order {wo['order']} for "
                f"{wo['customer']}: {wo['material_quantity']:g} {lot['unit']}, {parts}"
            )
        names = ", ".join(f"{c['customer']} ({c['order']})" for c in result["customers"])
        console.print(f"customers: {names or 'none'}")
        return
    console.print(f"{result['kind']} {result['query']} (lot {result['lot'] or '-'})")
    for wo in result["work_orders"]:
        console.print(
            f"  work order {wo['work_order']['id']} of order {wo['order']['id']} "
            f"({wo['order']['customer']}), machines: {', '.join(wo['machines']) or 'none'}"
        )
        for use in wo["material_lots"]:
            console.print(
                f"    {use['material']} lot {use['material_lot']}: {use['quantity']:g} "
                f"at {use['operation']}"
            )
    for m in result["discrepancies"]:
        console.print(f"  [yellow]{m['quantity']:g} {m['unit']} {m['material']} from no known lot")
    console.print(
        f"  {len(result['measurements'])} measurements, {len(result['ncrs'])} NCRs, "
        f"{len(result['holds'])} holds"
    )


def holds_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Lots on hold (their later operations are not dispatched)."""
    container, store = _quality_store(db)
    try:
        rows = store.holds(active_only=True)
    finally:
        container.close()
    data = [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows
    ]
    if as_json:
        _print_json(data)
        return
    for row in data:
        typer.echo(f"{row['lot']}  since {row['held_at']}  {row['reason']}")


def ncrs_cmd(
    lot: Annotated[str | None, typer.Option("--lot", help="Only this lot")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Nonconformance reports."""
    from microfactory.services.quality import list_ncrs, ncr_row

    container, store = _quality_store(db)
    try:
        ncrs = list_ncrs(store, lot=lot)
    finally:
        container.close()
    data = [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in ncr_row(n).items()}
        for n in ncrs
    ]
    if as_json:
        _print_json(data)
        return
    for row in data:
        typer.echo(f"{row['id']}  {row['status']:<13} {row['lot_id']}  {row['description']}")


def disposition_cmd(
    ncr_id: Annotated[str, typer.Argument(help="NCR id")],
    disposition: Annotated[str, typer.Option("--as", help="scrap, rework, use-as-is or return")],
    by: Annotated[str, typer.Option("--by", help="Who decides")],
    note: Annotated[str, typer.Option("--note", help="Justification")] = "",
    db: DbOption = None,
) -> None:
    """Disposition a nonconformance: scrap, rework, use-as-is or return."""
    from microfactory.core.clock import SystemClock
    from microfactory.services.quality import disposition_ncr

    container, store = _quality_store(db)
    try:
        ncr = disposition_ncr(store, ncr_id, disposition, by=by, at=SystemClock().now(), note=note)
    finally:
        container.close()
    typer.echo(f"{ncr.id}: {ncr.status.value} ({disposition})")


def release_cmd(
    lot: Annotated[str, typer.Argument(help="Lot to release")],
    by: Annotated[str, typer.Option("--by", help="Who releases")],
    note: Annotated[str, typer.Option("--note", help="Why")] = "",
    db: DbOption = None,
) -> None:
    """Release a held lot (refused while one of its NCRs is open); its remaining work is
    planned again."""
    from microfactory.core.clock import SystemClock
    from microfactory.services.quality import release_hold

    container, store = _quality_store(db)
    try:
        planning = container.planning()
        release_hold(store, planning, lot, by=by, at=SystemClock().now(), note=note)
        version = planning.serve_requests()
    finally:
        container.close()
    planned = "" if version is None else f"; plan v{version.version}"
    typer.echo(f"{lot} released{planned}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("spc")(spc_cmd)
    app.command("trace")(trace_cmd)
    quality_app.command("capability")(capability_cmd)
    quality_app.command("holds")(holds_cmd)
    quality_app.command("ncrs")(ncrs_cmd)
    quality_app.command("disposition")(disposition_cmd)
    quality_app.command("release")(release_cmd)
    app.add_typer(quality_app, name="quality")
