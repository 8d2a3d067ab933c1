"""The layering of DESIGN.md, enforced: a lower layer never imports a higher one."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "microfactory"

# package → the microfactory packages it may import (besides itself)
DOMAIN = {"core", "shopfloor", "orders", "access"}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "shopfloor": {"core"},
    "access": {"core"},
    "orders": {"core", "shopfloor"},
    "planning": DOMAIN,
    "quality": DOMAIN,
    "maintenance": DOMAIN,
    "quoting": DOMAIN,
    "twin": DOMAIN,
    "store": DOMAIN,
    "connect": DOMAIN,
}
INTERFACES = {"api", "web", "cli"}
ADAPTERS = {"store", "connect"}
# composition roots: where concrete adapters are wired (besides bootstrap.py)
COMPOSITION: dict[str, set[str]] = {
    "api/composition.py": {"store", "connect", "web"},
    # the ingestion benchmark measures our adapters against naive consumers: it must build them
    "cli/ingest_bench.py": {"store", "connect"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "microfactory" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) > 1:
            out.append((rel.parts[0], path))
    return out


@pytest.mark.parametrize(("package", "path"), modules(), ids=lambda v: str(v))
def test_module_respects_layers(package: str, path: Path) -> None:
    imported = imported_packages(path) - {package}
    if package in ALLOWED:
        forbidden = imported - ALLOWED[package]
        assert not forbidden, f"{path.relative_to(SRC)} imports {sorted(forbidden)}"
    elif package == "services":
        # use cases talk to adapters only through the ports of services/ports.py
        forbidden = imported & (INTERFACES | ADAPTERS | {"bootstrap", "settings"})
        assert not forbidden, f"{path.relative_to(SRC)} imports {sorted(forbidden)}"
    elif package in INTERFACES:
        # interfaces call services; adapters are wired in one place (bootstrap and the web
        # app's composition root); the API renders no HTML (web builds on the API, not back)
        rel = str(path.relative_to(SRC))
        forbidden = imported & (ADAPTERS | {"cli"} | ({"web"} if package == "api" else set()))
        forbidden -= COMPOSITION.get(rel, set())
        assert not forbidden, f"{rel} imports {sorted(forbidden)}"
