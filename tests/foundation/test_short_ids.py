"""Short readable ids: orders and quotes are numbered SO-00042 / Q-00007, never 32 hex."""

from pathlib import Path

import pytest

from microfactory.core.ids import next_serial_id, serial_id


@pytest.mark.parametrize(
    "taken_count",
    [0, 1, 2, 3, 7, 8, 9, 100, 1023, 1024],  # empty, powers of two and their neighbours
)
def test_the_next_serial_id_follows_the_taken_run(taken_count: int) -> None:
    taken = {serial_id("SO", n) for n in range(1, taken_count + 1)}
    looked_up: list[str] = []

    def is_taken(i: str) -> bool:
        looked_up.append(i)
        return i in taken

    assert next_serial_id("SO", is_taken) == serial_id("SO", taken_count + 1)
    assert len(looked_up) <= 2 * max(1, taken_count).bit_length() + 2  # O(log n)


def test_a_gap_is_never_an_id_in_use() -> None:
    taken = {"Q-00001", "Q-00002", "Q-00004"}  # Q-00003 was never stored
    assert next_serial_id("Q", taken.__contains__) not in taken


def test_serial_ids_are_short() -> None:
    assert serial_id("SO", 42) == "SO-00042"


def test_orders_added_at_the_cli_get_short_numbers(tmp_path: Path) -> None:
    import json

    from tests.foundation.test_cli_database import run

    assert run("init", cwd=tmp_path).returncode == 0
    ids = []
    for _ in range(2):
        added = run(
            "orders",
            "add",
            "--customer",
            "acme",
            "--product",
            "bracket",
            "--quantity",
            "1",
            "--json",
            cwd=tmp_path,
        )
        assert added.returncode == 0, added.stderr
        ids.append(json.loads(added.stdout)["id"])
    assert ids == ["SO-00001", "SO-00002"]
