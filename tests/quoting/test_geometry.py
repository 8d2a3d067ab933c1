"""Geometry: volume, area, bounding box, poses, support estimate, fit, layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from microfactory.quoting.geometry import (
    OrientationWeights,
    analyze,
    fits,
    layer_count,
    layer_profile,
    surface_profile,
)

from .conftest import t_bracket


def test_cylinder_volume_area_and_bbox_match_formulas() -> None:
    r, h, n = 15.0, 40.0, 256
    geo = analyze(trimesh.creation.cylinder(radius=r, height=h, sections=n))
    # a regular n-gon prism: area of the polygon = n/2 r² sin(2π/n)
    polygon = n / 2 * r * r * math.sin(2 * math.pi / n)
    side = n * 2 * r * math.sin(math.pi / n) * h
    assert geo.volume_mm3 == pytest.approx(polygon * h, rel=1e-9)
    assert geo.surface_mm2 == pytest.approx(2 * polygon + side, rel=1e-9)
    assert geo.bbox_mm[2] == pytest.approx(h)


def test_overhang_support_volume_is_area_times_height() -> None:
    geo = analyze(t_bracket())
    modelled = next(o for o in geo.orientations if o.label == "as modelled")
    # two arms 25 × 20 mm, 32 mm above the plate
    assert modelled.overhang_area_mm2 == pytest.approx(2 * 25 * 20)
    assert modelled.support_volume_mm3 == pytest.approx(2 * 25 * 20 * 32)


def test_best_pose_lies_the_bracket_flat_without_support() -> None:
    best = analyze(t_bracket()).best
    assert best.support_volume_mm3 == 0.0
    assert best.height_mm == pytest.approx(20.0)


def test_height_weight_picks_the_lowest_pose_for_a_bar() -> None:
    bar = trimesh.creation.box((10, 10, 80))
    best = analyze(bar).best
    assert best.height_mm == pytest.approx(10.0)


def test_self_supporting_angle_decides_what_needs_support() -> None:
    # a cone standing on its tip: the surface is 45° + a little from vertical
    cone = trimesh.creation.cone(radius=20, height=19, sections=64)
    cone.apply_transform(trimesh.transformations.rotation_matrix(math.pi, [1, 0, 0]))
    strict = analyze(cone, OrientationWeights(self_supporting_deg=40))
    lenient = analyze(cone, OrientationWeights(self_supporting_deg=50))
    pose = "as modelled"
    assert next(o for o in strict.orientations if o.label == pose).support_volume_mm3 > 0
    assert next(o for o in lenient.orientations if o.label == pose).support_volume_mm3 == 0


@pytest.mark.parametrize(
    ("extents", "volume", "expected"),
    [
        ((190, 90, 50), (200, 100, 100), True),  # fits as is
        ((90, 190, 50), (200, 100, 100), True),  # fits after a quarter turn about z
        ((190, 90, 150), (200, 100, 100), False),  # too tall: height is kept
        ((210, 50, 50), (200, 100, 100), False),  # too long and too wide for the diagonal
        ((250, 10, 10), (200, 200, 100), True),  # only diagonally across the bed
        ((280, 10, 10), (200, 200, 100), False),  # longer than the bed's diagonal allows
    ],
)
def test_fits_allows_any_turn_about_z_only(
    extents: tuple[float, float, float], volume: tuple[float, float, float], expected: bool
) -> None:
    assert fits(extents, volume) is expected


@pytest.mark.parametrize(
    ("height", "layer", "first", "expected"),
    [(20.0, 0.2, 0.2, 100), (20.1, 0.2, 0.2, 101), (0.1, 0.2, 0.3, 1), (10.0, 0.1, 0.3, 98)],
)
def test_layer_count(height: float, layer: float, first: float, expected: int) -> None:
    assert layer_count(height, layer, first) == expected


def test_layer_profile_of_a_box_has_constant_section_and_outline() -> None:
    box = trimesh.creation.box((30, 20, 10))
    geo = analyze(box)
    pose = next(o for o in geo.orientations if o.label == "as modelled")
    outline, section = layer_profile(surface_profile(box, pose), 0.5, 20)
    assert np.allclose(section, 600.0)
    # lateral area 2·(30+20)·10 spread over 20 layers of 0.5 mm
    assert np.allclose(outline, 2 * (30 + 20) * 10 / 20)


def test_layer_profile_of_a_cone_starts_at_the_base_and_shrinks_to_nothing() -> None:
    # each triangle's area is spread linearly over its height (an approximation: the true
    # cone section shrinks quadratically), so only the invariants are asserted
    cone = trimesh.creation.cone(radius=10, height=10, sections=256)
    geo = analyze(cone)
    pose = next(o for o in geo.orientations if o.label == "as modelled")
    _, section = layer_profile(surface_profile(cone, pose), 1.0, 10)
    base = 256 / 2 * 100 * math.sin(2 * math.pi / 256)
    assert section[0] == pytest.approx(base * 0.9, rel=0.01)
    assert np.all(np.diff(section) < 0)
    assert section[-1] == pytest.approx(0.0, abs=1e-6)


def _flats(normals: np.ndarray, areas: np.ndarray) -> dict[tuple[float, ...], float]:
    """Hull area per outward face direction (normals rounded as the pose search rounds them)."""
    out: dict[tuple[float, ...], float] = {}
    for n, a in zip(np.round(normals, 3), areas, strict=True):
        key = tuple(float(x) + 0.0 for x in n)
        out[key] = out.get(key, 0.0) + float(a)
    return out


@pytest.mark.parametrize(
    "shape",
    ["cube", "octahedron", "pyramid", "random-12", "random-40", "prism"],
)
def test_small_hull_has_qhulls_faces_and_areas(shape: str) -> None:
    """The exact hull of a few points (every supporting plane through three of them, which a
    small part's quote uses instead of loading SciPy) has the faces and areas qhull finds."""
    from scipy.spatial import ConvexHull

    from microfactory.quoting.geometry import _small_hull

    rng = np.random.default_rng(7)
    points = {
        "cube": np.array([[x, y, z] for x in (0, 20) for y in (0, 30) for z in (0, 5)], float),
        "octahedron": np.array(
            [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float
        ),
        "pyramid": np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [5, 5, 7]], float),
        "random-12": rng.normal(size=(12, 3)) * [30, 10, 5],
        "random-40": rng.uniform(-1, 1, size=(40, 3)) * 50,
        # a hexagonal prism with its cap's centre: a point inside a face
        "prism": np.array(
            [[np.cos(a), np.sin(a), z] for a in np.linspace(0, 2 * np.pi, 7)[:-1] for z in (0, 3)]
            + [[0.0, 0.0, 3.0]]
        ),
    }[shape]
    hull = ConvexHull(points)
    tri = points[hull.simplices]
    qhull_areas = 0.5 * np.linalg.norm(
        np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1
    )
    ours = _small_hull(np.unique(points, axis=0))
    assert ours is not None
    expected = _flats(hull.equations[:, :3], qhull_areas)
    got = _flats(*ours)
    assert got.keys() == expected.keys()
    for key, area in expected.items():
        assert got[key] == pytest.approx(area, rel=1e-9), key
    # and the total is the hull's surface (independent: qhull's `area`)
    assert sum(got.values()) == pytest.approx(hull.area, rel=1e-9)


def test_small_hull_of_flat_points_is_none_like_qhull() -> None:
    from microfactory.quoting.geometry import _small_hull

    square = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1], [0.5, 0.5, 1]], float)
    assert _small_hull(square) is None
