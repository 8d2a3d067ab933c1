"""The volume found while validating a model is the one the quote uses (computed once)."""

from pathlib import Path

import pytest
import trimesh

from microfactory.quoting.geometry import analyze, signed_volume
from microfactory.quoting.intake import load_model


@pytest.mark.parametrize("units", ["mm", "in"])  # the volume is taken after unit scaling
def test_the_validated_volume_is_the_analysed_volume(tmp_path: Path, units: str) -> None:
    path = tmp_path / "part.stl"
    mesh = trimesh.creation.annulus(r_min=4, r_max=9, height=6)
    mesh.invert()  # inside-out: intake flips it, and the volume must stay positive
    mesh.export(path)
    loaded = load_model(path, units=units)
    assert loaded.volume_mm3 == pytest.approx(signed_volume(loaded.mesh), rel=1e-12)
    assert analyze(loaded.mesh, volume_mm3=loaded.volume_mm3).volume_mm3 == pytest.approx(
        analyze(loaded.mesh).volume_mm3, rel=1e-12
    )
    assert loaded.volume_mm3 > 0
