"""The load benchmarks' arithmetic: memory growth slope, percentiles, replay ids, the kept growth store."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.growth import filled
from bench.sustained import cycled, percentile, slope_per_hour


def test_slope_is_per_hour_and_flat_memory_has_none() -> None:
    rising = [(s * 10.0, 500 + s * 10.0 / 60) for s in range(100)]  # +1 MiB a minute
    assert math.isclose(slope_per_hour(rising), 60.0)
    assert slope_per_hour([(s * 10.0, 700.0) for s in range(50)]) == 0.0
    assert slope_per_hour([(0.0, 1.0)]) == 0.0


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.95) == 96.0
    assert math.isnan(percentile([], 0.95))


def test_replayed_cycles_get_new_ids_and_keep_their_threads() -> None:
    items: list[dict[str, Any]] = [
        {"item_id": "1", "parent_item_id": None, "thread_item_id": "1", "text": "a"},
        {"item_id": "2", "parent_item_id": "1", "thread_item_id": "1", "text": "b"},
    ]
    assert cycled(items, 0) is items
    again = cycled(items, 3)
    assert [i["item_id"] for i in again] == ["1~3", "2~3"]
    assert again[1]["parent_item_id"] == "1~3" and again[1]["thread_item_id"] == "1~3"
    assert again[0]["parent_item_id"] is None and items[1]["parent_item_id"] == "1"


def test_growth_store_resumes_only_with_its_note(tmp_path: Path) -> None:
    path = tmp_path / "growth.sqlite3"
    assert filled(path) == 0
    path.write_bytes(b"")
    assert filled(path) == 0
    Path(f"{path}.filled").write_text("100000", encoding="utf-8")
    assert filled(path) == 100_000
