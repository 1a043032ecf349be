"""VK objects → Posts: recorded objects validated against the official schema, ids, threads, text."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from crawlers.registry import get_mapper
from crawlers.vk.mapping import display_text, map_vk_item
from tests.crawlers.vk.fake_vk import load_fixture
from tests.crawlers.vk.schema import errors_of, validator

KEY = b"test-key"

RECORDED_POSTS = [
    ("Wall/Get_With_PhotoListAttachment.json", 0),
    ("Wall/Get_WithPoll_NormalCase.json", 0),
    ("Wall/ArticleAttachement.json", 0),
    ("Wall/Get_ExtendedVersion_GenerateOutParametersCorrectly.json", 0),
    ("NewsFeed/Search_NextFrom_NotNull.json", 0),
    ("NewsFeed/Search_NextFrom_NotNull.json", 1),
    ("NewsFeed/Search_NextFrom_NotNull.json", 2),
    ("NewsFeed/Search_Coordinates_Exception.json", 0),
]


def _post(file: str, index: int) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(load_fixture(file)["response"]["items"][index])
    return item


@pytest.mark.parametrize(("file", "index"), RECORDED_POSTS)
def test_recorded_posts_are_valid_and_map(file: str, index: int) -> None:
    raw = _post(file, index)
    assert errors_of(validator("wall/objects.json", "wall_wallpost_full"), raw) == []
    post = map_vk_item(raw, KEY)
    assert post.id == f"vk:{raw['owner_id']}_{raw['id']}"
    assert post.thread_id == post.id
    assert post.url == f"https://vk.com/wall{raw['owner_id']}_{raw['id']}"
    assert post.published_at.timestamp() == raw["date"]
    assert post.source == "vk"
    assert str(raw["from_id"]) not in (post.author_id or "")  # pseudonymised
    assert post.raw == raw
    assert "&#" not in post.text and "<br>" not in post.text


def test_repost_text_and_counters_are_kept() -> None:
    raw = _post("Wall/Get_With_PhotoListAttachment.json", 0)
    post = map_vk_item(raw, KEY)
    assert raw["text"] == ""
    assert post.text == "Закрыл стол! 130000 тыс, чуть больше месяца."  # from copy_history
    assert post.metrics.likes == 5
    assert post.metrics.reposts == 0
    assert post.metrics.comments == 0


def test_html_entities_and_mentions_are_decoded() -> None:
    post = map_vk_item(_post("NewsFeed/Search_Coordinates_Exception.json", 0), KEY)
    assert post.text.startswith("✈️ Вильнюс (Литва) → Прага (Чехия)")
    assert (
        display_text("[id6099|Дмитрий], спасибо!<br>Ждём &quot;ответа&quot;")
        == 'Дмитрий, спасибо!\nЖдём "ответа"'
    )


def test_the_mapper_is_registered_under_vk() -> None:
    assert get_mapper("vk") is map_vk_item


def _thread() -> list[dict[str, Any]]:
    items = load_fixture("handwritten/wall_getComments_thread.json")["response"]["items"]
    out = []
    for comment in items:
        replies = comment["thread"]["items"]
        out.append(dict(comment, _kind="comment", _owner_id=-218430001, _post_id=5001, _page_id="vk-adm"))
        out += [
            dict(r, _kind="comment", _owner_id=-218430001, _post_id=5001, _page_id="vk-adm") for r in replies
        ]
    return out


def test_comment_threads_get_parent_and_thread_ids() -> None:
    comment_schema = validator("wall/objects.json", "wall_wall_comment")
    posts = {}
    for raw in _thread():
        assert errors_of(comment_schema, raw) == []
        post = map_vk_item(raw, KEY)
        posts[post.id] = post
    root = "vk:-218430001_5001"
    top = posts[f"{root}:c901"]
    answer = posts[f"{root}:c903"]
    thanks = posts[f"{root}:c904"]
    assert top.parent_id == root and top.thread_id == root
    assert answer.parent_id == f"{root}:c901"  # reply_to_comment
    assert thanks.parent_id == f"{root}:c903"
    assert answer.url == "https://vk.com/wall-218430001_5001?reply=903&thread=901"
    assert answer.is_official and not top.is_official  # the page answering as itself
    assert answer.text.startswith("Ирина, здравствуйте!")
    assert thanks.text == "Спасибо «быстрой» реакции, посмотрим"
    assert top.metrics.likes == 7
    assert top.page_id == "vk-adm"


def test_recorded_comments_validate_and_the_deleted_one_is_rejected() -> None:
    items = load_fixture("Wall/GetComments802.json")["response"]["items"]
    schema = validator("wall/objects.json", "wall_wall_comment")
    kept = [c for c in items if not c.get("deleted")]
    for raw in kept:
        assert errors_of(schema, raw) == []
        assert map_vk_item(dict(raw, _kind="comment"), KEY).parent_id == "vk:-69459624_482121"
    deleted = next(c for c in items if c.get("deleted"))
    with pytest.raises(ValueError, match="удалён"):
        map_vk_item(dict(deleted, _kind="comment", _owner_id=-69459624, _post_id=482121), KEY)


def test_community_author_name_is_kept_people_stay_unnamed() -> None:
    raw = _post("Wall/Get_WithPoll_NormalCase.json", 0)
    group_post = dict(raw, from_id=-5, owner_id=-5, _author_name="Сообщество")
    assert map_vk_item(group_post, KEY).author_name == "Сообщество"
    person = dict(raw, from_id=5, owner_id=-5, _author_name="Иван Петров")
    assert map_vk_item(person, KEY).author_name is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"id": 1, "date": 1}, "owner_id"),
        ({"owner_id": -1, "date": 1}, "'id'"),
        ({"owner_id": -1, "id": 1, "date": "вчера"}, "date"),
        ({"owner_id": -1, "id": 1, "date": 1, "from_id": "x"}, "автор"),
        ({"owner_id": -1, "id": 1, "date": 1, "_kind": "photo"}, "неизвестный вид"),
        ({"id": 5, "from_id": 1, "date": 1, "text": "", "_kind": "comment"}, "нет записи"),
    ],
)
def test_malformed_objects_are_rejected_in_russian(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        map_vk_item(raw, KEY)
