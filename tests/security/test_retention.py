"""Retention on both backends: posts older than the period leave with their personal fields (names,
pseudonyms, texts, raw objects); younger posts and their counts stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crawlers.vk.mapping import map_vk_item
from index.models import Post
from index.retention import apply_retention
from index.store import PostQuery, Store
from tests.factories import BASE_TIME
from tests.index.test_store_contract import _close_store, _open_store

KEY = b"retention-test-key"
NOW = BASE_TIME + timedelta(days=500)


@pytest.fixture(params=["sqlite", "elastic"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = _open_store(request.param, tmp_path)
    yield opened
    _close_store(request.param, opened)


def _post(item_id: int, age_days: float, name: str) -> Post:
    raw = {
        "owner_id": -100,
        "id": item_id,
        "from_id": 5550000 + item_id,
        "date": int((NOW - timedelta(days=age_days)).timestamp()),
        "text": f"{name}: нет воды, звоните 8 900 000-00-{item_id:02d}",
    }
    return map_vk_item(raw, KEY).model_copy(
        update={"author_name": name, "sector": "жкх", "lemmas": "нет вода"}
    )


def test_retention_removes_old_posts_with_their_personal_fields(store: Store) -> None:
    old = [_post(i, 400 + i, f"Старый Автор {i}") for i in range(1, 6)]
    young = [_post(i, 30 + i, f"Новый Автор {i}") for i in range(10, 13)]
    store.upsert_posts([*old, *young])

    assert apply_retention(store, 365, NOW) == len(old)

    assert all(store.get_post(p.id) is None for p in old)
    kept = store.query_posts(PostQuery(limit=100)).items
    assert sorted(p.id for p in kept) == sorted(p.id for p in young)
    dumped = "".join(p.model_dump_json() for p in kept)
    for p in old:  # nothing personal of the old posts is reachable through the store
        assert p.author_name is not None and p.author_name not in dumped
        assert p.author_id is not None and p.author_id not in dumped
        assert str(5550000 + int(p.source_id.split("_")[1])) not in dumped
    assert store.count_posts(PostQuery(text="нет вода")) == len(young)
    window = store.counts(NOW - timedelta(days=600), NOW, bucket="day")
    assert sum(r.count for r in window) == len(young)
    assert apply_retention(store, 365, NOW) == 0  # idempotent
