"""The VK source against the loopback server: walls, comments, search windows, cursors, pages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from crawlers.base import Batch
from crawlers.vk.mapping import map_vk_item
from crawlers.vk.source import VkSource, parse_ref
from index.models import SourceState
from tests.crawlers.vk.fake_vk import World, vk_post
from tests.crawlers.vk.schema import errors_of, validator
from tests.crawlers.vk.world import (
    ADMIN,
    ADMIN_RECENT,
    CLUB,
    DELETED_POST,
    LONG_THREAD_POST,
    NOW_TS,
    PODSL,
    SEARCH_IRRELEVANT,
    SEARCH_RELEVANT,
    THREAD_POST,
)

KEY = b"test-key"


def run(source: VkSource, state: SourceState) -> list[Batch]:
    """Poll to the end and keep the last cursor in `state`, as the worker does."""
    batches = list(source.poll(state))
    if batches:
        state.cursor = batches[-1].cursor
    return batches


def items_of(batches: list[Batch]) -> list[dict[str, Any]]:
    return [item for batch in batches for item in batch.items]


def errors(batches: list[Batch]) -> Counter[str]:
    total: Counter[str] = Counter()
    for batch in batches:
        total.update(batch.errors)
    return total


def test_parse_ref_understands_ids_prefixes_and_urls() -> None:
    assert parse_ref("-123") == -123
    assert parse_ref("123") == -123
    assert parse_ref("club55") == -55
    assert parse_ref("public7") == -7
    assert parse_ref("id5") == 5
    assert parse_ref("https://vk.com/Podslushano_X") == "podslushano_x"
    assert parse_ref("https://vk.com/club218430999") == -218430999


def test_first_run_reads_walls_comments_and_search(
    make_source: Callable[..., VkSource], world: World
) -> None:
    state = SourceState(name="vk")
    batches = run(make_source(), state)
    items = items_of(batches)
    posts = [i for i in items if i["_kind"] == "post"]
    comments = [i for i in items if i["_kind"] == "comment"]

    admin = [p for p in posts if p["owner_id"] == ADMIN and p["_relevance"] == "source"]
    assert sorted({p["id"] for p in admin}) == list(range(5001, 5001 + ADMIN_RECENT))  # 2 pages by offset
    assert all(p["_page_id"] == "vk-adm" for p in admin)
    assert {p["id"] for p in posts if p["owner_id"] == PODSL} == {801, 802, 803, 804}
    assert {p["id"] for p in posts if p["owner_id"] == CLUB} == {11, 12}
    assert 4000 not in {p["id"] for p in admin}  # the old pinned post is outside the backfill
    offsets = sorted(
        int(c["offset"]) for params in world.calls("execute") for c in _wall_calls(params["code"], ADMIN)
    )
    assert offsets == [0, 100]

    # Comments: the handwritten thread, 10 top-level + a 15-reply thread read by comment_id; deleted post.
    by_post = Counter(c["_post_id"] for c in comments)
    assert by_post[THREAD_POST] == 4
    assert by_post[LONG_THREAD_POST] == 25
    assert DELETED_POST not in by_post
    total_errors = errors(batches)
    assert total_errors["vk/15"] == 1  # the deleted post's comments
    assert total_errors["vk/30"] == 1  # the private community's wall
    assert total_errors["vk/irrelevant"] == SEARCH_IRRELEVANT

    # Search: every relevant result once, kept by the keyword rule; the official wall's post as "source".
    found = [p for p in posts if p["_relevance"].startswith("keyword:")]
    assert len(found) == SEARCH_RELEVANT
    assert len({(p["owner_id"], p["id"]) for p in found}) == SEARCH_RELEVANT
    assert all(p["_relevance"] == "keyword:Тестовск" for p in found)
    pages = [int(p.get("start_from") or 0) for p in world.calls("newsfeed.search")]
    assert pages == [0, 200, 400]  # next_from paging

    # Every object is valid against the official schema and maps to a Post.
    post_schema = validator("wall/objects.json", "wall_wallpost_full")
    comment_schema = validator("wall/objects.json", "wall_wall_comment")
    for item in items:
        schema = comment_schema if item["_kind"] == "comment" else post_schema
        assert errors_of(schema, item) == [], item
        map_vk_item(item, KEY)
    assert state.cursor["walls"][str(ADMIN)] == 5000 + ADMIN_RECENT
    assert state.cursor["search"]["Тестовск"] == NOW_TS


def _wall_calls(code: str, owner: int) -> list[dict[str, Any]]:
    import json
    import re

    return [
        json.loads(args)
        for args in re.findall(r"API\.wall\.get\((\{.*?\})\)", code)
        if json.loads(args)["owner_id"] == owner
    ]


def test_second_run_brings_only_what_is_new(make_source: Callable[..., VkSource], world: World) -> None:
    state = SourceState(name="vk")
    run(make_source(), state)
    first_calls = len(world.log)
    world.add_wall(
        ADMIN,
        [vk_post(ADMIN, 5200, NOW_TS + 60, "Свежая новость"), vk_post(ADMIN, 5201, NOW_TS + 120, "Ещё")],
    )
    world.search.append(vk_post(999, 3, NOW_TS - 30, "Тестовск: свежий пост"))
    items = items_of(run(make_source(), state))
    walls = [i for i in items if i["_relevance"] == "source"]
    assert sorted((i["owner_id"], i["id"]) for i in walls) == [(ADMIN, 5200), (ADMIN, 5201)]
    found = [i for i in items if i["_relevance"] != "source"]
    assert (999, 3) in {(i["owner_id"], i["id"]) for i in found}
    assert all(i["date"] >= NOW_TS - 900 for i in found)  # only the 15-minute overlap is read again
    second = world.log[first_calls:]
    assert len(world.calls("groups.getById")) == 1  # screen names were resolved once, on the first run
    assert not [m for _, m, _ in second if m == "groups.getById"]
    assert sum(1 for _, m, _ in second if m == "execute") == 1  # one page of every wall, no comments
    assert sum(1 for _, m, _ in second if m == "newsfeed.search") == 1  # only [last end − overlap, now]


def test_changed_comment_counter_rereads_that_post_only(
    make_source: Callable[..., VkSource], world: World
) -> None:
    state = SourceState(name="vk")
    run(make_source(), state)
    from tests.crawlers.vk.fake_vk import vk_comment

    world.add_comments(ADMIN, THREAD_POST, [vk_comment(ADMIN, THREAD_POST, 905, NOW_TS - 5, "Новый вопрос")])
    items = items_of(run(make_source(), state))
    assert {i["id"] for i in items if i["_kind"] == "comment"} == {901, 902, 903, 904, 905}
    assert {i["_post_id"] for i in items if i["_kind"] == "comment"} == {THREAD_POST}


def test_search_window_over_the_cap_is_split(make_source: Callable[..., VkSource], world: World) -> None:
    world.search = [
        vk_post(200000 + i, 1, NOW_TS - 10 - i * 4, f"Тестовск новости {i}", from_id=200000 + i)
        for i in range(1500)
    ]
    state = SourceState(name="vk", cursor={"search": {"Тестовск": NOW_TS - 2 * 3600}})
    source = make_source(search_overlap_s=0)
    items = [i for i in items_of(run(source, state)) if i["_relevance"].startswith("keyword")]
    assert len(items) == 1500
    assert len({i["owner_id"] for i in items}) == 1500  # no duplicates, no gaps
    windows = {(int(p["start_time"]), int(p["end_time"])) for p in world.calls("newsfeed.search")}
    assert (NOW_TS - 7200, NOW_TS) in windows  # asked once, answered "1,500 found": split
    assert (NOW_TS - 7200, NOW_TS - 3600) in windows and (NOW_TS - 3600, NOW_TS) in windows
    assert state.cursor["search"]["Тестовск"] == NOW_TS


def test_cap_without_total_count_is_detected_by_paging(
    make_source: Callable[..., VkSource], world: World
) -> None:
    world.report_total = False  # an answer without total_count: the cap shows as 1,000 read and more to go
    world.search = [vk_post(200000 + i, 1, NOW_TS - 10 - i * 4, f"Тестовск {i}") for i in range(1200)]
    state = SourceState(name="vk", cursor={"search": {"Тестовск": NOW_TS - 2 * 3600}})
    items = [i for i in items_of(run(make_source(search_overlap_s=0), state)) if i["_relevance"] != "source"]
    assert len({i["owner_id"] for i in items}) == 1200


def test_recorded_search_result_is_kept_by_its_geotag_only_inside_the_boundary(
    make_source: Callable[..., VkSource], world: World
) -> None:
    from tests.crawlers.vk.fake_vk import load_fixture

    recorded = load_fixture("NewsFeed/Search_Coordinates_Exception.json")["response"]["items"][0]
    inside = dict(recorded, id=1, date=NOW_TS - 100, text=recorded["text"] + " Тестовск?")
    inside["text"] = "Фото дня &#128247;"
    inside["geo"] = dict(recorded["geo"], coordinates="55.1 37.1")
    world.search = [dict(recorded, date=NOW_TS - 50), inside]
    source = make_source()
    source.keywords = ["Фото"]  # the search finds both; only the geotag tells them apart
    state = SourceState(name="vk", cursor={"search": {"Фото": NOW_TS - 3600}})
    items = [
        i
        for i in items_of(run(source, state))
        if i["_kind"] == "post" and i["owner_id"] == recorded["owner_id"]
    ]
    assert [(i["id"], i["_relevance"]) for i in items] == [(1, "geo:testovsk")]


def test_official_pages_metadata(make_source: Callable[..., VkSource]) -> None:
    pages = make_source().fetch_pages()
    assert len(pages) == 1
    page = pages[0]
    assert page.id == "vk-adm"
    assert page.followers == 21873
    assert page.verified is True
    assert page.description is not None and page.description.startswith("Официальная страница")
    assert "<br>" not in page.description and "📞" in page.description
    assert page.contacts == (
        "Приёмная: +7 (800) 000-00-01, adm@testovsk.example; Пресс-служба: press@testovsk.example; "
        "https://adm.testovsk.example"
    )


def test_backfill_limits_the_first_run(make_source: Callable[..., VkSource]) -> None:
    items = items_of(run(make_source(backfill_hours=1), SourceState(name="vk")))
    admin = [
        i for i in items if i["_kind"] == "post" and i["owner_id"] == ADMIN and i["_relevance"] == "source"
    ]
    assert {i["id"] for i in admin} == {5118, 5119, 5120}  # posts every 20 min: the last hour only
    assert all(i["date"] >= NOW_TS - int(timedelta(hours=1).total_seconds()) for i in admin)


def test_walls_and_keywords_take_turns_within_daily_quotas(
    make_source: Callable[..., VkSource], world: World
) -> None:
    # 3 wall.get a day at one run a day: 2 per run — the official page and one community in turn.
    state = SourceState(name="vk")
    read: list[set[int]] = []
    asked: list[list[str]] = []
    for _ in range(4):
        before = len(world.log)
        source = make_source(poll_interval_s=86_400, wall_daily_quota=3, search_daily_quota=1)
        source.keywords = ["Тестовск", "Заречье"]
        run(source, state)
        calls = world.log[before:]
        read.append(
            {c["owner_id"] for _, m, p in calls if m == "execute" for c in _all_wall_calls(p["code"])}
        )
        asked.append([p["q"] for _, m, p in calls if m == "newsfeed.search"])
    assert read == [{ADMIN, PODSL}, {ADMIN, CLUB}, {ADMIN, -218430999}, {ADMIN, PODSL}]
    assert [a[0] for a in asked] == ["Тестовск", "Заречье", "Тестовск", "Заречье"]


def _all_wall_calls(code: str) -> list[dict[str, Any]]:
    import json
    import re

    return [json.loads(args) for args in re.findall(r"API\.wall\.get\((\{.*?\})\)", code)]
