"""The quoting mesh: its per-triangle quantities against trimesh (an independent
implementation) and closed-form values, the kept upload, and the STL it writes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from microfactory.quoting.geometry import analyze
from microfactory.quoting.intake import load_model_bytes
from microfactory.quoting.mesh import TriangleMesh

from .conftest import ascii_stl, binary_stl

TORUS = trimesh.creation.torus(
    major_radius=40, minor_radius=12, major_sections=256, minor_sections=128
)
SHAPES = {
    "torus": TORUS,  # curved everywhere, a hole through it
    "box": trimesh.creation.box((20, 30, 40)),  # flat faces only
    "sphere": trimesh.creation.icosphere(subdivisions=4, radius=15),  # convex, curved
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_per_triangle_quantities_equal_trimesh(name: str) -> None:
    ref = SHAPES[name]
    mesh = TriangleMesh(np.asarray(ref.vertices), np.asarray(ref.faces))
    assert np.allclose(mesh.triangles_cross, ref.triangles_cross, rtol=1e-12, atol=1e-9)
    assert np.allclose(mesh.area_faces, ref.area_faces, rtol=1e-12)
    assert np.allclose(mesh.face_normals, ref.face_normals, rtol=1e-12, atol=1e-12)
    assert np.allclose(mesh.triangles_center, ref.triangles_center, rtol=1e-12)
    assert mesh.area == pytest.approx(ref.area, rel=1e-12)
    assert mesh.volume == pytest.approx(ref.volume, rel=1e-12)
    assert np.allclose(mesh.bounds, ref.bounds)
    assert mesh.is_watertight


def test_torus_volume_and_area_approach_the_closed_forms() -> None:
    # V = 2 pi^2 R r^2, A = 4 pi^2 R r; 256 x 128 flat facets sit inside the true surface
    loaded = load_model_bytes(binary_stl(TORUS), "torus.stl", units="mm")
    assert loaded.volume_mm3 == pytest.approx(2 * math.pi**2 * 40 * 12**2, rel=1e-3)
    assert loaded.mesh.area == pytest.approx(4 * math.pi**2 * 40 * 12, rel=1e-3)


def test_geometry_of_a_binary_stl_equals_trimeshs_numbers() -> None:
    loaded = load_model_bytes(binary_stl(TORUS), "torus.stl", units="mm")
    geo = analyze(loaded.mesh, volume_mm3=loaded.volume_mm3)
    ref = trimesh.Trimesh(np.asarray(TORUS.vertices, dtype=np.float32), TORUS.faces)
    assert geo.volume_mm3 == pytest.approx(ref.volume, rel=1e-9)
    assert geo.surface_mm2 == pytest.approx(ref.area, rel=1e-9)
    assert geo.bbox_mm == pytest.approx(tuple(ref.extents), rel=1e-9)


def test_untouched_binary_stl_in_mm_is_kept_as_uploaded() -> None:
    data = binary_stl(SHAPES["box"])
    assert load_model_bytes(data, "box.stl", units="mm").stl is data


@pytest.mark.parametrize(
    ("data", "units"),
    [
        (ascii_stl(SHAPES["box"]), "mm"),  # ASCII: kept as binary, written anew
        (binary_stl(SHAPES["box"]), "in"),  # scaled to mm
        (binary_stl(trimesh.creation.box((0.02, 0.02, 0.02))), None),  # metres assumed
        (binary_stl(trimesh.Trimesh(TORUS.vertices, TORUS.faces[:, ::-1])), "mm"),  # flipped
    ],
)
def test_changed_or_text_model_is_not_kept_as_uploaded(data: bytes, units: str | None) -> None:
    assert load_model_bytes(data, "m.stl", units=units).stl is None


def test_written_stl_reads_back_to_the_same_mesh() -> None:
    loaded = load_model_bytes(binary_stl(TORUS), "torus.stl", units="mm")
    again = load_model_bytes(loaded.mesh.to_stl(), "again.stl", units="mm")
    assert again.stl is not None  # nothing to repair: the written file is kept as it is
    assert again.volume_mm3 == loaded.volume_mm3
    assert np.array_equal(
        np.sort(again.mesh.vertices, axis=0), np.sort(loaded.mesh.vertices, axis=0)
    )


def test_rotation_keeps_volume_and_a_mirror_keeps_the_normals_outward() -> None:
    mesh = TriangleMesh(np.asarray(TORUS.vertices), np.asarray(TORUS.faces))
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    mirror = np.diag([1.0, 1.0, -1.0])
    assert mesh.rotated(turn).volume == pytest.approx(mesh.volume, rel=1e-12)
    assert mesh.rotated(mirror).volume == pytest.approx(mesh.volume, rel=1e-12)
