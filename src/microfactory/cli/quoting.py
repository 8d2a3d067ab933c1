"""Quoting commands: `microfactory quote MODEL --material M --quantity Q [--json]`.

Thin: parse, call the quoting service, render. Heavy imports (trimesh) happen inside.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from microfactory.bootstrap import Container
    from microfactory.services.quoting import QuoteService

from microfactory.cli.common import DB_HELP


def quote_cmd(
    args: Annotated[
        list[str], typer.Argument(help="MODEL file (.stl, .3mf, .obj), or: accept QUOTE_ID")
    ],
    material: Annotated[
        str | None, typer.Option("--material", "-m", help="Material id from the factory.")
    ] = None,
    quantity: Annotated[int, typer.Option("--quantity", "-q", help="Number of parts.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    factory: Annotated[
        Path | None,
        typer.Option(
            "--factory",
            help="Factory YAML file: quote without the database (lead-time rule, no hold).",
        ),
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Customer id (needed to accept).")
    ] = None,
    hold: Annotated[
        bool, typer.Option("--hold/--no-hold", help="Store the quote and reserve capacity.")
    ] = True,
    units: Annotated[
        str | None,
        typer.Option("--units", help="Model units when the file does not say (mm, in…)."),
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="Upload size limit (default: settings).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Price a 3D model and promise a date (capable-to-promise on the current plan), or
    `quote accept QUOTE_ID` to turn a held quote into an order and replan."""
    from microfactory.core.errors import ValidationError

    _one_pass_numpy()
    if len(args) == 2 and args[0] == "accept" and not Path(args[0]).exists():
        _accept(args[1], customer, as_json, db)
        return
    if len(args) != 1:
        raise ValidationError("give one MODEL file, or: accept QUOTE_ID", where="MODEL")
    if material is None:
        raise ValidationError("is required", where="--material")
    if max_bytes is not None and max_bytes <= 0:
        raise ValidationError("must be positive", where="--max-bytes")
    if factory is not None:
        _render(
            _quote_from_file(factory, Path(args[0]), material, quantity, units, max_bytes), as_json
        )
        return
    container = _open(db)
    try:
        service = _service(container, max_bytes)
        response = service.quote_file(
            Path(args[0]),
            material=material,
            quantity=quantity,
            customer=customer,
            units=units,
            hold=hold,
        )
        from microfactory.cli.display import site_format

        site = site_format(container)
    finally:
        container.close()
    _render(response.to_dict(), as_json, site)


def _one_pass_numpy() -> None:
    """Tune NumPy for one short pass over a model, before it is imported (a setting the user
    made wins). Huge pages: every temporary of a 1,000,000-triangle model is fresh memory that
    the kernel zeroes in 2 MiB pages, which cost 0.5 s of system time per quote (1.1 s with,
    0.5 s without, on the 2-core development box); they pay off for long-lived arrays, which a
    quote has none of. BLAS threads: the products are 3 x 8 by n, too thin to split, and the
    waiting threads spun for about 0.3 s of CPU."""
    import os
    import sys

    if "numpy" not in sys.modules:
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _quote_from_file(
    factory: Path,
    model: Path,
    material: str,
    quantity: int,
    units: str | None,
    max_bytes: int | None,
) -> dict[str, Any]:
    from microfactory.bootstrap import read_factory_file
    from microfactory.core.clock import SystemClock
    from microfactory.quoting.intake import IntakeLimits
    from microfactory.services.quoting import quote_file
    from microfactory.settings import Settings

    limit = max_bytes if max_bytes is not None else Settings().max_upload_bytes
    response = quote_file(
        read_factory_file(factory),
        model,
        material=material,
        quantity=quantity,
        clock=SystemClock(),
        limits=IntakeLimits(max_file_bytes=limit),
        units=units,
    )
    return response.to_dict()


def _open(db: str | None) -> Any:
    from microfactory.cli.common import open_container

    return open_container(db)


def _service(container: Container, max_bytes: int | None) -> QuoteService:
    return container.quotes(max_upload_bytes=max_bytes)


def _accept(quote_id: str, customer: str | None, as_json: bool, db: str | None) -> None:
    from microfactory.cli.common import console, print_json

    container = _open(db)
    try:
        accepted = _service(container, None).accept(quote_id, customer=customer)
        from microfactory.cli.display import site_format

        site = site_format(container)
    finally:
        container.close()
    data = accepted.to_dict()
    if as_json:
        print_json(data)
        return
    console.print(
        f"[green]accepted[/] {quote_id} → order [bold]{data['order_id']}[/], promised "
        f"{_local(data['promised_date'], site)}, planned completion "
        f"{_local(data['planned_completion'], site)} "
        f"(plan v{data['plan_version']})\n  tracking token: {data['tracking_token']}"
    )


def _local(value: str | None, site: tuple[str, str]) -> str:
    """An RFC 3339 time from the service as people at the site read it (their zone and
    locale, to the minute)."""
    from microfactory.cli.display import local_time
    from microfactory.core.timeutil import parse_rfc3339

    return local_time(parse_rfc3339(value), *site) if value else "—"


def _render(data: dict[str, Any], as_json: bool, site: tuple[str, str] = ("UTC", "en")) -> None:
    from microfactory.cli.common import console, print_json

    if as_json:
        print_json(data)
        return
    data = dict(data)
    for key in ("promised_date", "expires_at"):
        if data.get(key):
            data[key] = _local(data[key], site)
    x, y, z = data["bbox_mm"]
    console.print(
        f"[bold]{data['model']}[/]: {data['quantity']} × {data['material']} on {data['machine']} "
        f"({data['process']}, {data['orientation']})\n"
        f"  volume {data['volume_mm3']:.0f} mm³, surface {data['surface_mm2']:.0f} mm², "
        f"bbox {x:.1f} × {y:.1f} × {z:.1f} mm, {data['mass_g']:.1f} g per part\n"
        f"  machine time {data['machine_hours']:.2f} h, price [bold]{data['price']:.2f} "
        f"{data['currency']}[/] ({data['unit_price']:.2f} each)\n"
        f"  promised [bold]{data['promised_date']}[/]"
    )
    basis = textwrap.fill(
        data["promise_basis"], width=78, initial_indent="  ", subsequent_indent="    "
    )
    console.print(basis, markup=False, highlight=False, soft_wrap=True)
    if data.get("quote_id"):
        console.print(f"  quote [bold]{data['quote_id']}[/] held until {data['expires_at']}")
    for warning in data["warnings"]:
        console.print(f"  [yellow]warning:[/] {warning}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("quote")(quote_cmd)
