"""map_demo_item: a raw demo item becomes a Post; malformed items raise a clear ValueError."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crawlers.demo.mapping import map_demo_item
from index.pseudonym import pseudonymise

KEY = b"test-key"


def _comment(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "item_id": "-218430001_15024",
        "network": "vk",
        "type": "comment",
        "date": 1792990800,
        "text": "Третий день нет горячей воды на ул. Гагарина 12, когда дадут??",
        "from_id": 123456,
        "author_name": "Ирина Смирнова",
        "owner": "-218430001",
        "page_id": "vk-admin",
        "official": False,
        "parent_item_id": "-218430001_15020",
        "thread_item_id": "-218430001_15001",
        "views": None,
        "likes": 3,
        "reposts": None,
        "comments": None,
        "followers": None,
        "url": "https://vk.com/wall-218430001_15001?reply=15024",
        "repost_of": None,
    }
    raw.update(overrides)
    return raw


def test_maps_a_comment_under_an_official_post() -> None:
    raw = _comment()
    post = map_demo_item(raw, KEY)
    assert post.id == "demo:vk:-218430001_15024"
    assert (post.source, post.source_id) == ("vk", "-218430001_15024")
    assert post.parent_id == "demo:vk:-218430001_15020"
    assert post.thread_id == "demo:vk:-218430001_15001"
    assert post.published_at == datetime(2026, 10, 26, 5, 0, tzinfo=UTC)
    assert post.collected_at == post.published_at  # pure: no clock is read
    assert post.author_id == pseudonymise("vk:123456", KEY) and "123456" not in post.author_id
    assert post.author_name == "Ирина Смирнова"
    assert post.page_id == "vk-admin" and post.is_official is False
    assert post.metrics.likes == 3 and post.metrics.views is None
    assert post.raw == raw and post.raw is not raw
    assert post.url == raw["url"]
    assert post.text == raw["text"]


def test_maps_a_root_post_and_a_web_article_without_author() -> None:
    post = map_demo_item(
        _comment(
            item_id="news-77",
            network="web",
            type="post",
            from_id=None,
            parent_item_id=None,
            thread_item_id="news-77",
            page_id=None,
            views=1200,
            text="<h1>Ремонт дороги</h1><p>Работы завершены</p>",
        ),
        KEY,
    )
    assert post.id == "demo:web:news-77" and post.thread_id == post.id and post.parent_id is None
    assert post.author_id is None and post.source == "web"
    assert post.metrics.views == 1200


def test_same_author_same_pseudonym_and_networks_do_not_collide() -> None:
    a = map_demo_item(_comment(), KEY)
    b = map_demo_item(_comment(item_id="-218430001_16000"), KEY)
    c = map_demo_item(_comment(network="tg", item_id="-1001843000101_5"), KEY)
    assert a.author_id == b.author_id != c.author_id
    assert map_demo_item(_comment(), b"other").author_id != a.author_id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"network": "fb"}, "неизвестная сеть"),
        ({"network": None}, "нет поля 'network'"),
        ({"item_id": ""}, "пустое поле"),
        ({"item_id": ["x"]}, "должно быть строкой"),
        ({"type": "story"}, "неизвестный тип"),
        ({"date": "вчера"}, "дата"),
        ({"date": 10**20}, "дата"),
        ({"date": True}, "дата"),
        ({"text": 5}, "текст"),
        ({"official": "да"}, "official"),
        ({"parent_item_id": None}, "parent_item_id"),
        ({"likes": -1}, "likes"),
        ({"views": 1.5}, "views"),
    ],
)
def test_malformed_items_raise_a_clear_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        map_demo_item(_comment(**overrides), KEY)


def test_not_a_dict_is_rejected() -> None:
    with pytest.raises(ValueError, match="словарём"):
        map_demo_item(["not", "a", "dict"], KEY)  # type: ignore[arg-type]


def test_missing_text_becomes_empty() -> None:
    assert map_demo_item(_comment(text=None), KEY).text == ""
