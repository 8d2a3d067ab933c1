"""A triangle mesh as two NumPy arrays, with the per-triangle quantities quoting needs.

Quoting used trimesh's `Trimesh` as its container, but reads, validates and measures every
model with its own code; importing trimesh (and the parts of SciPy it pulls in) cost more
start-up time than a small part's whole quote. This class holds vertices (float64, mm) and
faces (int64) and computes, once each, the face cross products, areas, unit normals and
centres with the same formulas trimesh uses. trimesh is still used where it builds shapes
(the configurator's primitives) and by tests as an independent check.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

#: One binary STL record: normal, three corners, attribute byte count (little-endian).
STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")])


class TriangleMesh:
    """Vertices (n, 3) float64 and faces (m, 3) int64 indices into them. Derived arrays are
    computed on first use and kept; the mesh is not changed in place (methods that change
    it return a new mesh)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        v = np.ascontiguousarray(vertices, dtype=np.float64)
        f = np.ascontiguousarray(faces, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
            raise ValueError("vertices and faces must be (n, 3) arrays")
        if f.size and (int(f.min()) < 0 or int(f.max()) >= len(v)):
            raise ValueError("a face refers to a vertex that does not exist")
        v.flags.writeable = False
        f.flags.writeable = False
        self.vertices = v
        self.faces = f

    def __len__(self) -> int:
        return len(self.faces)

    # -- per-triangle quantities ----------------------------------------------------------

    @cached_property
    def _corners(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # np.take gathers rows several times faster than fancy indexing
        v, f = self.vertices, self.faces
        return np.take(v, f[:, 0], axis=0), np.take(v, f[:, 1], axis=0), np.take(v, f[:, 2], axis=0)

    @cached_property
    def triangles_cross(self) -> np.ndarray:
        """(v1 − v0) × (v2 − v0) per face: twice the area along the outward normal."""
        v0, v1, v2 = self._corners
        a = v1 - v0
        b = v2 - v0
        out: np.ndarray = np.empty_like(a)
        # component by component: np.cross makes several temporaries of the whole array
        out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
        out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
        out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
        return out

    @cached_property
    def _cross_norm(self) -> np.ndarray:
        c = self.triangles_cross
        return np.asarray(np.sqrt(np.einsum("ij,ij->i", c, c)))

    @cached_property
    def area_faces(self) -> np.ndarray:
        return np.asarray(self._cross_norm / 2.0)

    @cached_property
    def face_normals(self) -> np.ndarray:
        """Unit normals (zero for a zero-area face, which intake never keeps)."""
        norm = self._cross_norm
        safe = np.where(norm > 0, norm, 1.0)
        return self.triangles_cross / safe[:, None]

    @cached_property
    def triangles_center(self) -> np.ndarray:
        v0, v1, v2 = self._corners
        return np.asarray((v0 + v1 + v2) / 3.0)

    @cached_property
    def area(self) -> float:
        return float(self.area_faces.sum())

    @cached_property
    def bounds(self) -> np.ndarray:
        """[[xmin, ymin, zmin], [xmax, ymax, zmax]] of the vertices."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    @property
    def extents(self) -> np.ndarray:
        return np.asarray(self.bounds[1] - self.bounds[0])

    @cached_property
    def volume(self) -> float:
        """Signed enclosed volume (divergence theorem); negative when inside out."""
        v0 = self._corners[0]
        return float(np.einsum("ij,ij->", v0, self.triangles_cross)) / 6.0

    @cached_property
    def edges_sorted(self) -> np.ndarray:
        """Each face's three edges, each as (low, high) vertex index."""
        f = self.faces
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        return np.sort(edges, axis=1)

    @property
    def is_watertight(self) -> bool:
        """Every edge shared by exactly two faces."""
        if not len(self.faces):
            return False
        _, counts = np.unique(self.edges_sorted, axis=0, return_counts=True)
        return bool(np.all(counts == 2))

    # -- new meshes from this one -----------------------------------------------------------

    def with_faces(self, keep: np.ndarray) -> TriangleMesh:
        """The faces where `keep` is true, without the vertices no face uses any more."""
        faces = self.faces[keep]
        used = np.zeros(len(self.vertices), dtype=bool)
        used[faces.ravel()] = True
        remap = np.cumsum(used) - 1
        return TriangleMesh(self.vertices[used], remap[faces])

    def unique_faces(self) -> np.ndarray:
        """Mask of each face's first occurrence (faces on the same three vertices repeat)."""
        _, first = np.unique(np.sort(self.faces, axis=1), axis=0, return_index=True)
        mask = np.zeros(len(self.faces), dtype=bool)
        mask[first] = True
        return mask

    def inverted(self) -> TriangleMesh:
        """Every face wound the other way (normals point the other side)."""
        return TriangleMesh(self.vertices, self.faces[:, ::-1])

    def rotated(self, rotation: np.ndarray) -> TriangleMesh:
        """The mesh turned by a 3 × 3 rotation matrix about the origin."""
        rot = np.asarray(rotation, dtype=np.float64)
        if rot.shape != (3, 3):
            raise ValueError("rotation must be a 3 x 3 matrix")
        faces = self.faces if np.linalg.det(rot) > 0 else self.faces[:, ::-1]
        return TriangleMesh(self.vertices @ rot.T, faces)

    def to_stl(self) -> bytes:
        """Binary STL (corners and normals as float32)."""
        records = np.zeros(len(self.faces), dtype=STL_RECORD)
        records["normal"] = self.face_normals
        records["vertices"] = self.vertices[self.faces]
        header = b"binary STL written by microfactory".ljust(80, b" ")
        count = np.array([len(self.faces)], dtype="<u4").tobytes()
        return header + count + records.tobytes()
