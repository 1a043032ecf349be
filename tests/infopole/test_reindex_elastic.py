"""`infopole reindex`: every monthly post index rebuilt into a new generation behind the same names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from index.elastic import ElasticStore
from index.models import Post
from index.store import PostQuery
from infopole.reindex import reindex_posts
from tests.factories import make_post
from tests.index.elastic_target import drop_store, open_elastic_store


@pytest.fixture
def store() -> Iterator[ElasticStore]:
    opened = open_elastic_store()
    yield opened
    drop_store(opened)


def test_reindex_rebuilds_each_month_and_reads_and_writes_go_on(store: ElasticStore) -> None:
    march = datetime(2024, 3, 20, tzinfo=UTC)
    posts = [make_post(published_at=march + timedelta(days=i)) for i in range(20)]  # March and April
    store.upsert_posts(posts)
    before = store.query_posts(PostQuery(limit=100)).items

    def rebuild(batch: Sequence[Post]) -> list[Post]:
        return [post.model_copy(update={"topic": "пересобрано"}) for post in batch]

    report = reindex_posts(store, rebuild=rebuild)
    prefix = store.layout.prefix
    assert report.indices == {
        f"{prefix}-posts-2024.03.01": (f"{prefix}-posts-2024.03.01-000002", 12),
        f"{prefix}-posts-2024.04.01": (f"{prefix}-posts-2024.04.01-000002", 8),
    }
    assert report.failed == {} and "сообщений: 20" in report.summary()
    after = store.query_posts(PostQuery(limit=100)).items
    assert [p.id for p in after] == [p.id for p in before]
    assert {p.topic for p in after} == {"пересобрано"}
    # The month names are now aliases of the new generation: writes by month name still land there.
    late = make_post(published_at=march + timedelta(days=1, hours=3))
    assert store.upsert_posts([late]) == 1
    assert store.count_posts(PostQuery()) == 21
    store.client.indices.refresh(index=f"{prefix}-posts-*")
    assert store.client.count(index=f"{prefix}-posts-2024.03.01-000002")["count"] == 13
    # A second reindex moves on to the third generation.
    again = reindex_posts(store)
    assert again.indices[f"{prefix}-posts-2024.03.01-000002"][0] == f"{prefix}-posts-2024.03.01-000003"
    assert store.count_posts(PostQuery()) == 21
