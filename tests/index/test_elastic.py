"""Elasticsearch backend behaviour beyond the Store contract: month indices, derived fields, paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import index.elastic as elastic_module
from index.elastic import ElasticStore
from index.es_bulk import BulkOp, bulk_write
from index.es_docs import post_from_doc
from index.es_setup import mapping_properties
from index.models import Metrics, OfficialPage
from index.store import PostQuery
from tests.factories import BASE_TIME, make_post
from tests.index.elastic_target import drop_store, open_elastic_store


@pytest.fixture
def store() -> Iterator[ElasticStore]:
    """Return an empty Elasticsearch store (osmem-server or INFOPOLE_TEST_ES_URL)."""
    opened = open_elastic_store()
    yield opened
    drop_store(opened)


def _indices(store: ElasticStore) -> dict[str, int]:
    """Return the concrete post indices and their document counts."""
    store.client.indices.refresh(index=store.layout.pattern("posts"))
    rows: Any = store.client.cat.indices(index=store.layout.pattern("posts"), format="json").body
    return {row["index"]: int(row["docs.count"]) for row in rows}


def test_posts_go_to_monthly_indices_behind_the_read_alias(store: ElasticStore) -> None:
    march = make_post(published_at=datetime(2024, 3, 31, 23, 30, tzinfo=UTC))
    april = make_post(published_at=datetime(2024, 4, 1, 0, 30, tzinfo=UTC))
    store.upsert_posts([march, april])
    prefix = store.layout.prefix
    assert _indices(store) == {f"{prefix}-posts-2024.03.01": 1, f"{prefix}-posts-2024.04.01": 1}
    aliases = store.client.indices.get_alias(name=f"{prefix}-posts")
    assert set(aliases) == {f"{prefix}-posts-2024.03.01", f"{prefix}-posts-2024.04.01"}


def test_a_post_moved_to_another_month_leaves_its_old_index(store: ElasticStore) -> None:
    post = make_post(published_at=datetime(2024, 3, 31, 23, 30, tzinfo=UTC))
    store.upsert_posts([post])
    moved = post.model_copy(update={"published_at": datetime(2024, 5, 2, tzinfo=UTC)})
    assert store.upsert_posts([moved]) == 0
    prefix = store.layout.prefix
    assert _indices(store) == {f"{prefix}-posts-2024.03.01": 0, f"{prefix}-posts-2024.05.01": 1}
    assert store.get_post(post.id) == moved


def test_document_carries_location_engagement_and_page_fields(store: ElasticStore) -> None:
    page = OfficialPage(
        id="vk-admin", network="vk", name="Администрация", url="https://vk.com/adm", norm_per_week=5
    )
    store.save_pages([page])
    post = make_post(
        page_id="vk-admin",
        is_official=True,
        raw={"geo": {"type": "point", "coordinates": "55.75 37.61"}},
        metrics=Metrics(views=100, likes=3, reposts=2, comments=4),
        lemmas="новогодний ёлка",
    )
    store.upsert_posts([post])
    hit = store.client.search(index=store.layout.alias("posts"), query={"ids": {"values": [post.id]}})
    doc = hit["hits"]["hits"][0]["_source"]
    assert doc["location"] == {"lat": 55.75, "lon": 37.61}
    assert doc["engagement"] == 9
    assert (doc["page_name"], doc["page_norm_per_week"], doc["page_category"]) == (
        "Администрация",
        5,
        "активный",
    )
    assert doc["lemmas"] == "новогодний елка"  # folded for search, the original kept for the round trip
    assert post_from_doc(doc) == post == store.get_post(post.id)


def test_official_reply_marks_the_comment_answered_whatever_the_order(store: ElasticStore) -> None:
    root = make_post(page_id="vk-admin", is_official=True)
    first = make_post(page_id="vk-admin", parent_id=root.id, thread_id=root.id)
    second = make_post(page_id="vk-admin", parent_id=root.id, thread_id=root.id)
    store.upsert_posts([root, first, second])
    reply_at = BASE_TIME + timedelta(hours=5)
    reply = make_post(page_id="vk-admin", is_official=True, parent_id=first.id, published_at=reply_at)
    store.upsert_posts([reply])  # the reply comes after the comment: the stored comment is updated
    store.upsert_posts([first, second])  # re-collecting the comment keeps its answer

    def answered(post_id: str) -> str | None:
        hits = store.client.search(index=store.layout.alias("posts"), query={"ids": {"values": [post_id]}})
        value = hits["hits"]["hits"][0]["_source"].get("answered_at")
        return None if value is None else str(value)

    first_answer = answered(first.id)
    assert first_answer is not None and datetime.fromisoformat(first_answer) == reply_at
    assert answered(second.id) is None
    unanswered = store.client.count(
        index=store.layout.alias("posts"),
        query={
            "bool": {
                "filter": [{"exists": {"field": "parent_id"}}, {"term": {"is_official": False}}],
                "must_not": [{"exists": {"field": "answered_at"}}],
            }
        },
    )
    assert unanswered["count"] == 1


def test_deep_pages_use_search_after(store: ElasticStore, monkeypatch: pytest.MonkeyPatch) -> None:
    posts = [make_post(published_at=BASE_TIME + timedelta(minutes=i)) for i in range(23)]
    store.upsert_posts(posts)
    newest = [p.id for p in sorted(posts, key=lambda p: (p.published_at, p.id), reverse=True)]
    shallow = [store.query_posts(PostQuery(limit=4, offset=o)).items for o in range(0, 23, 4)]
    monkeypatch.setattr(elastic_module, "MAX_WINDOW", 5)
    deep = [store.query_posts(PostQuery(limit=4, offset=o)) for o in range(0, 23, 4)]
    assert [p.id for page in deep for p in page.items] == newest
    assert [[p.id for p in page.items] for page in deep] == [[p.id for p in items] for items in shallow]
    assert all(page.total == 23 for page in deep)


def test_counts_page_through_every_composite_bucket(
    store: ElasticStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [
        make_post(published_at=BASE_TIME + timedelta(minutes=50 * i), sector=["жкх", "дороги"][i % 2])
        for i in range(40)
    ]
    store.upsert_posts(posts)
    since, until = BASE_TIME, BASE_TIME + timedelta(days=2)
    whole = store.counts(since, until, by=("sector",))
    monkeypatch.setattr(elastic_module, "COMPOSITE_PAGE", 3)
    assert store.counts(since, until, by=("sector",)) == whole
    assert sum(row.count for row in whole) == 40 and len(whole) > 3


def test_count_aggregation_is_one_composite_request_over_whole_hours(store: ElasticStore) -> None:
    body = store.count_aggregation(
        datetime(2024, 3, 4, 10, 20, tzinfo=UTC), datetime(2024, 3, 5, 7, 5, tzinfo=UTC), ("sector",), "day"
    )
    assert body["query"] == {
        "range": {
            "published_at": {"gte": "2024-03-04T10:00:00.000+00:00", "lt": "2024-03-05T08:00:00.000+00:00"}
        }
    }
    sources = body["aggs"]["counts"]["composite"]["sources"]
    assert sources == [
        {"bucket": {"date_histogram": {"field": "published_at", "calendar_interval": "1d"}}},
        {"sector": {"terms": {"field": "sector", "missing_bucket": True}}},
    ]


def test_bulk_reports_a_rejected_document_and_writes_the_others(store: ElasticStore) -> None:
    post = make_post()
    store.upsert_posts([post])
    index = store.layout.month_index(post.published_at)
    good = BulkOp("index", index, "good", {"id": "good", "published_at": "2024-03-04T10:00:00Z"})
    bad = BulkOp("index", index, "bad", {"id": "bad", "published_at": "не дата"})
    result = bulk_write(store.client, [good, bad], refresh=True)
    assert set(result.failures) == {"bad"}
    assert "good" in result.results
    assert store.count_posts(PostQuery(ids=["good", "bad"])) == 1


def test_an_incident_index_made_before_the_escalation_fields_gets_them(store: ElasticStore) -> None:
    client, alias = store.client, store.layout.alias("incidents")
    index = next(iter(client.indices.get_alias(name=alias)))
    client.indices.delete(index=index)
    fields = mapping_properties("incidents")
    old = {k: v for k, v in fields.items() if k not in elastic_module._STEP_FIELDS}
    made_before = f"{store.layout.prefix}-made-before"  # outside the incidents template's pattern
    client.indices.create(
        index=made_before, aliases={alias: {}}, mappings={"dynamic": False, "properties": old}
    )
    assert "step_rules" not in client.indices.get_mapping(index=alias)[made_before]["mappings"]["properties"]
    ElasticStore(client, store.layout)  # opening the store again adds them
    mapping = client.indices.get_mapping(index=alias)[made_before]["mappings"]["properties"]
    assert {"step_rules", "step_due_at"} <= set(mapping) and mapping["step_rules"]["type"] == "keyword"
