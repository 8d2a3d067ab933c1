"""Quoting commands: `microfactory quote MODEL --material M --quantity Q [--json]`.

Thin: parse, call the quoting service, render. Heavy imports (trimesh) happen inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from microfactory.cli.common import DB_HELP


def quote_cmd(
    args: Annotated[list[str], typer.Argument(help="MODEL file (.stl, .3mf, .obj).")],
    material: Annotated[
        str | None, typer.Option("--material", "-m", help="Material id from the factory.")
    ] = None,
    quantity: Annotated[int, typer.Option("--quantity", "-q", help="Number of parts.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    factory: Annotated[
        Path | None,
        typer.Option("--factory", help="Factory YAML file (default: the factory in the database)."),
    ] = None,
    units: Annotated[
        str | None,
        typer.Option("--units", help="Model units when the file does not say (mm, in…)."),
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option("--max-bytes", help="Upload size limit (default: settings).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Price a 3D model and promise a date: volume, mass, machine hours, price, date."""
    from microfactory.core.clock import SystemClock
    from microfactory.core.errors import ValidationError
    from microfactory.quoting.intake import IntakeLimits
    from microfactory.services.quoting import quote_file

    if len(args) != 1:
        raise ValidationError("give exactly one MODEL file", where="MODEL")
    if material is None:
        raise ValidationError("is required", where="--material")
    loaded_factory, settings_limit = _factory(factory, db)
    limit = max_bytes if max_bytes is not None else settings_limit
    if limit <= 0:
        raise ValidationError("must be positive", where="--max-bytes")
    response = quote_file(
        loaded_factory,
        Path(args[0]),
        material=material,
        quantity=quantity,
        clock=SystemClock(),
        limits=IntakeLimits(max_file_bytes=limit),
        units=units,
    )
    _render(response.to_dict(), as_json)


def _factory(path: Path | None, db: str | None) -> tuple[Any, int]:
    from microfactory.settings import Settings

    if path is not None:
        from microfactory.store.factory_file import load_factory

        return load_factory(path), Settings().max_upload_bytes
    from microfactory.cli.common import open_container
    from microfactory.services.factory import current_factory

    container = open_container(db)
    try:
        with container.uow() as tx:
            return current_factory(tx), container.settings.max_upload_bytes
    finally:
        container.close()


def _render(data: dict[str, Any], as_json: bool) -> None:
    from microfactory.cli.common import console, print_json

    if as_json:
        print_json(data)
        return
    x, y, z = data["bbox_mm"]
    console.print(
        f"[bold]{data['model']}[/]: {data['quantity']} × {data['material']} on {data['machine']} "
        f"({data['process']}, {data['orientation']})\n"
        f"  volume {data['volume_mm3']:.0f} mm³, surface {data['surface_mm2']:.0f} mm², "
        f"bbox {x:.1f} × {y:.1f} × {z:.1f} mm, {data['mass_g']:.1f} g per part\n"
        f"  machine time {data['machine_hours']:.2f} h, price [bold]{data['price']:.2f} "
        f"{data['currency']}[/] ({data['unit_price']:.2f} each)\n"
        f"  promised {data['promised_date']} — {data['promise_basis']}"
    )
    for warning in data["warnings"]:
        console.print(f"  [yellow]warning:[/] {warning}")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("quote")(quote_cmd)
