"""The quoting engine: machine and pose choice, refusals, plates."""

from __future__ import annotations

import pytest
import trimesh

from microfactory.core.errors import ValidationError
from microfactory.quoting.engine import parts_per_plate, quote_model
from microfactory.quoting.intake import load_model_bytes
from microfactory.quoting.processes import PrintMachine, PrintMaterial, Process

from .conftest import binary_stl, t_bracket

Shop = tuple[list[PrintMachine], list[PrintMaterial]]


def _load(mesh: trimesh.Trimesh, name: str = "part.stl"):  # type: ignore[no-untyped-def]
    return load_model_bytes(binary_stl(mesh), name, units="mm")


def test_quote_picks_the_cheaper_machine_that_fits(shop: Shop) -> None:
    machines, materials = shop
    q = quote_model(
        _load(trimesh.creation.box((20, 20, 20))),
        material="pla",
        quantity=1,
        machines=machines,
        materials=materials,
    )
    assert q.machine_id == "fdm-small"
    assert q.process is Process.FDM
    assert q.volume_mm3 == pytest.approx(8000.0)
    assert set(q.eligible_machines) == {"fdm-small", "fdm-big"}


def test_part_too_big_for_the_small_printer_goes_to_the_big_one(shop: Shop) -> None:
    machines, materials = shop
    q = quote_model(
        _load(trimesh.creation.box((300, 100, 50))),
        material="pla",
        quantity=1,
        machines=machines,
        materials=materials,
    )
    assert q.machine_id == "fdm-big"


def test_long_bar_lies_diagonally_across_a_bed_too_short_for_it(shop: Shop) -> None:
    machines, materials = shop
    small = [m for m in machines if m.id == "fdm-small"]
    q = quote_model(
        _load(trimesh.creation.box((250, 10, 10))),
        material="pla",
        quantity=1,
        machines=small,
        materials=materials,
    )
    assert q.oriented_bbox_mm[2] == pytest.approx(10.0)
    assert max(q.oriented_bbox_mm[:2]) == pytest.approx(250.0)


def test_part_too_long_for_the_bed_is_stood_upright(shop: Shop) -> None:
    _, materials = shop
    small = [PrintMachine("tall", Process.FDM, (100.0, 100.0, 300.0), 4.0)]
    q = quote_model(
        _load(trimesh.creation.box((250, 20, 20))),
        material="pla",
        quantity=1,
        machines=small,
        materials=materials,
    )
    assert q.oriented_bbox_mm[2] == pytest.approx(250.0)
    assert any("does not fit" in w for w in q.warnings)


def test_model_that_fits_nothing_is_refused_naming_the_largest_volume(shop: Shop) -> None:
    machines, materials = shop
    with pytest.raises(ValidationError) as info:
        quote_model(
            _load(trimesh.creation.box((500, 500, 500)), "huge.stl"),
            material="pla",
            quantity=1,
            machines=machines,
            materials=materials,
        )
    text = str(info.value)
    assert "quote refused" in text and "400 × 400 × 400 mm" in text and "fdm-big" in text
    assert info.value.where == "huge"


def test_no_fit_in_resin_suggests_the_fdm_printer(shop: Shop) -> None:
    machines, materials = shop
    with pytest.raises(ValidationError) as info:
        quote_model(
            _load(trimesh.creation.box((180, 150, 100))),
            material="resin-grey",
            quantity=1,
            machines=machines,
            materials=materials,
        )
    assert "fits no resin printer" in str(info.value)
    assert "fdm-small" in str(info.value)


def test_unknown_material_lists_the_known_ones(shop: Shop) -> None:
    machines, materials = shop
    with pytest.raises(ValidationError, match="resin-grey"):
        quote_model(
            _load(trimesh.creation.box((10, 10, 10))),
            material="unobtainium",
            quantity=1,
            machines=machines,
            materials=materials,
        )


@pytest.mark.parametrize("quantity", [0, -3])
def test_bad_quantity_is_refused(shop: Shop, quantity: int) -> None:
    machines, materials = shop
    with pytest.raises(ValidationError, match="quantity"):
        quote_model(
            _load(trimesh.creation.box((10, 10, 10))),
            material="pla",
            quantity=quantity,
            machines=machines,
            materials=materials,
        )


def test_overhang_part_is_laid_flat_and_needs_no_support(shop: Shop) -> None:
    machines, materials = shop
    q = quote_model(
        _load(t_bracket()), material="pla", quantity=1, machines=machines, materials=materials
    )
    assert q.support_volume_mm3 == 0.0
    assert q.oriented_bbox_mm[2] == pytest.approx(20.0)


def test_resin_batch_prints_a_plate_at_once(shop: Shop) -> None:
    machines, materials = shop
    one = quote_model(
        _load(trimesh.creation.box((10, 10, 10))),
        material="resin-grey",
        quantity=1,
        machines=machines,
        materials=materials,
    )
    many = quote_model(
        _load(trimesh.creation.box((10, 10, 10))),
        material="resin-grey",
        quantity=20,
        machines=machines,
        materials=materials,
    )
    assert many.plates == 1
    assert many.machine_hours == pytest.approx(one.machine_hours)
    assert many.price.total < 20 * one.price.total


def test_parts_per_plate_counts_a_grid_with_gaps() -> None:
    # 200 × 100 bed, 45 × 45 parts with 5 mm gaps: 4 × 2
    assert parts_per_plate((45.0, 45.0, 10.0), (200.0, 100.0, 100.0), 5.0) == 8
    assert parts_per_plate((300.0, 45.0, 10.0), (200.0, 100.0, 100.0), 5.0) == 1
