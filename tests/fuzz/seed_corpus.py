"""Write the seed corpora under tests/fuzz/corpus/<target>/: valid inputs of every shape the
target reads, and the interesting ones issue 22 was about. Run once from the repository root
(`python tests/fuzz/seed_corpus.py`); the files are committed, and longer fuzz runs
(benchmarks/fuzz/run.py) add what they find next to them."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import trimesh

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = HERE / "corpus"
HOSTILE = ROOT / "tests" / "data" / "hostile"
DEMO_FACTORY = ROOT / "src" / "microfactory" / "data" / "demo-factory.yaml"
NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


def put(target: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def mqtt() -> None:
    base = {"event_id": "e-1", "machine": "fdm-01", "seq": 7, "ts": "2026-11-01T10:00:00Z"}
    kinds = ["state", "counter", "sample", "job", "measurement"]
    bodies = [
        {"kind": "state", "state": "Executing", "mode": "processing"},
        {"kind": "counter", "good": 4, "reject": 1, "work_order": "WO-1"},
        {"kind": "sample", "samples": [{"signal": "temp", "value": 41.5, "unit": "C"}]},
        {"kind": "job", "action": "started", "work_order": "WO-1", "operation": "10"},
        {"kind": "measurement", "characteristic": "bore_d", "value": 12.003, "unit": "mm"},
        {"kind": "counter", "good": 2**63, "reject": 0},  # past int64
        {"kind": "counter", "good": 1, "seq": 10**15},  # an implausible jump
        {
            "kind": "sample",
            "samples": [{"signal": "t", "value": 1e308, "ts": "0001-01-01T00:00:00Z"}],
        },
        {"kind": "state", "state": "Executing", "reason": "a\u0000b"},  # NUL in a string
    ]
    for body in bodies:
        kind = body["kind"]
        payload = json.dumps({**base, **body}).encode()
        put("mqtt_payload", bytes([kinds.index(str(kind)) + 1]) + payload)
    put("mqtt_payload", b"\x03" + b"[" * 200)  # deep nesting
    put("mqtt_payload", b"\x00" + json.dumps({**base, "kind": "weather"}).encode())
    put("mqtt_payload", b"\x02" + json.dumps({**base, "event_id": "x\u0000"}).encode())


def binary_stl(mesh: trimesh.Trimesh) -> bytes:
    out = io.BytesIO()
    out.write(b"seed".ljust(80, b"\0"))
    out.write(struct.pack("<I", len(mesh.faces)))
    for tri, normal in zip(mesh.triangles, mesh.face_normals, strict=True):
        out.write(struct.pack("<12fH", *normal, *tri.ravel(), 0))
    return out.getvalue()


def ascii_stl(mesh: trimesh.Trimesh) -> bytes:
    lines = ["solid seed"]
    for tri in mesh.triangles:
        lines += ["facet normal 0 0 0", "outer loop"]
        lines += [f"vertex {v[0]:g} {v[1]:g} {v[2]:g}" for v in tri]
        lines += ["endloop", "endfacet"]
    return ("\n".join([*lines, "endsolid seed"]) + "\n").encode()


def obj(mesh: trimesh.Trimesh) -> bytes:
    lines = [f"v {v[0]:g} {v[1]:g} {v[2]:g}" for v in mesh.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    return ("\n".join(lines) + "\n").encode()


def three_mf(mesh: trimesh.Trimesh, components: bool = False) -> bytes:
    verts = "".join(f'<vertex x="{v[0]:g}" y="{v[1]:g}" z="{v[2]:g}"/>' for v in mesh.vertices)
    tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in mesh.faces)
    mesh_xml = f"<mesh><vertices>{verts}</vertices><triangles>{tris}</triangles></mesh>"
    objects = f'<object id="1">{mesh_xml}</object>'
    item = 1
    if components:
        objects += (
            '<object id="2"><components><component objectid="1"/>'
            '<component objectid="1" transform="1 0 0 0 1 0 0 0 1 30 0 0"/></components></object>'
        )
        item = 2
    xml = (
        f'<?xml version="1.0"?><model unit="millimeter" xmlns="{NS}"><resources>{objects}'
        f'</resources><build><item objectid="{item}"/></build></model>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("3D/3dmodel.model", xml)
    return out.getvalue()


def intake() -> None:
    stl, tmf, objf = b"\x00", b"\x01", b"\x02"
    cube = trimesh.creation.box((10, 10, 10))
    put("model_intake", stl + binary_stl(cube))
    put("model_intake", stl + ascii_stl(cube))
    put("model_intake", objf + obj(cube))
    put("model_intake", objf + b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n")  # a quad
    put("model_intake", tmf + three_mf(cube))
    put("model_intake", tmf + three_mf(cube, components=True))
    for path in sorted(HOSTILE.iterdir()):
        ext = path.suffix.lstrip(".")
        if ext in ("stl", "3mf", "obj"):
            put("model_intake", {"stl": stl, "3mf": tmf, "obj": objf}[ext] + path.read_bytes())


def factory() -> None:
    demo = DEMO_FACTORY.read_bytes()
    put("factory_yaml", demo)
    minimal = (
        b"site: {id: s, name: S}\nareas: [{id: a}]\n"
        b"machines: [{id: m, type: assembly, area: a, capabilities: [c], cost_per_hour: 1}]\n"
        b"products: [{id: p, routing: [{capability: c, fixed_minutes: 1}]}]\n"
    )
    put("factory_yaml", minimal)
    put("factory_yaml", minimal.replace(b"cost_per_hour: 1", b"cost_per_hour: .nan"))
    put("factory_yaml", minimal.replace(b"fixed_minutes: 1", b"fixed_minutes: .inf"))
    put(
        "factory_yaml", minimal.replace(b"cost_per_hour: 1}", b"cost_per_hour: 1, count: 10000000}")
    )
    put("factory_yaml", b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n")  # aliases


def orders() -> None:
    head = b"order_id,customer,product,quantity,due,priority,parameters\n"
    put(
        "orders_csv",
        head
        + b"A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,colour=white;length_mm=120\n"
        + b"A-1,acme,alu-plate,1,2027-01-10T12:00:00Z,3,\n"
        + b'B-7,smile,dental-model,10,2027-01-12T12:00:00Z,4,"{""arch"": ""lower""}"\n',
    )
    put(
        "orders_csv",
        head
        + b"A-1,acme,bracket,4,2027-01-10T12:00:00Z,3,\nA-1,beta,x,1,2027-02-01T00:00:00Z,5,\n",
    )
    put("orders_csv", b"customer,product,quantity,due\nacme,bracket,many,next week\n")
    put(
        "orders_csv",
        b"\xef\xbb\xbf" + head + b'C,acme,b,1,2027-01-10T12:00:00Z,3,"{""a"": [[[1]]]}"\n',
    )


if __name__ == "__main__":
    mqtt()
    intake()
    factory()
    orders()
    for target in sorted(CORPUS.iterdir()):
        print(target.name, len(list(target.iterdir())))
