"""The factory aggregate: site, areas, machines, materials, products, customers.
Cross-object rules live in `validate()`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from microfactory.orders.crew import Crew
from microfactory.orders.materials import Material
from microfactory.orders.products import Customer, Product
from microfactory.shopfloor.machines import Area, Machine, Site


@dataclass(frozen=True)
class FactoryProblem:
    """One broken cross-object rule with the field path it concerns."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Factory:
    site: Site
    areas: tuple[Area, ...]
    machines: tuple[Machine, ...]
    materials: tuple[Material, ...]
    products: tuple[Product, ...]
    customers: tuple[Customer, ...] = ()
    crew: Crew = field(default_factory=Crew)

    @property
    def machine_map(self) -> Mapping[str, Machine]:
        return {m.id: m for m in self.machines}

    @property
    def product_map(self) -> Mapping[str, Product]:
        return {p.id: p for p in self.products}

    @property
    def material_map(self) -> Mapping[str, Material]:
        return {m.id: m for m in self.materials}

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(c for m in self.machines for c in m.capabilities)

    def eligible_machines(self, capability: str, restrict: tuple[str, ...] = ()) -> list[Machine]:
        return [
            m for m in self.machines if m.can(capability) and (not restrict or m.id in restrict)
        ]

    def validate(self) -> list[FactoryProblem]:
        """Every cross-object problem (empty list = valid)."""
        problems: list[FactoryProblem] = []

        def dupes(kind: str, ids: list[str]) -> None:
            seen: set[str] = set()
            for i, ident in enumerate(ids):
                if ident in seen:
                    problems.append(FactoryProblem(f"{kind}[{i}].id", f"duplicate id {ident!r}"))
                seen.add(ident)

        dupes("areas", [a.id for a in self.areas])
        dupes("machines", [m.id for m in self.machines])
        dupes("materials", [m.id for m in self.materials])
        dupes("products", [p.id for p in self.products])
        dupes("customers", [c.id for c in self.customers])
        area_ids = {a.id for a in self.areas}
        machine_ids = {m.id for m in self.machines}
        for i, m in enumerate(self.machines):
            if m.area not in area_ids:
                problems.append(FactoryProblem(f"machines[{i}].area", f"unknown area {m.area!r}"))
        components = {m.id for m in self.materials} | {p.id for p in self.products}
        caps = self.capabilities
        for i, p in enumerate(self.products):
            for j, op in enumerate(p.routing):
                where = f"products[{i}].routing[{j}]"
                if op.capability not in caps:
                    problems.append(
                        FactoryProblem(
                            f"{where}.capability",
                            f"unknown capability {op.capability!r}: no machine offers it",
                        )
                    )
                    continue
                for k, mid in enumerate(op.machines):
                    if mid not in machine_ids:
                        problems.append(
                            FactoryProblem(f"{where}.machines[{k}]", f"unknown machine {mid!r}")
                        )
                if not self.eligible_machines(op.capability, op.machines):
                    problems.append(
                        FactoryProblem(where, f"no listed machine offers {op.capability!r}")
                    )
            materials = self.material_map
            for j, line in enumerate(p.bom):
                for component in line.components(p):
                    if component not in components:
                        problems.append(
                            FactoryProblem(
                                f"products[{i}].bom[{j}].component",
                                f"unknown material or product {component!r}",
                            )
                        )
                    elif component in materials:
                        try:
                            materials[component].to_stock_unit(line.quantity, line.unit)
                        except ValueError as exc:
                            problems.append(
                                FactoryProblem(f"products[{i}].bom[{j}].unit", str(exc))
                            )
                if line.component == p.id:
                    problems.append(
                        FactoryProblem(f"products[{i}].bom[{j}]", "a product cannot contain itself")
                    )
        problems.extend(self._bom_cycles())
        steps = {p.id: [op.seq for op in p.routing] for p in self.products}
        problems.extend(
            FactoryProblem(path, reason) for path, reason in self.crew.problems(machine_ids, steps)
        )
        problems.extend(self._crew_ambiguities())
        return problems

    def _crew_ambiguities(self) -> list[FactoryProblem]:
        """A step without its own crew need whose machines need different skills: the plan
        could not say whom it needs."""
        found: list[FactoryProblem] = []
        for i, p in enumerate(self.products):
            for j, op in enumerate(p.routing):
                if (p.id, op.seq) in self.crew.steps:
                    continue
                eligible = self.eligible_machines(op.capability, op.machines)
                skills = sorted(
                    {self.crew.machines[m.id].skill for m in eligible if m.id in self.crew.machines}
                )
                if len(skills) > 1:
                    found.append(
                        FactoryProblem(
                            f"products[{i}].routing[{j}].crew",
                            f"its machines need different skills ({', '.join(skills)}): "
                            "give the step its own crew",
                        )
                    )
        return found

    def _bom_cycles(self) -> list[FactoryProblem]:
        """Products that contain themselves through other products (A → B → A): one problem
        per cycle, at the BOM line that closes it. Iterative, so a deep BOM cannot overflow
        the stack."""
        index = {p.id: i for i, p in enumerate(self.products)}
        edges = {
            p.id: [(j, line.component) for j, line in enumerate(p.bom) if line.component in index]
            for p in self.products
        }
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        problems: list[FactoryProblem] = []
        for root in edges:
            if root in state:
                continue
            path: list[str] = [root]
            stack = [iter(edges[root])]
            state[root] = 1
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    state[path.pop()] = 2
                    stack.pop()
                    continue
                j, child = step
                if state.get(child) == 1 and child != path[-1]:
                    loop = [*path[path.index(child) :], child]
                    problems.append(
                        FactoryProblem(
                            f"products[{index[path[-1]]}].bom[{j}]",
                            f"bill of materials has a cycle: {' → '.join(loop)}",
                        )
                    )
                elif child not in state:
                    state[child] = 1
                    path.append(child)
                    stack.append(iter(edges[child]))
        return problems
