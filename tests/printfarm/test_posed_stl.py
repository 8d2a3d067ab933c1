"""The model a printer gets: the quote's model turned into the quote's pose, as binary STL."""

from __future__ import annotations

import pytest
import trimesh

from microfactory.quoting.geometry import analyze
from microfactory.quoting.intake import load_model_bytes
from microfactory.services.printfarm_slicing import posed_stl


@pytest.mark.parametrize("label", ["as modelled", "+x face down", "upside down"])
def test_posed_stl_has_the_poses_extents_and_the_models_volume(label: str) -> None:
    data = trimesh.creation.box((10, 20, 40)).export(file_type="stl")
    geo = analyze(load_model_bytes(data, "b.stl", units="mm").mesh)
    pose = next(o for o in geo.orientations if o.label == label)
    posed = load_model_bytes(posed_stl(data, "b.stl", label), "p.stl", units="mm")
    assert tuple(posed.mesh.extents) == pytest.approx(pose.extents_mm, abs=1e-4)
    assert posed.volume_mm3 == pytest.approx(8000.0, rel=1e-6)  # not turned inside out
    assert not posed.warnings  # nothing to repair or flip
