"""3D model intake: read STL (binary and ASCII), 3MF and OBJ into a validated triangle mesh.

Every refusal is a `ValidationError` naming the file and the reason; nothing is kept of a
refused file. 3MF archives are checked for declared uncompressed size, compression ratio and
entry count *before* anything is extracted, and reads are bounded so that an archive whose
headers lie still cannot expand past the limit. 3MF component trees are sized (triangles,
vertices, instances, depth; cycles refused) *before* anything is expanded, so a file of a few
hundred bytes cannot ask for billions of triangles. Coordinates must be finite and within
`max_coordinate_mm`; face indices must name existing vertices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microfactory.core.errors import ValidationError
from microfactory.quoting.mesh import STL_RECORD, TriangleMesh
from microfactory.quoting.threemf import read_3mf

#: Length of one model unit in millimetres (3MF `unit` values plus common short names).
UNIT_MM: dict[str, float] = {
    "micron": 0.001,
    "um": 0.001,
    "millimeter": 1.0,
    "millimetre": 1.0,
    "mm": 1.0,
    "centimeter": 10.0,
    "centimetre": 10.0,
    "cm": 10.0,
    "inch": 25.4,
    "in": 25.4,
    "foot": 304.8,
    "ft": 304.8,
    "meter": 1000.0,
    "metre": 1000.0,
    "m": 1000.0,
}

FORMATS = ("stl", "3mf", "obj")


@dataclass(frozen=True)
class IntakeLimits:
    """Configurable limits on what a customer may upload."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_zip_entries: int = 1000
    max_triangles: int = 5_000_000
    max_hole_share: float = 0.1
    """Holes are closed only while the patches stay under this share of the surface."""
    max_instances: int = 100_000
    """3MF: most mesh copies the build may place (through build items and components)."""
    max_component_depth: int = 16
    """3MF: deepest nesting of components."""
    max_coordinate_mm: float = 1_000_000.0
    """Largest absolute coordinate, in millimetres (1 km): far beyond any build volume, and
    small enough that areas and volumes cannot overflow."""

    def __post_init__(self) -> None:
        if min(self.max_file_bytes, self.max_uncompressed_bytes, self.max_zip_entries) <= 0:
            raise ValueError("intake limits must be positive")
        if self.max_compression_ratio < 1 or self.max_triangles <= 0:
            raise ValueError("max_compression_ratio must be >= 1 and max_triangles positive")
        if self.max_instances <= 0 or self.max_component_depth <= 0:
            raise ValueError("max_instances and max_component_depth must be positive")
        if not 0 < self.max_coordinate_mm <= 1e12:
            raise ValueError("max_coordinate_mm must be positive and at most 1e12")

    @property
    def max_vertices(self) -> int:
        """A mesh needs at most three vertices per triangle; more are never useful."""
        return 3 * self.max_triangles


@dataclass(frozen=True)
class LoadedModel:
    """A validated, watertight mesh in millimetres plus what intake had to say about it."""

    name: str
    mesh: TriangleMesh
    unit: str
    unit_declared: bool
    repaired: bool
    warnings: tuple[str, ...] = field(default=())
    volume_mm3: float | None = None
    """The enclosed volume found while validating (None when not computed)."""
    stl: bytes | None = field(default=None, repr=False)
    """The uploaded bytes when they are a binary STL of exactly `mesh` (in mm, nothing
    repaired, flipped or dropped), so they can be kept as they are instead of written anew."""


def load_model(
    path: str | Path, *, limits: IntakeLimits | None = None, units: str | None = None
) -> LoadedModel:
    """Read and validate the model at `path` (format from the extension)."""
    limits = limits or IntakeLimits()
    p = Path(path)
    if not p.is_file():
        raise ValidationError("no such file", where=str(p))
    size = p.stat().st_size
    if size > limits.max_file_bytes:
        raise ValidationError(
            _over_limit(size, limits.max_file_bytes),
            where=p.name,
        )
    return load_model_bytes(p.read_bytes(), p.name, limits=limits, units=units)


def _over_limit(size: int, limit: int) -> str:
    return (
        f"file is {size} bytes ({size / 2**20:.1f} MiB), over the {limit}-byte "
        f"({limit / 2**20:.1f} MiB) upload limit"
    )


def load_model_bytes(
    data: bytes, filename: str, *, limits: IntakeLimits | None = None, units: str | None = None
) -> LoadedModel:
    """Read and validate an uploaded model held in memory (API uploads)."""
    limits = limits or IntakeLimits()
    where = filename
    if len(data) > limits.max_file_bytes:
        raise ValidationError(
            _over_limit(len(data), limits.max_file_bytes),
            where=where,
        )
    if not data:
        raise ValidationError("file is empty", where=where)
    fmt = Path(filename).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValidationError(f"unsupported format {fmt!r}; use one of {FORMATS}", where=where)
    if units is not None and units.lower() not in UNIT_MM:
        raise ValidationError(f"unknown unit {units!r}; use one of {sorted(UNIT_MM)}", where=where)
    declared: str | None = units.lower() if units else None
    if fmt == "3mf":
        vertices, faces, file_unit = read_3mf(data, limits, where)
        _check_coordinates(vertices, RAW_COORDINATE_LIMIT, where)
        if file_unit not in UNIT_MM:
            raise ValidationError(f"3MF declares unknown unit {file_unit!r}", where=where)
        declared = declared or file_unit
    elif fmt == "stl":
        vertices, faces = _read_stl(data, limits, where)
    else:
        vertices, faces = _read_obj(data, limits, where)
    if len(faces) > limits.max_triangles:
        raise ValidationError(
            f"{len(faces)} triangles, over the {limits.max_triangles} limit", where=where
        )
    if len(faces) == 0:
        raise ValidationError("mesh is empty (no triangles)", where=where)
    # equal corners merged first: units and limits are then checked on each vertex once
    # (an STL repeats every corner about six times)
    vertices, remap = merge_exact(vertices)
    faces = remap[faces]
    warnings: list[str] = []
    vertices, unit = _apply_units(vertices, declared, warnings)
    _check_coordinates(vertices, limits.max_coordinate_mm, where, "mm")
    mesh, repaired, volume, untouched = _validated_mesh(
        vertices, faces, where, warnings, limits.max_hole_share
    )
    # a binary STL in mm that intake left as it was is kept as uploaded (no second encoding)
    binary_stl = fmt == "stl" and _binary_stl_count(data) is not None
    keep = untouched and binary_stl and UNIT_MM[unit] == 1.0
    return LoadedModel(
        name=Path(filename).stem,
        mesh=mesh,
        unit=unit,
        unit_declared=declared is not None,
        repaired=repaired,
        warnings=tuple(warnings),
        volume_mm3=volume,
        stl=data if keep else None,
    )


# --- readers ---------------------------------------------------------------------------------

_STL_DTYPE = STL_RECORD


def _binary_stl_count(data: bytes) -> int | None:
    """The triangle count of a binary STL (its size matches the count it declares), else
    None (ASCII STL or not an STL)."""
    if len(data) < 84:
        return None
    count = int.from_bytes(data[80:84], "little")
    return count if 84 + 50 * count == len(data) else None


def _read_stl(data: bytes, limits: IntakeLimits, where: str) -> tuple[np.ndarray, np.ndarray]:
    count = _binary_stl_count(data)
    if count is not None:
        if count == 0:
            raise ValidationError("STL holds no triangles", where=where)
        if count > limits.max_triangles:
            raise ValidationError(
                f"{count} triangles, over the {limits.max_triangles} limit", where=where
            )
        tris = np.frombuffer(data, dtype=_STL_DTYPE, count=count, offset=84)
        return _soup_to_indexed(tris["vertices"], where)
    head = data[:512].lstrip().lower()
    if not head.startswith(b"solid"):
        raise ValidationError(
            "not an STL file (neither binary with a consistent triangle count nor ASCII 'solid')",
            where=where,
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"ASCII STL has non-ASCII bytes at {exc.start}", where=where) from exc
    coords: list[float] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if parts and parts[0] == "vertex":
            if len(parts) != 4:
                raise ValidationError(f"malformed vertex line {lineno}", where=where)
            try:
                coords.extend(float(v) for v in parts[1:])
            except ValueError as exc:
                raise ValidationError(f"bad number on line {lineno}", where=where) from exc
    if not coords:
        raise ValidationError("STL holds no triangles", where=where)
    if len(coords) % 9:
        raise ValidationError("ASCII STL has a facet without exactly 3 vertices", where=where)
    return _soup_to_indexed(np.asarray(coords, dtype=np.float64).reshape(-1, 3, 3), where)


def _soup_to_indexed(tris: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Triangle soup (n, 3, 3) → vertices + faces; equal corners are merged later."""
    _check_coordinates(tris, RAW_COORDINATE_LIMIT, where)
    return tris.reshape(-1, 3), np.arange(tris.shape[0] * 3, dtype=np.int64).reshape(-1, 3)


MIN_VOLUME_SHARE = 1e-9
"""Smallest enclosed volume, as a share of the cube of the largest extent (a 10 mm part must
enclose more than 1e-6 mm³; a 0.01 mm sheet across a 100 mm plate still does)."""

RAW_COORDINATE_LIMIT = 1e12
"""Largest absolute coordinate a file may hold in its own unit (checked again in mm once the
unit is known); keeps every later product of coordinates finite."""


def _check_coordinates(
    values: np.ndarray, limit: float, where: str, unit: str = "model units"
) -> None:
    if not values.size:
        return
    # two reductions without temporaries (NaN propagates through min/max; ±inf is caught by
    # the comparisons): a 1M-triangle STL's 9M coordinates are checked in a few ms
    low, high = float(values.min()), float(values.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValidationError("mesh has NaN or infinite coordinates", where=where)
    if max(-low, high) > limit:
        raise ValidationError(
            f"mesh has a coordinate beyond ±{limit:g} {unit} (largest "
            f"{float(np.abs(values).max()):g})",
            where=where,
        )


def _mix64(v: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (wrapping uint64 arithmetic, in place)."""
    v ^= v >> np.uint64(33)
    v *= np.uint64(0xFF51AFD7ED558CCD)
    v ^= v >> np.uint64(33)
    v *= np.uint64(0xC4CEB9FE1A85EC53)
    v ^= v >> np.uint64(33)
    return v


def merge_exact(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of `points` and the index of each row's unique copy.

    Rows are hashed to one 64-bit key and the keys sorted (much faster than sorting rows).
    The row index is packed into the low bits of its key, so a plain sort (vectorised, about
    7x faster than an argsort) also gives the order. A hash collision is detected by
    comparing every row with its representative, and then the full 64-bit keys are
    argsorted, and failing that the exact row sort is used."""
    pts = np.ascontiguousarray(points)
    n = len(pts)
    if pts.dtype == np.float32:  # binary STL: hash the raw 32-bit patterns, no conversion
        xy = np.ndarray((n,), dtype="<u8", buffer=pts, offset=0, strides=(12,))
        z = np.ndarray((n,), dtype="<u4", buffer=pts, offset=8, strides=(12,))
        key = _mix64(_mix64(xy.copy()) + z)
    else:
        pts = pts.astype(np.float64, copy=False)
        bits = pts.view(np.uint64).reshape(-1, 3)
        key = _mix64(_mix64(_mix64(bits[:, 0].copy()) + bits[:, 1]) + bits[:, 2])
    index_bits = max(1, (n - 1).bit_length())
    if index_bits <= 40:  # at least 24 bits of hash stay beside the index
        shift = np.uint64(index_bits)
        packed = (key >> shift) << shift
        packed |= np.arange(n, dtype=np.uint64)
        packed.sort()
        order = (packed & np.uint64((1 << index_bits) - 1)).astype(np.int64)
        merged = _merge_sorted(pts, order, packed >> shift)
        if merged is not None:
            return merged
    order = np.argsort(key)
    merged = _merge_sorted(pts, order, key[order])
    if merged is not None:
        return merged
    unique, inverse = np.unique(pts, axis=0, return_inverse=True)
    return unique.astype(np.float64), inverse.ravel().astype(np.int64, copy=False)


def _merge_sorted(
    pts: np.ndarray, order: np.ndarray, ranked: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows grouped by equal sorted keys; None when a group holds rows that differ."""
    starts = np.empty(len(ranked), dtype=bool)
    starts[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=starts[1:])
    inverse = np.empty(len(ranked), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    unique = np.take(pts, order[starts], axis=0)
    if not np.array_equal(np.take(unique, inverse, axis=0), pts):
        return None
    return unique.astype(np.float64), inverse


def _read_obj(data: bytes, limits: IntakeLimits, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("OBJ is not UTF-8 text", where=where) from exc
    verts: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split("#", 1)[0].split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                verts.append((float(parts[1]), float(parts[2]), float(parts[3])))
            elif parts[0] == "f":
                idx = [int(tok.split("/")[0]) for tok in parts[1:]]
                if len(idx) < 3:
                    raise ValidationError(f"face with < 3 vertices, line {lineno}", where=where)
                # positive: 1-based (may refer forward); negative: relative to the last vertex
                idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                if min(idx) < 0 or max(idx) > limits.max_vertices:
                    raise ValidationError(
                        f"OBJ face on line {lineno} refers to a vertex that does not exist",
                        where=where,
                    )
                faces.extend((idx[0], idx[k], idx[k + 1]) for k in range(1, len(idx) - 1))
                if len(faces) > limits.max_triangles:
                    raise ValidationError(
                        f"OBJ has more than {limits.max_triangles} triangles", where=where
                    )
        except (ValueError, IndexError) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise ValidationError(
                f"malformed OBJ line {lineno}: {raw[:60]!r}", where=where
            ) from exc
    if not faces:
        raise ValidationError("OBJ holds no faces (not a mesh)", where=where)
    v = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64)
    if f.min() < 0 or f.max() >= len(v):
        raise ValidationError("OBJ face refers to a vertex that does not exist", where=where)
    _check_coordinates(v, RAW_COORDINATE_LIMIT, where)
    return v, f


# --- units and mesh validation ---------------------------------------------------------------


def _apply_units(
    vertices: np.ndarray, declared: str | None, warnings: list[str]
) -> tuple[np.ndarray, str]:
    if declared is not None:
        scale = UNIT_MM[declared]
        return (vertices * scale if scale != 1.0 else vertices), declared
    extent = float(np.ptp(vertices, axis=0).max()) if len(vertices) else 0.0
    if 0 < extent < 1.0 and 1.0 <= extent * 1000.0 <= 2000.0:
        warnings.append(
            f"units not declared; largest extent {extent:g} is implausible in millimetres, "
            "so metres were assumed"
        )
        return vertices * 1000.0, "meter"
    warnings.append("units not declared; millimetres assumed (pass units to override)")
    return vertices, "millimeter"


def _validated_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    where: str,
    warnings: list[str],
    max_hole_share: float,
) -> tuple[TriangleMesh, bool, float, bool]:
    """A watertight, consistently wound mesh from merged `vertices` and `faces`: (mesh,
    repaired, enclosed volume, untouched), untouched when nothing was dropped, closed or
    flipped, so the mesh is exactly the file's triangles."""
    mesh = TriangleMesh(vertices, faces)
    areas = mesh.area_faces
    extent = float(mesh.extents.max()) if len(mesh.vertices) else 0.0
    keep = areas > (extent * 1e-9) ** 2
    dropped = int((~keep).sum())
    if not keep.any():
        raise ValidationError("mesh is degenerate (every triangle has zero area)", where=where)
    if dropped:
        mesh = mesh.with_faces(keep)
        warnings.append(f"removed {dropped} zero-area triangles")
    repaired = bool(dropped)
    untouched = not dropped
    closed, consistent = edge_check(mesh.faces)
    if not closed:
        unique = mesh.unique_faces()
        if int((~unique).sum()):
            warnings.append(f"removed {int((~unique).sum())} duplicate triangles")
            mesh = mesh.with_faces(unique)
            untouched = False
            closed, consistent = edge_check(mesh.faces)
    if not closed:
        repaired = True
        untouched = False
        filled = _fill_holes(mesh)
        patch = 0.0 if filled is None else filled.area - mesh.area
        if filled is None or not filled.is_watertight or patch > max_hole_share * mesh.area:
            raise ValidationError(
                f"mesh is not watertight ({_open_edges(mesh)} open or non-manifold edges) and "
                "could not be repaired; close the holes in a CAD tool",
                where=where,
            )
        mesh = filled
        closed, consistent = edge_check(mesh.faces)
        warnings.append("mesh had holes; they were closed automatically")
    if not consistent:
        raise ValidationError(
            "triangles are not consistently oriented (some face inwards); fix the normals in a "
            "CAD tool",
            where=where,
        )
    volume = mesh.volume
    if volume < 0:
        mesh = mesh.inverted()
        volume = -volume
        untouched = False
        warnings.append("mesh was inside-out; normals were flipped")
    extent = float(mesh.extents.max())
    # relative to its size: a closed surface folded onto itself encloses ~1e-15 of rounding
    if not volume > MIN_VOLUME_SHARE * extent**3:
        raise ValidationError("mesh encloses no volume (degenerate or flat)", where=where)
    return mesh, repaired, volume, untouched


def edge_check(faces: np.ndarray) -> tuple[bool, bool]:
    """(watertight, consistently wound): every edge is shared by exactly two triangles, and
    those two run along it in opposite directions. One sort of the edge keys."""
    a = faces.ravel()
    b = faces[:, [1, 2, 0]].ravel()
    forward = a < b
    # key = undirected edge, low bit = direction; sorted, each edge must appear as exactly
    # one pair, and a consistent pair holds one edge in each direction
    key = (np.minimum(a, b) * (int(faces.max()) + 1) + np.maximum(a, b)) * 2 + forward
    ranked = np.sort(key)
    if len(ranked) % 2:
        return False, False
    first, second = ranked[0::2] >> 1, ranked[1::2] >> 1
    closed = bool(np.array_equal(first, second)) and bool(np.all(second[:-1] != first[1:]))
    if not closed:
        return False, False
    return True, bool(np.all(ranked[1::2] - ranked[0::2] == 1))


def _fill_holes(mesh: TriangleMesh, max_loop: int = 256) -> TriangleMesh | None:
    """Close each simple boundary loop with a fan from its centroid; None when the open
    edges do not form simple loops (non-manifold) or a loop is too long to be a small hole."""
    faces = mesh.faces
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.ravel()] == 1]
    if np.any(counts > 2) or len(boundary) == 0:
        return None
    nxt: dict[int, int] = {}
    for a, b in boundary.tolist():
        if a in nxt:
            return None
        nxt[a] = b
    vertices = [np.asarray(mesh.vertices)]
    new_faces = [faces]
    next_index = len(mesh.vertices)
    while nxt:
        start, loop = next(iter(nxt)), []
        node = start
        while True:
            loop.append(node)
            if node not in nxt or len(loop) > max_loop:
                return None
            node = nxt.pop(node)
            if node == start:
                break
        centre = np.asarray(mesh.vertices)[loop].mean(axis=0)
        vertices.append(centre[None, :])
        ring = np.asarray(loop)
        # each boundary edge a→b belongs to a face; the patch runs b→a to match its winding
        new_faces.append(np.c_[np.roll(ring, -1), ring, np.full(len(ring), next_index)])
        next_index += 1
    return TriangleMesh(np.vstack(vertices), np.vstack(new_faces))


def _open_edges(mesh: TriangleMesh) -> int:
    _, counts = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
    return int((counts != 2).sum())
