"""Model intake: formats, units, repair, and every refusal with its reason."""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import trimesh

from microfactory.core.errors import ValidationError
from microfactory.quoting.intake import IntakeLimits, load_model, load_model_bytes

from .conftest import (
    MODEL_XML,
    ascii_stl,
    binary_stl,
    cube_3mf,
    mesh_object_xml,
    obj_text,
    three_mf,
)

Writer = Callable[[str, bytes], Path]
CUBE = trimesh.creation.box((20, 20, 20))


def test_binary_stl_cube_has_the_cube_volume(write: Writer) -> None:
    model = load_model(write("cube.stl", binary_stl(CUBE)), units="mm")
    assert model.mesh.volume == pytest.approx(20**3)
    assert model.mesh.area == pytest.approx(6 * 20**2)
    assert model.warnings == ()


def test_ascii_stl_reads_like_binary(write: Writer) -> None:
    model = load_model(write("cube.stl", ascii_stl(CUBE)), units="mm")
    assert model.mesh.volume == pytest.approx(8000.0)
    assert model.mesh.is_watertight


def test_obj_with_quads_is_triangulated(write: Writer) -> None:
    text = b"v 0 0 0\nv 10 0 0\nv 10 10 0\nv 0 10 0\nv 0 0 10\nv 10 0 10\nv 10 10 10\nv 0 10 10\n"
    text += b"f 1 4 3 2\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n"
    model = load_model(write("box.obj", text), units="mm")
    assert len(model.mesh.faces) == 12
    assert model.mesh.volume == pytest.approx(1000.0)


def test_obj_roundtrip_of_a_sphere_keeps_its_volume(write: Writer) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10)
    model = load_model(write("s.obj", obj_text(sphere)), units="mm")
    assert model.mesh.volume == pytest.approx(sphere.volume, rel=1e-6)


def test_3mf_declared_inch_unit_is_converted_to_mm(write: Writer) -> None:
    model = load_model(write("cube.3mf", cube_3mf(1.0, unit="inch")))
    assert model.unit == "inch" and model.unit_declared
    assert model.mesh.volume == pytest.approx(25.4**3)
    assert not any("units" in w for w in model.warnings)


def test_3mf_build_item_transform_is_applied(write: Writer) -> None:
    # scale x by 2 and move by 100 mm: volume doubles, bounds move
    model = load_model(write("t.3mf", cube_3mf(10.0, transform="2 0 0 0 1 0 0 0 1 100 0 0")))
    assert model.mesh.volume == pytest.approx(2000.0)
    assert model.mesh.bounds[0][0] == pytest.approx(90.0)


def test_3mf_components_are_assembled(write: Writer) -> None:
    cube = trimesh.creation.box((10, 10, 10))
    objects = mesh_object_xml(cube, 1) + (
        '<object id="2" type="model"><components>'
        '<component objectid="1"/><component objectid="1" transform="1 0 0 0 1 0 0 0 1 30 0 0"/>'
        "</components></object>"
    )
    xml = MODEL_XML.format(unit="millimeter", objects=objects, items='<item objectid="2"/>')
    model = load_model(write("two.3mf", three_mf(xml)))
    assert model.mesh.volume == pytest.approx(2000.0)


def test_undeclared_units_are_assumed_mm_with_a_warning(write: Writer) -> None:
    model = load_model(write("cube.stl", binary_stl(CUBE)))
    assert model.unit == "millimeter" and not model.unit_declared
    assert any("millimetres assumed" in w for w in model.warnings)


def test_metre_sized_model_is_inferred_as_metres(write: Writer) -> None:
    small = trimesh.creation.box((0.05, 0.05, 0.05))
    model = load_model(write("m.stl", binary_stl(small)))
    assert model.unit == "meter"
    assert model.mesh.volume == pytest.approx(50.0**3, rel=1e-5)
    assert any("metres were assumed" in w for w in model.warnings)


def test_missing_triangle_is_repaired_with_a_warning(write: Writer) -> None:
    holed = CUBE.copy()
    holed.update_faces(np.arange(len(holed.faces)) != 0)
    model = load_model(write("holed.stl", binary_stl(holed)), units="mm")
    assert model.repaired and model.mesh.is_watertight
    assert model.mesh.volume == pytest.approx(8000.0)
    assert any("holes" in w for w in model.warnings)


def test_inside_out_mesh_is_flipped(write: Writer) -> None:
    inverted = CUBE.copy()
    inverted.invert()
    model = load_model(write("inv.stl", binary_stl(inverted)), units="mm")
    assert model.mesh.volume == pytest.approx(8000.0)
    assert any("inside-out" in w for w in model.warnings)


def _open_sphere() -> bytes:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10)
    keep = sphere.triangles_center[:, 2] < 5.0  # cut the cap off: a big open hole
    sphere.update_faces(keep)
    return binary_stl(sphere)


def _edge_sharing_cubes() -> bytes:
    a = trimesh.creation.box((10, 10, 10))
    b = trimesh.creation.box((10, 10, 10))
    b.apply_translation((10, 10, 0))  # touches the first cube along one edge only
    return binary_stl(trimesh.util.concatenate([a, b]))


def _nan_stl() -> bytes:
    data = bytearray(binary_stl(CUBE))
    data[84 + 12 : 84 + 16] = bytes.fromhex("0000c07f")  # first vertex x = NaN
    return bytes(data)


def _zip_bomb(declared_bytes: int) -> bytes:
    """A 3MF whose one extra entry is `declared_bytes` of zeros (deflates ~1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("3D/3dmodel.model", MODEL_XML.format(unit="millimeter", objects="", items=""))
        with z.open("Metadata/padding.bin", "w") as entry:
            chunk = bytes(1 << 20)
            for _ in range(declared_bytes >> 20):
                entry.write(chunk)
    return out.getvalue()


BAD_FILES = [
    # (file name, content, limits, words the reason must contain)
    ("empty.stl", b"", None, "empty"),  # nothing at all
    ("noise.stl", bytes(range(256)) * 7, None, "not an STL"),  # random binary, count mismatch
    ("truncated.stl", binary_stl(CUBE)[:-20], None, "not an STL"),  # cut mid-facet
    ("words.stl", b"solid x\n  facet normal 0 0 1\n vertex 1 2\n", None, "malformed vertex"),
    ("nofacets.stl", b"solid nothing\nendsolid nothing\n", None, "no triangles"),
    ("points.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", None, "no faces"),  # a point cloud
    ("badref.obj", b"v 0 0 0\nf 1 2 3\n", None, "does not exist"),  # face to missing vertex
    ("photo.png", b"\x89PNG\r\n", None, "unsupported format"),  # not a mesh format
    ("notzip.3mf", b"PK but not really a zip", None, "not a zip"),  # corrupt archive
    (
        "empty.3mf",
        three_mf(MODEL_XML.format(unit="millimeter", objects="", items="")),
        None,
        "no mesh",
    ),  # a valid archive with an empty build
    (
        "badxml.3mf",
        three_mf("<model><resources>"),
        None,
        "does not parse",
    ),  # truncated XML
    (
        "laughs.3mf",
        three_mf(
            '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
            + "".join(
                f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
            )
            + "]><m>&i;</m>"
        ),
        None,
        "does not parse",
    ),  # billion laughs: entity expansion is refused by the XML parser
    (
        "flat.stl",
        binary_stl(trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]], process=False)),
        None,
        "degenerate",
    ),  # zero-area triangle only
    ("open.stl", _open_sphere(), None, "not watertight"),  # a hole too big to close
    ("kissing.stl", _edge_sharing_cubes(), None, "not watertight"),  # 4 faces on one edge
    ("nan.stl", _nan_stl(), None, "NaN"),  # a coordinate that is not a number
    (
        "big.stl",
        binary_stl(CUBE),
        IntakeLimits(max_file_bytes=300),
        "upload limit",
    ),  # over the configured size limit
    (
        "bomb.3mf",
        _zip_bomb(40 << 20),
        IntakeLimits(max_uncompressed_bytes=16 << 20),
        "zip bomb",
    ),  # expands past the uncompressed limit
    (
        "ratio.3mf",
        _zip_bomb(4 << 20),
        IntakeLimits(max_compression_ratio=50),
        "compression ratio",
    ),  # small but compressed far beyond any mesh
]


@pytest.mark.parametrize(
    ("name", "data", "limits", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_file_is_refused_with_a_reason(
    name: str, data: bytes, limits: IntakeLimits | None, reason: str
) -> None:
    with pytest.raises(ValidationError) as info:
        load_model_bytes(data, name, limits=limits, units="mm")
    assert reason in str(info.value)
    assert info.value.where == name


def test_oversized_file_on_disk_is_refused_before_reading(write: Writer) -> None:
    path = write("big.stl", binary_stl(trimesh.creation.icosphere(subdivisions=3)))
    with pytest.raises(ValidationError, match="upload limit"):
        load_model(path, limits=IntakeLimits(max_file_bytes=1000))


def test_too_many_triangles_is_refused() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3)
    with pytest.raises(ValidationError, match="triangles, over"):
        load_model_bytes(binary_stl(sphere), "s.stl", limits=IntakeLimits(max_triangles=100))


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown unit"):
        load_model_bytes(binary_stl(CUBE), "c.stl", units="furlong")


def test_bomb_check_runs_on_headers_only() -> None:
    # the refusal must come from the central directory: the entry is never inflated
    data = _zip_bomb(64 << 20)
    assert len(data) < (1 << 20)
    with pytest.raises(ValidationError, match="expands to"):
        load_model_bytes(data, "b.3mf", limits=IntakeLimits(max_uncompressed_bytes=8 << 20))


def test_sphere_volume_close_to_analytic(write: Writer) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=10)
    model = load_model(write("s.stl", binary_stl(sphere)), units="mm")
    assert model.mesh.volume == pytest.approx(4 / 3 * math.pi * 1000, rel=0.01)


def test_3mf_whose_headers_lie_about_size_is_refused_without_inflating_it() -> None:
    # the model part inflates to 32 MiB but the zip directory claims 1000 bytes: the size
    # checks pass, the bounded read stops at the claimed size and the CRC gives it away
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("3D/3dmodel.model", b"<model>" + b" " * (32 << 20) + b"</model>")
    data = bytearray(out.getvalue())
    real = (32 << 20) + len(b"<model></model>")
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        assert int.from_bytes(data[at + offset : at + offset + 4], "little") == real
        data[at + offset : at + offset + 4] = (1000).to_bytes(4, "little")
    with pytest.raises(ValidationError, match="corrupt 3MF"):
        load_model_bytes(
            bytes(data), "liar.3mf", limits=IntakeLimits(max_uncompressed_bytes=1 << 20)
        )


def test_default_upload_limit_takes_a_million_triangle_binary_stl(tmp_path: Path) -> None:
    from microfactory.settings import Settings

    limit = Settings().max_upload_bytes
    # 1,000,000 triangles of zeros: 50,000,084 bytes, past the size check (then refused as
    # degenerate, which only the triangle check can say)
    path = tmp_path / "million.stl"
    with path.open("wb") as out:
        out.write(b"\0" * 80 + (1_000_000).to_bytes(4, "little"))
        out.truncate(84 + 50 * 1_000_000)
    with pytest.raises(ValidationError, match="degenerate"):
        load_model(path, limits=IntakeLimits(max_file_bytes=limit))


def test_file_over_the_default_upload_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    from microfactory.settings import Settings

    limit = Settings().max_upload_bytes
    path = tmp_path / "huge.stl"
    with path.open("wb") as out:
        out.truncate(limit + 1)  # sparse: nothing is written, and nothing is read
    with pytest.raises(ValidationError, match=f"over the {limit}-byte \\(64.0 MiB\\) upload"):
        load_model(path, limits=IntakeLimits(max_file_bytes=limit))
