"""Hostile model files: each is refused with a ValidationError that names the problem, in
bounded memory, never with a traceback (issue 22). The files are crafted here, byte by byte,
from valid ones."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import trimesh

from microfactory.bootstrap import DEMO_FACTORY
from microfactory.core.errors import ValidationError
from microfactory.quoting.intake import IntakeLimits, load_model_bytes

from .conftest import MODEL_XML, binary_stl, cube_3mf, mesh_object_xml, three_mf

TETRA = trimesh.creation.box((10, 10, 10))


def nested_bomb(fan_out: int, depth: int) -> bytes:
    """A 3MF whose object k holds `fan_out` copies of object k-1: fan_out**depth cubes."""
    objects = mesh_object_xml(TETRA, 1)
    for k in range(2, depth + 2):
        comps = f'<component objectid="{k - 1}"/>' * fan_out
        objects += f'<object id="{k}" type="model"><components>{comps}</components></object>'
    xml = MODEL_XML.format(unit="millimeter", objects=objects, items=f'<item objectid="{k}"/>')
    return three_mf(xml)


def components_xml(objects: str, item: int = 1) -> bytes:
    return three_mf(
        MODEL_XML.format(unit="millimeter", objects=objects, items=f'<item objectid="{item}"/>')
    )


def test_a_3mf_under_1_kb_that_expands_to_billions_is_refused_in_bounded_memory() -> None:
    data = nested_bomb(fan_out=10, depth=9)  # 10**9 cubes of 12 triangles
    assert len(data) < 1024
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError, match=r"through its components\), over the"):
            load_model_bytes(data, "bomb.3mf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # the refusal comes from counting, not from expanding


def test_component_copies_over_the_instance_limit_are_refused() -> None:
    data = nested_bomb(fan_out=4, depth=3)  # 64 cubes, far under the triangle limit
    with pytest.raises(ValidationError, match="64 mesh copies"):
        load_model_bytes(data, "many.3mf", limits=IntakeLimits(max_instances=50))


def test_a_modest_component_tree_still_loads() -> None:
    # 8 coincident copies of one cube: within every limit; duplicates merge into the cube
    model = load_model_bytes(nested_bomb(fan_out=2, depth=3), "ok.3mf")
    assert model.mesh.volume == pytest.approx(1000.0)


def cyclic(fan_out: int) -> bytes:
    comps = '<component objectid="1"/>' * fan_out
    cube = mesh_object_xml(TETRA, 1).replace("</mesh>", f"</mesh><components>{comps}</components>")
    return components_xml(cube)


HOSTILE_3MF = [
    # (file, words the reason must contain)
    (cyclic(1), "cycle"),  # an object containing itself
    (cyclic(50), "cycle"),  # ... fifty times: exponential before the depth limit was hit
    (
        components_xml(
            mesh_object_xml(TETRA, 1)
            + '<object id="2"><components><component objectid="3"/></components></object>'
            + '<object id="3"><components><component objectid="2"/></components></object>',
            item=2,
        ),
        "cycle",
    ),  # two objects holding each other
    (nested_bomb(fan_out=1, depth=20), "deeper than 16"),  # a chain 20 levels deep
    (
        components_xml(mesh_object_xml(TETRA, 1) + mesh_object_xml(TETRA, 1)),
        "two objects with id",
    ),  # duplicate ids: which one is meant?
    (
        components_xml(
            mesh_object_xml(TETRA, 1).replace('v1="', 'v1="1000000000000000000000000', 1)
        ),
        "does not exist",
    ),  # triangle index 10**24 (overflowed int64 before)
    (cube_3mf(10, transform="1 0 0 0 1 0 0 0 1 nan 0 0"), "transform"),  # NaN offset
    (cube_3mf(10, transform="1e300 0 0 0 1e300 0 0 0 1e300 0 0 0"), "transform"),  # huge scale
    (
        components_xml(re.sub(r'x="[^"]*"', 'x="1e200"', mesh_object_xml(TETRA, 1), count=1)),
        "coordinate beyond",
    ),  # a vertex far outside any machine (areas would overflow)
]


@pytest.mark.parametrize(("data", "reason"), HOSTILE_3MF)
def test_hostile_3mf_structure_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as info:
        load_model_bytes(data, "hostile.3mf")
    assert info.value.where == "hostile.3mf"


def _model_entry_data_offset(data: bytes, name: str) -> int:
    """Offset of the compressed bytes of `name` in the archive."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
    at = info.header_offset
    name_len = int.from_bytes(data[at + 26 : at + 28], "little")
    extra_len = int.from_bytes(data[at + 28 : at + 30], "little")
    return at + 30 + name_len + extra_len


def _flip(data: bytes, offset: int, value: bytes) -> bytes:
    out = bytearray(data)
    out[offset : offset + len(value)] = value
    return bytes(out)


def corrupt_deflate(entry: str = "3D/3dmodel.model") -> bytes:
    data = cube_3mf(10)
    at = _model_entry_data_offset(data, entry)
    return _flip(data, at, b"\xff\xff\xff\xff")  # an invalid block type: zlib.error


def set_method(data: bytes, method: int) -> bytes:
    """Write `method` into every local and central header (an unsupported compression)."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset : at + offset + 2] = method.to_bytes(2, "little")
            at = out.find(signature, at + 4)
    return bytes(out)


def set_flag(data: bytes, flag: int) -> bytes:
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset : at + offset + 2] = flag.to_bytes(2, "little")
            at = out.find(signature, at + 4)
    return bytes(out)


def broken_local_header() -> bytes:
    data = cube_3mf(10)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        at = z.getinfo("3D/3dmodel.model").header_offset
    return _flip(data, at, b"XX\x03\x04")


BROKEN_ZIPS = [
    (corrupt_deflate(), "corrupt 3MF"),  # corrupted deflate stream in the model part
    (corrupt_deflate("_rels/.rels"), "corrupt 3MF"),  # ... in the relationships part
    (broken_local_header(), "corrupt 3MF"),  # the local header's magic number is gone
    (set_method(cube_3mf(10), 99), "corrupt 3MF"),  # AES / unknown compression method
    (set_flag(cube_3mf(10), 1), "encrypted"),  # a password-protected part
    (cube_3mf(10)[:-30], "not a zip"),  # the end-of-archive record cut short
    (cube_3mf(10)[: len(cube_3mf(10)) // 2], "not a zip"),  # a half-uploaded file
]


@pytest.mark.parametrize(("data", "reason"), BROKEN_ZIPS)
def test_broken_3mf_archive_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        load_model_bytes(data, "broken.3mf")


def _stl_with_coordinate(value: float) -> bytes:
    import struct

    data = bytearray(binary_stl(TETRA))
    data[84 + 12 : 84 + 16] = struct.pack("<f", value)
    return bytes(data)


MALFORMED_MESHES = [
    ("huge.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 1000000000000000000000000\n", "not exist"),
    ("negative.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 -1000000000000000000000000\n", "not exist"),
    ("far.obj", b"v 0 0 1e300\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "coordinate beyond"),
    ("inf.obj", b"v 0 0 inf\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "infinite"),
    ("far.stl", _stl_with_coordinate(1e30), "coordinate beyond"),
    ("tooclose.stl", _stl_with_coordinate(2e6), r"beyond ±1e\+06 mm"),  # over 1 km
]


@pytest.mark.parametrize(("name", "data", "reason"), MALFORMED_MESHES)
def test_malformed_mesh_values_are_refused(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        load_model_bytes(data, name, units="mm")


def test_cli_refuses_a_corrupt_3mf_with_exit_code_2_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.3mf"
    path.write_bytes(corrupt_deflate())
    command = [sys.executable, "-m", "microfactory", "quote", str(path), "--json"]
    command += ["--material", "pla-black", "--factory", str(DEMO_FACTORY)]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "corrupt 3MF" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_closed_surface_folded_onto_itself_encloses_no_volume() -> None:
    # found by the intake fuzzer: after hole filling the surface is closed and consistently
    # wound, but encloses 5e-15 mm³ of rounding noise; it was accepted as a part
    data = (Path(__file__).resolve().parents[1] / "data/hostile/folded-surface.obj").read_bytes()
    with pytest.raises(ValidationError, match="encloses no volume"):
        load_model_bytes(data, "folded.obj")
