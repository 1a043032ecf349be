"""OK topics and comments → Posts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.ok.mapping import map_ok_item
from crawlers.registry import get_mapper
from tests.crawlers.ok.fake_ok import GROUP, load_fixture

KEY = b"test-key"


def test_topic_maps_with_text_counters_and_official_flag() -> None:
    raw = dict(
        load_fixture("topics.json")[0], _kind="topic", _group_id=GROUP, _page_id="ok-adm", _author_name="Адм"
    )
    post = map_ok_item(raw, KEY)
    assert post.id == f"ok:{GROUP}_155000000000003"
    assert post.url == f"https://ok.ru/group/{GROUP}/topic/155000000000003"
    assert post.published_at == datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
    assert post.text.startswith("Уважаемые жители! 7 марта")
    assert (post.metrics.likes, post.metrics.reposts, post.metrics.comments) == (41, 5, 3)
    assert post.is_official and post.page_id == "ok-adm" and post.author_name == "Адм"
    assert post.thread_id == post.id


def test_citizen_topic_is_not_official_and_entities_are_decoded() -> None:
    topics = load_fixture("topics.json")
    citizen = map_ok_item(dict(topics[2], _kind="topic", _group_id=GROUP, _page_id="ok-adm"), KEY)
    assert not citizen.is_official and citizen.author_name is None
    assert "580000000123" not in (citizen.author_id or "")
    weekly = map_ok_item(dict(topics[1], _kind="topic", _group_id=GROUP), KEY)
    assert "12 дворов & 3" in weekly.text


def test_comments_map_with_moscow_dates_replies_and_group_answers() -> None:
    comments = load_fixture("comments.json")["155000000000003"]
    ctx = {"_kind": "comment", "_group_id": GROUP, "_topic_id": "155000000000003", "_page_id": "ok-adm"}
    question, answer, thanks = (map_ok_item(dict(c, **ctx), KEY) for c in comments)
    root = f"ok:{GROUP}_155000000000003"
    assert question.published_at == datetime(2024, 3, 6, 10, 20, tzinfo=UTC)  # 13:20 Moscow
    assert answer.published_at == datetime(2024, 3, 6, 10, 30, tzinfo=UTC)  # from date_ms
    assert question.parent_id == root and question.thread_id == root
    assert answer.parent_id == f"{root}:c{comments[0]['id']}"
    assert answer.is_official and not question.is_official
    assert question.metrics.likes == 2 and thanks.metrics.likes is None


def test_registered_and_malformed_rejected() -> None:
    assert get_mapper("ok") is map_ok_item
    with pytest.raises(ValueError, match="времени создания"):
        map_ok_item({"_kind": "topic", "id": "1", "_group_id": GROUP}, KEY)
    with pytest.raises(ValueError, match="дата комментария"):
        map_ok_item(
            {
                "_kind": "comment",
                "id": "1",
                "_group_id": GROUP,
                "_topic_id": "2",
                "author_id": "3",
                "date": "вчера",
            },
            KEY,
        )
    with pytest.raises(ValueError, match="неизвестный вид"):
        map_ok_item({"_kind": "photo"}, KEY)
