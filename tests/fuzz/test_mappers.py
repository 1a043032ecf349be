"""Every source mapper on arbitrary, deeply nested and wrong-typed JSON: a Post or a clear ValueError.

Each mapper is fed (a) arbitrary JSON objects, (b) valid items with one field replaced by arbitrary
JSON or removed, (c) deeply nested values. Anything but a Post or a ValueError with a message fails;
a Post must be storable (JSON round trip) and link only to http(s) addresses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers.registry import MAPPERS, get_mapper
from crawlers.telegram.client import message_to_raw
from index.models import Post
from tests.crawlers.ok.fake_ok import GROUP, load_fixture
from tests.crawlers.telegram.fakes import comment, post
from tests.fuzz.budget import fuzz

KEY = b"fuzz-key"

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "0", "-1", "1e309", "2024-03-06T10:00:00", "\x00", "\u202e", "https://x"])
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _samples() -> dict[str, list[dict[str, Any]]]:
    """Return valid raw items of every source, as their collectors produce them."""
    chat = {"id": -1000001234567, "username": "gorod_news", "title": "Новости", "broadcast": True}
    disc = {"id": -1000007654321, "username": None, "title": "Обсуждение", "broadcast": False}
    thread = {"chat_id": -1000001234567, "post_id": 77, "copy_id": 300, "username": "gorod_news"}
    tg_post = {
        "message": message_to_raw(post(1234567, 77, "Нет воды", views=10)),
        "chat": chat,
        "thread": None,
    }
    tg_comment = {
        "message": message_to_raw(comment(7654321, 301, "Опять!", reply_to=300)),
        "chat": disc,
        "thread": thread,
        "page_id": "tg-admin",
    }
    ok_topic = dict(load_fixture("topics.json")[0], _kind="topic", _group_id=GROUP, _page_id="ok-adm")
    ok_comment = dict(
        load_fixture("comments.json")["155000000000003"][0],
        _kind="comment",
        _group_id=GROUP,
        _topic_id="155000000000003",
    )
    return {
        "vk": [
            {"owner_id": -1, "id": 5, "from_id": 77, "date": 1709719200, "text": "Яма на дороге"},
            {
                "_kind": "comment",
                "_owner_id": -1,
                "_post_id": 5,
                "id": 9,
                "from_id": 78,
                "date": 1709719300,
                "text": "И у нас",
            },
        ],
        "tg": [json.loads(json.dumps(tg_post)), json.loads(json.dumps(tg_comment))],
        "ok": [ok_topic, ok_comment],
        "web": [
            {
                "canonical_url": "https://news.example/a/1",
                "title": "Заголовок",
                "text": "Текст статьи",
                "published_at": "2024-03-06T10:00:00+03:00",
                "author": "Редакция",
                "site": "news.example",
            }
        ],
        "demo": [
            {
                "item_id": "-1_2",
                "network": "vk",
                "type": "comment",
                "date": 1709719200,
                "text": "Нет воды",
                "from_id": 1,
                "parent_item_id": "-1_1",
                "thread_item_id": "-1_1",
                "official": False,
            }
        ],
    }


SAMPLES = _samples()


def test_every_registered_mapper_has_samples() -> None:
    get_mapper("vk")  # loads the built-in mappers
    assert set(MAPPERS) == set(SAMPLES)
    for name, items in SAMPLES.items():
        for raw in items:
            assert isinstance(get_mapper(name)(raw, KEY), Post), name


def check(name: str, raw: Any) -> None:
    """Map `raw` with the `name` mapper: a sound Post or a ValueError with a message."""
    try:
        mapped = get_mapper(name)(raw, KEY)
    except ValueError as exc:
        assert str(exc).strip(), f"{name}: ValueError without a message"
        return
    assert isinstance(mapped, Post)
    stored = Post.model_validate_json(mapped.model_dump_json())  # storable (raw inf/NaN become null)
    assert stored.model_dump(exclude={"raw"}) == mapped.model_dump(exclude={"raw"})
    if name != "demo":
        assert mapped.url is None or mapped.url.startswith(("https://", "http://")), mapped.url
    assert mapped.id.startswith(f"{name}:") or name == "demo"


@pytest.mark.parametrize("name", sorted(SAMPLES))
@given(raw=st.dictionaries(st.text(max_size=12), json_value, max_size=8))
@fuzz(40)
def test_arbitrary_objects(name: str, raw: dict[str, Any]) -> None:
    check(name, raw)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@given(data=st.data())
@fuzz(80)
def test_valid_items_with_one_field_broken(name: str, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(SAMPLES[name]))
    raw: dict[str, Any] = json.loads(json.dumps(base))
    target: dict[str, Any] = raw
    # Sometimes reach into a nested object (the Telegram message, the chat, the thread).
    nested = [k for k, v in raw.items() if isinstance(v, dict)]
    go_deeper: bool = data.draw(st.booleans())
    if nested and go_deeper:
        target = raw[data.draw(st.sampled_from(nested))]
    key: str = data.draw(st.sampled_from(sorted(target))) if target else "x"
    if data.draw(st.booleans()):
        target.pop(key, None)
    else:
        target[key] = data.draw(json_value)
    check(name, raw)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("depth", [50, 900])
def test_deeply_nested_values(name: str, depth: int) -> None:
    for base in SAMPLES[name]:
        for key in sorted(base):
            deep: Any = "дно"
            for _ in range(depth):
                deep = {"a": [deep]}
            check(name, {**base, key: deep})


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("raw", [None, [], "текст", 42, 1.5, True])
def test_not_an_object(name: str, raw: Any) -> None:
    check(name, raw)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_enormous_and_empty_fields(name: str) -> None:
    for base in SAMPLES[name]:
        for key in sorted(base):
            for value in ("", "я" * 2_000_000, "\x00\x01\x1b[31m\u202e\ufeff"):
                check(name, {**base, key: value})
