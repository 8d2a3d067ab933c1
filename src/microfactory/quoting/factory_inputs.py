"""The printing view of a domain `Factory`: its printers and printable materials as the
engine's plain inputs, and the currency its prices are in."""

from __future__ import annotations

from dataclasses import dataclass

from microfactory.orders import Factory
from microfactory.quoting.processes import (
    PrintMachine,
    PrintMaterial,
    print_machine,
    print_material,
)


@dataclass(frozen=True)
class PrintingInputs:
    machines: tuple[PrintMachine, ...]
    materials: tuple[PrintMaterial, ...]
    currency: str


def printing_inputs(factory: Factory) -> PrintingInputs:
    machines = tuple(m for m in map(print_machine, factory.machines) if m is not None)
    materials = tuple(m for m in map(print_material, factory.materials) if m is not None)
    return PrintingInputs(machines, materials, factory.site.currency)
