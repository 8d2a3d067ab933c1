"""3MF reading for model intake: the zip container (checked before anything is inflated,
every zip error a ValidationError), the model XML parsed as a stream into compact arrays,
and the component tree sized before it is expanded.

Streaming matters: a 5,000,000-triangle model is 250 MB of XML, which as an element tree
takes several GB; read element by element into typed arrays it takes ~200 MB. Sizing
matters more: a model of a few hundred bytes whose objects each hold ten copies of the
previous one asks for 10⁹ meshes, so triangles, vertices, mesh copies and depth are counted
over the component graph (cycles refused) and checked against the limits first."""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import numpy as np

from microfactory.core.errors import ValidationError

if TYPE_CHECKING:
    from microfactory.quoting.intake import IntakeLimits

NS_3MF = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
MAX_TRANSFORM_VALUE = 1e6
"""Largest absolute entry of a 3MF transform (scale or offset)."""
MAX_INDEX = 2**62
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    NotImplementedError,
    ValueError,
)
"""What the zip module raises on a broken archive: bad headers or CRC, a corrupted deflate
stream, a truncated member, an unsupported compression method."""


def read_3mf(data: bytes, limits: IntakeLimits, where: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(vertices, faces, unit) of the build of a 3MF file, in the file's unit."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise ValidationError(f"not a 3MF file (not a zip archive: {exc})", where=where) from exc
    with archive:
        check_zip_safe(archive, limits, where)
        name = _root_model_name(archive, limits, where)
        blob = bounded_read(archive, name, limits.max_uncompressed_bytes, where)
    model = _parse_model(blob, where)
    vertices, faces = _build(model, limits, where)
    return vertices, faces, model.unit


# --- the container -------------------------------------------------------------------------


def check_zip_safe(archive: zipfile.ZipFile, limits: IntakeLimits, where: str) -> None:
    """Refuse a zip whose declared contents are too big, too many or too compressed.
    Uses only the central directory: nothing is decompressed here."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_entries:
        raise ValidationError(
            f"archive has {len(infos)} entries, over the {limits.max_zip_entries} limit",
            where=where,
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise ValidationError(
            f"archive expands to {total} bytes, over the {limits.max_uncompressed_bytes}-byte "
            "limit (zip bomb?)",
            where=where,
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > limits.max_compression_ratio:
            raise ValidationError(
                f"archive entry {info.filename!r} has compression ratio {ratio:.0f}:1, over "
                f"{limits.max_compression_ratio:.0f}:1 (zip bomb?)",
                where=where,
            )


def bounded_read(archive: zipfile.ZipFile, name: str, budget: int, where: str) -> bytes:
    """At most `budget` bytes of entry `name`; every zip error is a ValidationError."""
    info = archive.getinfo(name)
    if info.flag_bits & 0x1:
        raise ValidationError(f"archive entry {name!r} is encrypted", where=where)
    try:
        with archive.open(info) as handle:
            blob = handle.read(budget + 1)
    except ZIP_ERRORS as exc:
        raise ValidationError(
            f"corrupt 3MF archive: entry {name!r} cannot be read ({exc})", where=where
        ) from exc
    if len(blob) > budget:
        raise ValidationError(
            f"archive entry {name!r} expands past the declared limit (zip bomb?)", where=where
        )
    return blob


def _root_model_name(archive: zipfile.ZipFile, limits: IntakeLimits, where: str) -> str:
    names = set(archive.namelist())
    if "_rels/.rels" in names:
        try:
            rels = ElementTree.fromstring(
                bounded_read(archive, "_rels/.rels", limits.max_uncompressed_bytes, where)
            )
        except ElementTree.ParseError as exc:
            raise ValidationError(f"3MF _rels/.rels does not parse: {exc}", where=where) from exc
        for rel in rels.iter():
            if rel.get("Type", "").endswith("/3dmodel"):
                target = rel.get("Target", "").lstrip("/")
                if target in names:
                    return target
    models = sorted(n for n in names if n.lower().endswith(".model"))
    if not models:
        raise ValidationError("3MF archive holds no 3D model part", where=where)
    return "3D/3dmodel.model" if "3D/3dmodel.model" in names else models[0]


# --- the model XML, as a stream ---------------------------------------------------------------


@dataclass
class _Object:
    """One `<object>`: its mesh as flat typed arrays, and its components."""

    has_mesh: bool = False
    vertices: array[float] = field(default_factory=lambda: array("d"))
    triangles: array[int] = field(default_factory=lambda: array("q"))
    components: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class _Model:
    unit: str = "millimeter"
    objects: dict[str, _Object] = field(default_factory=dict)
    items: list[tuple[str, str | None]] = field(default_factory=list)


def _parse_model(blob: bytes, where: str) -> _Model:
    """Read the model part element by element; each element is dropped once read."""
    model = _Model()
    parser: ElementTree.XMLPullParser[ElementTree.Element] = ElementTree.XMLPullParser(
        events=("start", "end")
    )
    stack: list[ElementTree.Element] = []
    current: _Object | None = None
    in_build = False
    try:
        for at in range(0, max(len(blob), 1), 1 << 20):
            parser.feed(blob[at : at + (1 << 20)])
            for item in parser.read_events():
                if not isinstance(item, tuple) or len(item) != 2:
                    continue
                event, elem = item
                if not isinstance(elem, ElementTree.Element):
                    continue
                tag = elem.tag[len(NS_3MF) :] if elem.tag.startswith(NS_3MF) else ""
                if event == "start":
                    stack.append(elem)
                    if tag == "model" and len(stack) == 1:
                        model.unit = elem.get("unit", "millimeter").lower()
                    elif tag == "object":
                        current = _new_object(model, elem.get("id", ""), where)
                    elif tag == "mesh" and current is not None:
                        current.has_mesh = True
                    elif tag == "build":
                        in_build = True
                    continue
                if current is not None and tag in ("vertex", "triangle", "component"):
                    _read_element(current, tag, elem, where)
                elif tag == "object":
                    current = None
                elif tag == "item" and in_build:
                    model.items.append((elem.get("objectid", ""), elem.get("transform")))
                elif tag == "build":
                    in_build = False
                stack.pop()
                if stack:  # the element is its parent's last child: drop it at once
                    stack[-1].remove(elem)
        parser.close()
    except ElementTree.ParseError as exc:
        raise ValidationError(f"3MF model XML does not parse: {exc}", where=where) from exc
    return model


def _new_object(model: _Model, oid: str, where: str) -> _Object:
    if oid in model.objects:
        raise ValidationError(f"3MF has two objects with id {oid!r}", where=where)
    obj = _Object()
    model.objects[oid] = obj
    return obj


def _read_element(obj: _Object, tag: str, elem: ElementTree.Element, where: str) -> None:
    try:
        if tag == "vertex":
            obj.vertices.extend((float(elem.get("x", "")), float(elem.get("y", "")),
                                 float(elem.get("z", ""))))  # fmt: skip
        elif tag == "triangle":
            corners = (int(elem.get("v1", "")), int(elem.get("v2", "")), int(elem.get("v3", "")))
            # checked as Python ints: 10**24 must be refused, not overflow int64
            if min(corners) < 0 or max(corners) >= MAX_INDEX:
                raise ValidationError(
                    "3MF triangle refers to a vertex that does not exist", where=where
                )
            obj.triangles.extend(corners)
        else:
            obj.components.append((elem.get("objectid", ""), elem.get("transform")))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(
            f"3MF mesh has a malformed vertex or triangle: {exc}", where=where
        ) from exc


# --- the component tree ----------------------------------------------------------------------


def transform(text: str | None, where: str) -> np.ndarray:
    """A 3MF transform (12 numbers, row-vector convention) as a 4×4 matrix."""
    if not text:
        return np.eye(4)
    try:
        vals = [float(v) for v in text.split()]
    except ValueError as exc:
        raise ValidationError(f"bad 3MF transform {text[:80]!r}", where=where) from exc
    if len(vals) != 12:
        raise ValidationError(f"3MF transform needs 12 numbers, got {len(vals)}", where=where)
    if not all(abs(v) <= MAX_TRANSFORM_VALUE for v in vals):  # also false for NaN
        raise ValidationError(
            f"3MF transform has a number that is not finite or beyond ±{MAX_TRANSFORM_VALUE:g}",
            where=where,
        )
    m = np.eye(4)
    m[:3, :3] = np.asarray(vals[:9]).reshape(3, 3).T  # 3MF: row vector × matrix
    m[:3, 3] = vals[9:12]
    return m


@dataclass(frozen=True)
class _Size:
    """What one object expands to: triangles, vertices and mesh copies, and how deep."""

    triangles: int
    vertices: int
    instances: int
    depth: int


class _Resources:
    """The parsed objects, each mesh as arrays (made once), and the size of what each object
    expands to: computed over the component graph (cycles refused) before anything is
    expanded, so the budget is checked on counts, not on allocated arrays."""

    def __init__(self, model: _Model, limits: IntakeLimits, where: str) -> None:
        self.model = model
        self.limits = limits
        self.where = where
        self.meshes: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        self.children: dict[str, list[tuple[str, np.ndarray]]] = {}
        self.sizes: dict[str, _Size] = {}

    def _object(self, oid: str) -> _Object:
        obj = self.model.objects.get(oid)
        if obj is None:
            raise ValidationError(f"3MF refers to missing object {oid!r}", where=self.where)
        return obj

    def mesh(self, oid: str) -> tuple[np.ndarray, np.ndarray] | None:
        if oid not in self.meshes:
            obj = self._object(oid)
            if not obj.has_mesh:
                self.meshes[oid] = None
            else:
                v = np.frombuffer(obj.vertices, dtype=np.float64).reshape(-1, 3)
                f = np.frombuffer(obj.triangles, dtype=np.int64).reshape(-1, 3)
                if len(f) and int(f.max()) >= len(v):
                    raise ValidationError(
                        "3MF triangle refers to a vertex that does not exist", where=self.where
                    )
                self.meshes[oid] = (v, f)
        return self.meshes[oid]

    def components(self, oid: str) -> list[tuple[str, np.ndarray]]:
        if oid not in self.children:
            self.children[oid] = [
                (child, transform(text, self.where)) for child, text in self._object(oid).components
            ]
        return self.children[oid]

    def size(self, oid: str, trail: tuple[str, ...] = ()) -> _Size:
        """Expanded size of `oid` (memoised; recursion depth bounded by the limit)."""
        if oid in self.sizes:
            return self.sizes[oid]
        if oid in trail:
            raise ValidationError(
                f"3MF components form a cycle through object {oid!r}", where=self.where
            )
        if len(trail) >= self.limits.max_component_depth:
            raise ValidationError(
                f"3MF components nest deeper than {self.limits.max_component_depth} levels",
                where=self.where,
            )
        mesh = self.mesh(oid)
        triangles = 0 if mesh is None else len(mesh[1])
        vertices = 0 if mesh is None else len(mesh[0])
        instances = 0 if mesh is None else 1
        depth = 0
        for child, _ in self.components(oid):
            sub = self.size(child, (*trail, oid))
            triangles += sub.triangles
            vertices += sub.vertices
            instances += sub.instances
            depth = max(depth, sub.depth + 1)
            self.check(triangles, vertices, instances)
        size = _Size(triangles, vertices, instances, depth)
        self.sizes[oid] = size
        return size

    def check(self, triangles: int, vertices: int, instances: int) -> None:
        """Refuse a build whose expansion would pass a limit (Python ints: no overflow)."""
        limits, where = self.limits, self.where
        if triangles > limits.max_triangles:
            raise ValidationError(
                f"3MF build expands to {triangles} triangles (through its components), over "
                f"the {limits.max_triangles} limit",
                where=where,
            )
        if vertices > limits.max_vertices:
            raise ValidationError(
                f"3MF build expands to {vertices} vertices, over the {limits.max_vertices} limit",
                where=where,
            )
        if instances > limits.max_instances:
            raise ValidationError(
                f"3MF build places {instances} mesh copies (through its components), over the "
                f"{limits.max_instances} limit",
                where=where,
            )


def _build(model: _Model, limits: IntakeLimits, where: str) -> tuple[np.ndarray, np.ndarray]:
    resources = _Resources(model, limits, where)
    placed: list[tuple[str, np.ndarray]] = []
    triangles = vertices = instances = 0
    for oid, text in model.items:
        size = resources.size(oid)
        triangles += size.triangles
        vertices += size.vertices
        instances += size.instances
        resources.check(triangles, vertices, instances)
        placed.append((oid, transform(text, where)))
    if triangles == 0:
        raise ValidationError("3MF holds no mesh in its build", where=where)
    # within budget: expand, each mesh array shared by all its copies
    verts: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    offset = 0

    def emit(oid: str, matrix: np.ndarray) -> None:
        nonlocal offset
        mesh = resources.mesh(oid)
        if mesh is not None and len(mesh[1]):
            v, f = mesh
            verts.append(v @ matrix[:3, :3].T + matrix[:3, 3])
            faces.append(f + offset)
            offset += len(v)
        for child, t in resources.components(oid):
            emit(child, matrix @ t)

    with np.errstate(all="ignore"):  # an overflow to inf is refused by intake's coordinate check
        for oid, matrix in placed:
            emit(oid, matrix)
    return np.vstack(verts), np.vstack(faces)
