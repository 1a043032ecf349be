"""The standard test municipality (Тестовск) and its VK world: walls, comments, search results."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from index.models import OfficialPage
from index.profile import Profile, SourceList, Territory
from tests.crawlers.vk.fake_vk import Group, World, load_fixture, vk_comment, vk_post

#: "Now" of every VK test: Wednesday 2024-03-06 10:00 UTC.
NOW = datetime(2024, 3, 6, 10, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())

ADMIN = -218430001  # the official page (vk-adm)
PODSL = -218430777  # «Подслушано Тестовск», listed by screen name
CLUB = -218430555  # a district community, listed as club218430555
PRIVATE = -218430999  # a private community: wall.get answers 30

#: Posts on the official wall inside the 48 h backfill (every 20 min), and the ids of special ones.
ADMIN_RECENT = 120
FIRST_RECENT_ID = 5001
THREAD_POST = 5110  # the handwritten comment thread, re-homed here
LONG_THREAD_POST = 5111  # 25 comments, one thread of 15 replies (beyond thread_items_count)
DELETED_POST = 5112  # its comments answer 15: the post was deleted
SEARCH_RELEVANT = 450
SEARCH_IRRELEVANT = 20


def ts(delta: timedelta) -> int:
    """Return NOW + delta as unix seconds."""
    return int((NOW + delta).timestamp())


def build_profile() -> Profile:
    """Return the Тестовск profile: an official VK page, three communities, keywords, streets."""
    box = [[37.0, 55.0], [37.2, 55.0], [37.2, 55.2], [37.0, 55.2], [37.0, 55.0]]
    return Profile(
        name="город Тестовск",
        keywords=["Тестовск"],
        territories=[
            Territory(
                id="testovsk",
                name="город Тестовск",
                level="municipality",
                aliases=["Тестовск"],
                boundary={"type": "Polygon", "coordinates": [box]},
                children=[
                    Territory(
                        id="centr",
                        name="Центральный район",
                        aliases=["центр"],
                        streets=["Ленина", "Мира", "Садовая"],
                    ),
                    Territory(id="zarechye", name="Заречье", streets=["Речная"]),
                ],
            )
        ],
        pages=[
            OfficialPage(
                id="vk-adm",
                network="vk",
                name="Администрация города Тестовска",
                url="https://vk.com/testovsk_adm",
                owner_id=str(ADMIN),
            )
        ],
        sources=SourceList(
            vk_communities=["podslushano_testovsk", "club218430555", "https://vk.com/club218430999"]
        ),
    )


def _rehome(raw: dict[str, Any], owner: int, pid: int, date: int) -> dict[str, Any]:
    """Return a recorded post moved to another wall (its attachments and reposts kept)."""
    post = copy.deepcopy(raw)
    if post.get("from_id") == post.get("owner_id"):
        post["from_id"] = owner
    post.update({"owner_id": owner, "id": pid, "date": date})
    return post


def build_world() -> World:
    """Return the standard world (see the constants above)."""
    world = World()
    handwritten = load_fixture("handwritten/groups_getById.json")["response"]["groups"]
    admin, podsl = handwritten
    world.groups = [
        Group(
            admin["id"],
            admin["name"],
            admin["screen_name"],
            admin["members_count"],
            1,
            admin["description"],
            {k: admin[k] for k in ("site", "status", "contacts")},
        ),
        Group(podsl["id"], podsl["name"], podsl["screen_name"], podsl["members_count"]),
        Group(-CLUB, "Центральный район Тестовска", "club218430555", 3000),
        Group(-PRIVATE, "Закрытый клуб", "club218430999", 10),
    ]
    # The official wall: 120 posts in the last 40 h, 10 older ones, one old pinned post.
    recent = [
        vk_post(ADMIN, FIRST_RECENT_ID + i, NOW_TS - (ADMIN_RECENT - i) * 1200, f"Новость администрации №{i}")
        for i in range(ADMIN_RECENT)
    ]
    older = [
        vk_post(ADMIN, 4990 + i, ts(-timedelta(days=4, hours=i)), f"Старая новость {i}") for i in range(10)
    ]
    pinned = vk_post(ADMIN, 4000, ts(-timedelta(days=10)), "Закреплённая запись", is_pinned=1)
    world.add_wall(ADMIN, [*recent, *older, pinned])
    thread = copy.deepcopy(load_fixture("handwritten/wall_getComments_thread.json")["response"]["items"])
    for comment in thread:
        for item in [comment, *comment["thread"]["items"]]:
            item["post_id"] = THREAD_POST
    world.add_comments(ADMIN, THREAD_POST, thread)
    long_thread = [
        vk_comment(
            ADMIN, LONG_THREAD_POST, 1000 + i, NOW_TS - 3600 + i * 60, f"Комментарий {i} про улицу Ленина"
        )
        for i in range(10)
    ]
    replies = [
        vk_comment(
            ADMIN,
            LONG_THREAD_POST,
            2000 + i,
            NOW_TS - 1800 + i * 30,
            f"Ответ {i}",
            parents_stack=[1000],
            reply_to_comment=1000,
        )
        for i in range(15)
    ]
    long_thread[0]["thread"] = {"count": 15, "items": replies}
    world.add_comments(ADMIN, LONG_THREAD_POST, long_thread)
    world.add_comments(
        ADMIN, DELETED_POST, [vk_comment(ADMIN, DELETED_POST, 3000 + i, NOW_TS - 600, "x") for i in range(3)]
    )
    world.deleted_posts.add((ADMIN, DELETED_POST))
    # «Подслушано»: recorded posts (a repost, a poll, an article) moved onto its wall, and a citizen's post.
    repost = load_fixture("Wall/Get_With_PhotoListAttachment.json")["response"]["items"][0]
    poll = load_fixture("Wall/Get_WithPoll_NormalCase.json")["response"]["items"][0]
    article = load_fixture("Wall/ArticleAttachement.json")["response"]["items"][0]
    world.add_wall(
        PODSL,
        [
            _rehome(repost, PODSL, 801, ts(-timedelta(hours=5))),
            _rehome(poll, PODSL, 802, ts(-timedelta(hours=4))),
            _rehome(article, PODSL, 803, ts(-timedelta(hours=3))),
            vk_post(
                PODSL,
                804,
                ts(-timedelta(hours=2)),
                "Опять прорвало трубу на улице Садовой &#128545;",
                from_id=700555,
            ),
        ],
    )
    world.add_wall(
        CLUB,
        [
            vk_post(CLUB, 11, ts(-timedelta(hours=6)), "Субботник в Заречье"),
            vk_post(CLUB, 12, ts(-timedelta(hours=1)), "Собрание жильцов"),
        ],
    )
    world.wall_errors[PRIVATE] = 30
    # Search: relevant posts of other walls, noise that only looks alike, and one post of the official wall.
    for i in range(SEARCH_RELEVANT):
        world.search.append(
            vk_post(
                100000 + i,
                1,
                NOW_TS - 60 - i * 150,
                f"В Тестовске опять пробки, запись {i}",
                from_id=100000 + i,
            )
        )
    for i in range(SEARCH_IRRELEVANT):
        world.search.append(vk_post(-(300000 + i), 7, NOW_TS - 90 - i * 200, f"Тестовская порода собак №{i}"))
    world.search.append(recent[-1])
    return world
