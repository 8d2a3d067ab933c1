"""Nonconformance lifecycle (disposition, CAPA, close) and lot holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from microfactory.core.errors import Conflict, ValidationError
from microfactory.quality.records import Disposition, LotHold, NcrStatus, Nonconformance

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def ncr() -> Nonconformance:
    return Nonconformance(
        id="NCR-1",
        product="bracket",
        characteristic="hole_pitch",
        value=40.31,
        lsl=39.8,
        usl=40.2,
        opened=T0,
        part_id="SO-1-1-003",
        lot_id="LOT-SO-1-1",
    )


def test_open_ncr_is_dispositioned_then_closed_with_capa() -> None:
    done = (
        ncr()
        .dispose(Disposition.REWORK, "qe.anna", T0 + timedelta(hours=1), "re-drill")
        .with_capa(root_cause="worn drill", corrective_action="replace drill", owner="maint")
        .close(T0 + timedelta(days=1))
    )
    assert done.status == NcrStatus.CLOSED
    assert done.disposition == Disposition.REWORK and done.disposition_by == "qe.anna"
    assert done.closed == T0 + timedelta(days=1)


def test_closing_needs_root_cause_and_corrective_action() -> None:
    dispositioned = ncr().dispose(Disposition.SCRAP, "qe.anna", T0)
    with pytest.raises(ValidationError, match="root cause"):
        dispositioned.close(T0)


def test_an_ncr_is_dispositioned_once() -> None:
    once = ncr().dispose(Disposition.SCRAP, "qe.anna", T0)
    with pytest.raises(Conflict, match="only an open NCR"):
        once.dispose(Disposition.REWORK, "qe.bob", T0)


def test_open_ncr_cannot_be_closed() -> None:
    with pytest.raises(Conflict, match="disposition it before closing"):
        ncr().close(T0)


@pytest.mark.parametrize(
    ("disposition", "by", "note", "message"),
    [
        (Disposition.USE_AS_IS, "qe.anna", "", "justification"),  # concession without a reason
        (Disposition.SCRAP, "  ", "", "who decided"),  # anonymous decision
    ],
)
def test_bad_dispositions_are_rejected(
    disposition: Disposition, by: str, note: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ncr().dispose(disposition, by, T0, note)


def test_hold_is_released_once() -> None:
    hold = LotHold("LOT-1", "out of spec", T0)
    released = hold.release("qe.anna", T0 + timedelta(hours=2), "parts sorted")
    assert hold.active and not released.active
    with pytest.raises(Conflict, match="not on hold"):
        released.release("qe.anna", T0)


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        LotHold("LOT-1", "x", datetime(2026, 1, 1))
