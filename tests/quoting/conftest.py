"""Quoting fixtures: model files written the way other tools write them (binary and ASCII
STL, 3MF, OBJ) and the printers and materials of a small shop."""

from __future__ import annotations

import io
import math
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import trimesh

from microfactory.quoting.processes import PrintMachine, PrintMaterial, Process

MODEL_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<model unit="{unit}" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
    "<resources>{objects}</resources><build>{items}</build></model>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
)


def binary_stl(mesh: trimesh.Trimesh) -> bytes:
    """Binary STL written by hand (80-byte header, count, 50 bytes per facet)."""
    out = io.BytesIO()
    out.write(b"test binary stl".ljust(80, b"\0"))
    out.write(struct.pack("<I", len(mesh.faces)))
    for tri, normal in zip(mesh.triangles, mesh.face_normals, strict=True):
        out.write(struct.pack("<12fH", *normal, *tri.ravel(), 0))
    return out.getvalue()


def ascii_stl(mesh: trimesh.Trimesh) -> bytes:
    lines = ["solid test"]
    for tri, n in zip(mesh.triangles, mesh.face_normals, strict=True):
        lines.append(f"  facet normal {n[0]:e} {n[1]:e} {n[2]:e}")
        lines.append("    outer loop")
        lines.extend(f"      vertex {v[0]:.9g} {v[1]:.9g} {v[2]:.9g}" for v in tri)
        lines.append("    endloop")
        lines.append("  endfacet")
    lines.append("endsolid test")
    return ("\n".join(lines) + "\n").encode()


def mesh_object_xml(mesh: trimesh.Trimesh, obj_id: int) -> str:
    verts = "".join(
        f'<vertex x="{v[0]:.9g}" y="{v[1]:.9g}" z="{v[2]:.9g}"/>' for v in mesh.vertices
    )
    tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in mesh.faces)
    return (
        f'<object id="{obj_id}" type="model"><mesh><vertices>{verts}</vertices>'
        f"<triangles>{tris}</triangles></mesh></object>"
    )


def three_mf(model_xml: str, extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", RELS)
        z.writestr("3D/3dmodel.model", model_xml)
        for name, blob in (extra or {}).items():
            z.writestr(name, blob)
    return out.getvalue()


def cube_3mf(size: float, unit: str = "millimeter", transform: str | None = None) -> bytes:
    mesh = trimesh.creation.box((size, size, size))
    t = f' transform="{transform}"' if transform else ""
    return three_mf(
        MODEL_XML.format(
            unit=unit, objects=mesh_object_xml(mesh, 1), items=f'<item objectid="1"{t}/>'
        )
    )


def obj_text(mesh: trimesh.Trimesh) -> bytes:
    lines = [f"v {v[0]:.9g} {v[1]:.9g} {v[2]:.9g}" for v in mesh.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    return ("# test obj\n" + "\n".join(lines) + "\n").encode()


def t_bracket() -> trimesh.Trimesh:
    """Upside-down T standing on its stem (10 × 20 × 32 mm) with a 60 × 20 × 8 mm bar on top:
    each arm (25 mm long, 20 mm deep) overhangs 32 mm above the plate."""
    outline = [(-5, 0), (5, 0), (5, 32), (30, 32), (30, 40), (-30, 40), (-30, 32), (-5, 32)]
    pts = np.asarray(outline, dtype=float)
    n = len(pts)
    # fan from a point that sees every edge (on the stem axis, inside the bar)
    c = np.array([0.0, 36.0])
    verts = np.vstack([np.c_[pts, np.zeros(n)], np.c_[pts, np.full(n, 20.0)], [[*c, 0], [*c, 20]]])
    faces = []
    for i in range(n):
        j = (i + 1) % n
        faces += [[i, j, n + j], [i, n + j, n + i], [2 * n, j, i], [2 * n + 1, n + i, n + j]]
    mesh = trimesh.Trimesh(verts, np.asarray(faces), process=True)
    if mesh.volume < 0:
        mesh.invert()
    # outline y becomes height z
    mesh.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [1, 0, 0]))
    mesh.apply_translation(-mesh.bounds[0])
    return mesh


@pytest.fixture()
def write(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture()
def shop() -> tuple[list[PrintMachine], list[PrintMaterial]]:
    machines = [
        PrintMachine("fdm-small", Process.FDM, (200.0, 200.0, 200.0), 4.0),
        PrintMachine("fdm-big", Process.FDM, (400.0, 400.0, 400.0), 10.0),
        PrintMachine("resin-1", Process.RESIN, (120.0, 70.0, 150.0), 6.0),
    ]
    materials = [
        PrintMaterial("pla", Process.FDM, 1.24, 25.0, 12.0),
        PrintMaterial("resin-grey", Process.RESIN, 1.12, 60.0),
    ]
    return machines, materials
