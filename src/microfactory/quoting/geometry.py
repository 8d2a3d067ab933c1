"""Geometry of a watertight mesh: volume, surface, bounding box, build orientation and
estimated support.

Support is estimated from overhang area: every downward-facing triangle steeper than the
self-supporting angle needs a column of support from the build plate up to it, so its
support volume is (projected area) × (height above the plate). That over-counts overhangs
that sit above other parts of the model; it is an estimate, and says so.

Orientation candidates are the six axis-aligned poses plus "largest flat face down" poses
from the convex hull; each is scored by the time its support and its height would cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from microfactory.quoting.mesh import TriangleMesh

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class OrientationWeights:
    """How orientation candidates are compared: seconds per mm³ of support and per mm of
    height (layers). Defaults suit FDM; resin is almost all height."""

    support_s_per_mm3: float = 0.25
    height_s_per_mm: float = 40.0
    self_supporting_deg: float = 45.0

    def __post_init__(self) -> None:
        if self.support_s_per_mm3 < 0 or self.height_s_per_mm < 0:
            raise ValueError("orientation weights must not be negative")
        if not 0 < self.self_supporting_deg < 90:
            raise ValueError("self_supporting_deg must be between 0 and 90")


@dataclass(frozen=True)
class Orientation:
    """A build pose: rotation applied to the model, the resulting bounding box, support."""

    label: str
    rotation: tuple[Vec3, Vec3, Vec3]
    extents_mm: Vec3
    support_volume_mm3: float
    overhang_area_mm2: float

    @property
    def height_mm(self) -> float:
        return self.extents_mm[2]

    def score_s(self, weights: OrientationWeights) -> float:
        """Seconds this pose is expected to cost in support and height (lower is better)."""
        return (
            self.support_volume_mm3 * weights.support_s_per_mm3
            + self.height_mm * weights.height_s_per_mm
        )


@dataclass(frozen=True)
class Geometry:
    volume_mm3: float
    surface_mm2: float
    bbox_mm: Vec3
    orientations: tuple[Orientation, ...]
    """Candidate poses, best first under the weights `analyze` was given."""

    @property
    def best(self) -> Orientation:
        return self.orientations[0]

    def ranked(self, weights: OrientationWeights) -> list[Orientation]:
        return sorted(self.orientations, key=lambda o: o.score_s(weights))


@dataclass(frozen=True)
class SurfaceProfile:
    """Per-triangle area and |cos| of the normal's angle to the build axis, in one pose:
    enough for a shell-volume model (walls vs top/bottom skins)."""

    areas: np.ndarray
    abs_nz: np.ndarray
    footprint_mm2: float
    nz: np.ndarray
    """Signed z component of each triangle's normal."""
    z_low: np.ndarray
    z_high: np.ndarray
    """Lowest and highest vertex height of each triangle above the plate."""


def _rotation_to_down(normal: np.ndarray) -> np.ndarray:
    """Rotation that turns `normal` into (0, 0, -1)."""
    n = normal / np.linalg.norm(normal)
    target = np.array([0.0, 0.0, -1.0])
    v = np.cross(n, target)
    c = float(np.dot(n, target))
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.asarray(np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c)))


_AXIS_POSES: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("as modelled", (0.0, 0.0, -1.0)),
    ("upside down", (0.0, 0.0, 1.0)),
    ("+x face down", (1.0, 0.0, 0.0)),
    ("-x face down", (-1.0, 0.0, 0.0)),
    ("+y face down", (0.0, 1.0, 0.0)),
    ("-y face down", (0.0, -1.0, 0.0)),
)


def signed_volume(mesh: TriangleMesh) -> float:
    """Enclosed volume by the divergence theorem (sum of signed tetrahedra from the origin);
    negative when the mesh is inside out."""
    # v0 · (v1 × v2) = v0 · ((v1 − v0) × (v2 − v0)): reuses the face cross products the
    # mesh keeps for areas and normals
    return mesh.volume


#: The hull is only used to propose "flat face down" poses, so a large mesh's hull is taken
#: over an even sample of its vertices; extents always use every vertex.
HULL_SAMPLE = 20_000


#: Up to this many distinct points the hull is found by testing every plane through three of
#: them (exact; about a millisecond), which spares a small part's quote loading SciPy
#: (a third of a second of start-up); above it, qhull.
SMALL_HULL_POINTS = 40


def _hull(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Outward facet normals and facet areas of the convex hull: qhull via SciPy, or for a
    few points every supporting plane through three of them."""
    if len(points) <= 4 * SMALL_HULL_POINTS:
        distinct = np.unique(points, axis=0)
        if len(distinct) <= SMALL_HULL_POINTS:
            return _small_hull(distinct)
    from scipy.spatial import ConvexHull, QhullError

    if len(points) > HULL_SAMPLE:
        points = points[:: len(points) // HULL_SAMPLE + 1]
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):  # flat or degenerate input: axis poses still stand
        return None
    tri = points[hull.simplices]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return hull.equations[:, :3], areas


def _small_hull(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The hull's faces of a few distinct points, one row per face (a face may be a polygon):
    a plane through three points is a face when no point lies on its outer side; the face's
    area is that of the 2-D hull of the points on the plane. None when the points are flat
    (qhull refuses them too)."""
    count = len(points)
    if count < 4:
        return None
    scale = float(np.ptp(points, axis=0).max()) or 1.0
    tol = 1e-9 * scale
    i, j, k = np.array(list(combinations(range(count), 3)), dtype=np.intp).T
    normal = np.cross(points[j] - points[i], points[k] - points[i])
    length = np.linalg.norm(normal, axis=1)
    real = length > 1e-12 * scale * scale
    normal, i = normal[real] / length[real, None], i[real]
    offset = np.einsum("ij,ij->i", normal, points[i])
    dist = points @ normal.T - offset  # (points, planes)
    above, below = (dist > tol).any(axis=0), (dist < -tol).any(axis=0)
    if not below.any() and not above.any():
        return None  # every point on one plane
    face = above ^ below  # every point on one side
    if not face.any():
        return None
    sign = np.where(above[face], -1.0, 1.0)
    normal, offset = normal[face] * sign[:, None], offset[face] * sign
    dist = dist[:, face] * sign
    # one row per plane: the triples of a polygonal face all give the same plane
    key = np.round(np.column_stack([normal, offset / scale]), 6)
    _, first = np.unique(key, axis=0, return_index=True)
    areas = [_planar_area(points[np.abs(dist[:, f]) <= tol], normal[f]) for f in first]
    return normal[first], np.asarray(areas)


def _planar_area(points: np.ndarray, normal: np.ndarray) -> float:
    """Area of the 2-D convex hull of points lying on a plane with unit `normal`."""
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    flat = sorted({(float(p @ u), float(p @ v)) for p in points})

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        chain: list[tuple[float, float]] = []
        for p in seq:
            while len(chain) >= 2 and _turn(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    ring = half(flat) + half(flat[::-1])
    return 0.5 * abs(
        sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    )


def _turn(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _candidates(
    normals: np.ndarray | None, areas: np.ndarray | None, hull_faces: int
) -> list[tuple[str, np.ndarray]]:
    out = [(label, _rotation_to_down(np.asarray(n))) for label, n in _AXIS_POSES]
    if hull_faces <= 0 or normals is None or areas is None:
        return out
    # merge coplanar hull triangles by rounded normal, then take the largest flats
    keys = np.round(normals, 3)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    flat_area = np.bincount(inverse.ravel(), weights=areas)
    for idx in np.argsort(flat_area)[::-1][:hull_faces]:
        n = uniq[idx]
        if np.max(np.abs(n)) > 0.999:
            continue  # already an axis pose
        out.append((f"flat face ({n[0]:.2f}, {n[1]:.2f}, {n[2]:.2f}) down", _rotation_to_down(n)))
    return out


def _support(
    normals_z: np.ndarray,
    areas: np.ndarray,
    centroid_z: np.ndarray,
    zmin: float,
    self_supporting_deg: float,
) -> tuple[float, float]:
    limit = -math.sin(math.radians(self_supporting_deg))
    lifted = (centroid_z - zmin) > 0.2
    over = (normals_z < limit) & lifted
    projected = areas[over] * -normals_z[over]
    volume = float(np.dot(projected, centroid_z[over] - zmin))
    return volume, float(projected.sum())


def analyze(
    mesh: TriangleMesh,
    weights: OrientationWeights | None = None,
    hull_faces: int = 6,
    *,
    volume_mm3: float | None = None,
) -> Geometry:
    """Volume, surface, bounding box and build-pose candidates (best first). `volume_mm3`
    is the enclosed volume when the caller has it already (intake computes it to validate
    the mesh), to skip a second pass over every triangle."""
    weights = weights or OrientationWeights()
    normals = mesh.face_normals
    areas = mesh.area_faces
    centroids = mesh.triangles_center
    vertices = mesh.vertices
    hull = _hull(vertices)
    candidates = _candidates(
        None if hull is None else hull[0], None if hull is None else hull[1], hull_faces
    )
    # every pose's projections in one pass over each array (rows: poses)
    up = np.stack([rot[2] for _, rot in candidates])
    nz_all = up @ normals.T
    cz_all = up @ centroids.T
    frames = np.concatenate([rot for _, rot in candidates])  # (3 × poses) × 3
    projected = frames @ vertices.T
    lows, highs = projected.min(axis=1), projected.max(axis=1)
    poses: list[Orientation] = []
    for i, (label, rot) in enumerate(candidates):
        zmin = float(lows[3 * i + 2])
        ext_x = float(highs[3 * i] - lows[3 * i])
        ext_y = float(highs[3 * i + 1] - lows[3 * i + 1])
        ext_z = float(highs[3 * i + 2] - zmin)
        support, overhang = _support(nz_all[i], areas, cz_all[i], zmin, weights.self_supporting_deg)
        poses.append(
            Orientation(
                label=label,
                rotation=tuple(tuple(float(x) for x in row) for row in rot),  # type: ignore[arg-type]
                extents_mm=(ext_x, ext_y, ext_z),
                support_volume_mm3=support,
                overhang_area_mm2=overhang,
            )
        )
    poses.sort(key=lambda o: o.score_s(weights))
    ext = mesh.extents
    return Geometry(
        volume_mm3=signed_volume(mesh) if volume_mm3 is None else volume_mm3,
        surface_mm2=mesh.area,
        bbox_mm=(float(ext[0]), float(ext[1]), float(ext[2])),
        orientations=tuple(poses),
    )


def surface_profile(mesh: TriangleMesh, orientation: Orientation) -> SurfaceProfile:
    """Triangle areas and |n·z| in the given pose, plus the area touching the plate."""
    rot = np.asarray(orientation.rotation)
    nz = mesh.face_normals @ rot[2]
    areas = mesh.area_faces
    vz = mesh.vertices @ rot[2]
    vz = vz - vz.min()
    # per corner column: a min/max along rows of three is several times slower
    f = mesh.faces
    z0, z1, z2 = np.take(vz, f[:, 0]), np.take(vz, f[:, 1]), np.take(vz, f[:, 2])
    z_low = np.minimum(np.minimum(z0, z1), z2)
    z_high = np.maximum(np.maximum(z0, z1), z2)
    on_plate = (nz < -0.999) & (z_high < 1e-3)
    return SurfaceProfile(
        areas=areas,
        abs_nz=np.abs(nz),
        footprint_mm2=float(areas[on_plate].sum()),
        nz=nz,
        z_low=z_low,
        z_high=z_high,
    )


def layer_profile(
    profile: SurfaceProfile, layer_height_mm: float, layers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: outline area (lateral surface crossing the layer, projected on the
    vertical) and cross-section area, each spread over the layers a triangle spans.

    The cross-section at height z is minus the sum of n_z·area over the surface below z
    (divergence theorem on the solid under the cut), so it is a running sum of ramps. Each
    triangle's share is spread linearly over its height: exact for vertical and horizontal
    faces, an approximation on slopes (good enough to find the short, fast layers)."""
    h = layer_height_mm
    n = max(layers, 1)
    # layer k is sampled at its mid-height; triangles above the last layer land in bin n
    k0 = np.clip(np.ceil(profile.z_low / h - 0.5), 0, n).astype(np.int64)
    k1 = np.clip(np.floor(profile.z_high / h - 0.5), 0, n).astype(np.int64)
    k1 = np.maximum(k1, k0)
    span = (k1 - k0 + 1).astype(np.float64)
    lateral = profile.areas * np.sqrt(np.clip(1.0 - profile.nz**2, 0.0, 1.0)) / span
    outline = np.bincount(k0, lateral, n + 2) - np.bincount(k1 + 1, lateral, n + 2)
    outline = np.cumsum(outline)[:n]
    slope = -profile.nz * profile.areas / span
    second = np.bincount(k0, slope, n + 2) - np.bincount(k1 + 1, slope, n + 2)
    section = np.clip(np.cumsum(np.cumsum(second))[:n], 0.0, None)
    return outline, section


def fits(extents: Vec3, build_volume: Vec3) -> bool:
    """Whether a box of `extents` (x, y, z in the pose) fits the build volume; the part may
    turn by any angle about the vertical axis (diagonally across the bed) but keeps its
    height."""
    ex, ey, ez = extents
    bx, by, bz = build_volume
    if ez > bz:
        return False
    return rectangle_fits(ex, ey, bx, by)


def rectangle_fits(w: float, h: float, bw: float, bh: float) -> bool:
    """A w × h rectangle fits a bw × bh one at some rotation (Carver, 1956)."""
    p, q = max(w, h), min(w, h)
    a, b = max(bw, bh), min(bw, bh)
    if p <= a and q <= b:
        return True
    if q > b or p * p + q * q > a * a + b * b:
        return False
    if p <= a:
        return False
    rhs = (2 * p * q * a + (p * p - q * q) * math.sqrt(p * p + q * q - a * a)) / (p * p + q * q)
    return b >= rhs


def layer_count(height_mm: float, layer_height_mm: float, first_layer_mm: float) -> int:
    if height_mm <= first_layer_mm:
        return 1
    return 1 + math.ceil((height_mm - first_layer_mm) / layer_height_mm - 1e-9)
