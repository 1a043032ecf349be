"""Benchmark the collectors: VK mapping throughput, and the polling plan of a realistic profile.

1. Mapping: recorded VK posts (tests/fixtures/vk, real API answers) and comments, replicated with
   fresh ids to `--items` objects, mapped to Posts by `crawlers.vk.mapping.map_vk_item`; the best of
   `--runs` runs, in posts per second of one process (target: 5,000).
2. Polling plan: the real VkSource against the loopback VK server (tests/crawlers/vk/fake_vk.py) for
   a profile of `--communities` local communities, 5 official pages and 10 keywords, each community
   posting 8 times a day with comments. A first run (48 h backfill) and then steady runs every
   `--interval` seconds of new posts and comments; the HTTP requests and API calls of a steady run are
   counted and set against VK's limits: 3 requests/s per user token and the daily per-method quotas
   (wall.get 5,000, newsfeed.search 1,000 — VK's documented limits, not checkable offline).
   Telegram (100 channels + their discussion chats) and OK are planned by arithmetic: one history
   request per chat per poll.

Usage: .venv/bin/python bench/collect.py [--items 20000] [--runs 3] [--communities 300] [--interval 600]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vk"
RECORDED = [
    "Wall/Get_With_PhotoListAttachment.json",
    "Wall/Get_WithPoll_NormalCase.json",
    "Wall/ArticleAttachement.json",
    "Wall/Get_ExtendedVersion_GenerateOutParametersCorrectly.json",
    "NewsFeed/Search_NextFrom_NotNull.json",
    "NewsFeed/Search_Coordinates_Exception.json",
]
#: Mapping target of the issue (VK posts per second per process).
TARGET_POSTS_PER_S = 5000
USER_TOKEN_RPS = 3.0
TELEGRAM_SAFE_RPS = 1.0  # unpublished; a sustained pace that keeps a user session clear of FLOOD_WAIT


def recorded_items() -> list[dict[str, Any]]:
    """Return the recorded posts and comments as the collector annotates them."""
    items: list[dict[str, Any]] = []
    for name in RECORDED:
        data = json.loads((FIXTURES / name).read_text(encoding="utf-8-sig"))
        items += [dict(p, _kind="post", _relevance="source") for p in data["response"]["items"]]
    thread = json.loads(
        (FIXTURES / "handwritten" / "wall_getComments_thread.json").read_text(encoding="utf-8")
    )
    for comment in thread["response"]["items"]:
        for raw in [comment, *comment["thread"]["items"]]:
            items.append(dict(raw, _kind="comment", _owner_id=-218430001, _post_id=5001, _page_id="vk-adm"))
    return items


def mapping_rate(total: int, runs: int) -> tuple[float, int]:
    """Return the best posts/s of mapping `total` objects, and how many were comments."""
    from crawlers.vk.mapping import map_vk_item

    base = recorded_items()
    items = []
    for i in range(total):
        raw = copy.deepcopy(base[i % len(base)])
        raw["id"] = 10_000_000 + i
        items.append(raw)
    key = b"bench-key"
    best = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        for raw in items:
            map_vk_item(raw, key)
        best = max(best, total / (time.perf_counter() - started))
    return best, sum(1 for i in items if i["_kind"] == "comment")


def plan_world(communities: int) -> Any:
    """Return a loopback world: 5 official pages and `communities` walls with 3 days of posts."""
    from tests.crawlers.vk.fake_vk import Group, World, vk_comment, vk_post
    from tests.crawlers.vk.world import NOW_TS

    world = World()
    owners = [-(500_000 + i) for i in range(5 + communities)]
    for index, owner in enumerate(owners):
        world.groups.append(Group(-owner, f"Сообщество {index}", f"club{-owner}", 10_000))
        posts = []
        for k in range(24):  # 8 a day for 3 days
            pid = 1000 + k
            date = NOW_TS - (24 - k) * 3 * 3600 + index % 60
            posts.append(vk_post(owner, pid, date, f"Запись {k} сообщества {index}"))
        world.add_wall(owner, posts)
        for k in range(18, 24):  # the last two days' posts have comments
            world.add_comments(
                owner,
                1000 + k,
                [vk_comment(owner, 1000 + k, 10 * k + c, NOW_TS - 600, "Комментарий") for c in range(4)],
            )
    for i in range(400):  # a day of keyword mentions from other walls
        world.search.append(vk_post(900_000 + i, 1, NOW_TS - i * 216, f"Новости Тестовска №{i}"))
    return world, owners


def advance(world: Any, owners: list[int], now_ts: int, interval_s: int, step: int) -> None:
    """Add one interval of activity: new posts on a share of walls, new comments, new mentions."""
    from tests.crawlers.vk.fake_vk import vk_comment, vk_post

    posts_per_interval = max(1, round(len(owners) * 8 * interval_s / 86_400))
    for j in range(posts_per_interval):
        owner = owners[(step * posts_per_interval + j) % len(owners)]
        pid = 5000 + step * 100 + j
        world.add_wall(owner, [vk_post(owner, pid, now_ts - j, "Новая запись")])
    for j, owner in enumerate(owners[: max(1, len(owners) // 5)]):  # a fifth of walls get a comment
        pid = 1023
        world.add_comments(
            owner, pid, [vk_comment(owner, pid, 100_000 + step * 1000 + j, now_ts - 5, "Новый")]
        )
    for j in range(max(1, round(400 * interval_s / 86_400))):
        world.search.append(vk_post(950_000 + step * 100 + j, 1, now_ts - j * 7, "Тестовск: новое"))


def polling_plan(communities: int, interval_s: int, steady_runs: int) -> dict[str, Any]:
    """Run the real VK source over the loopback world; return requests and calls per steady run."""
    from crawlers.ratelimit import LocalRateLimiter
    from crawlers.vk.client import VkClient
    from crawlers.vk.source import VkOptions, VkSource
    from index.models import OfficialPage, SourceState
    from index.profile import Profile, SourceList
    from tests.crawlers.vk.fake_vk import FakeVkServer, mount
    from tests.crawlers.vk.world import NOW

    world, owners = plan_world(communities)
    profile = Profile(
        name="Тестовск",
        keywords=["Тестовск", *[f"ключ{i}" for i in range(9)]],
        pages=[
            OfficialPage(
                id=f"vk-{i}", network="vk", name=f"Страница {i}", url="https://vk.com/x", owner_id=str(o)
            )
            for i, o in enumerate(owners[:5])
        ],
        sources=SourceList(vk_communities=[f"club{-o}" for o in owners[5:]]),
    )
    state = SourceState(name="vk")
    steady: list[Counter[str]] = []
    with FakeVkServer(world) as server:
        for step in range(steady_runs + 1):
            now = NOW + timedelta(seconds=interval_s * step)
            if step:
                advance(world, owners, int(now.timestamp()), interval_s, step)
            client = VkClient("good-token", LocalRateLimiter(10_000), session=mount(server.url))
            options = VkOptions(poll_interval_s=interval_s)
            source = VkSource(client, profile, options, clock=_fixed(now))
            before = len(world.log)
            source.fetch_pages()  # collect_once refreshes the official pages' metadata every run
            batches = list(source.poll(state))
            state.cursor = batches[-1].cursor
            counts: Counter[str] = Counter()
            for _, method, params in world.log[before:]:
                counts[f"http:{method}"] += 1
                if method == "execute":
                    for call in _calls(params["code"]):
                        counts[call] += 1
                else:
                    counts[method] += 1
            counts["items"] = sum(len(b.items) for b in batches)
            if step:
                steady.append(counts)
    mean = {k: sum(c[k] for c in steady) / len(steady) for k in set().union(*steady)}
    return {"per_run": mean, "owners": len(owners)}


def _fixed(moment: datetime) -> Callable[[], datetime]:
    """Return a clock stopped at `moment`."""
    return lambda: moment


def _calls(code: str) -> list[str]:
    import re

    return re.findall(r"API\.([A-Za-z]+\.[A-Za-z]+)\(", code)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--communities", type=int, default=300)
    parser.add_argument("--interval", type=int, default=600, help="VK poll interval (s)")
    parser.add_argument("--steady-runs", type=int, default=6)
    parser.add_argument("--telegram-channels", type=int, default=100)
    parser.add_argument("--telegram-interval", type=int, default=300)
    args = parser.parse_args()

    rate, comments = mapping_rate(args.items, args.runs)
    verdict = "OK" if rate >= TARGET_POSTS_PER_S else "BELOW TARGET"
    print(
        f"VK mapping: {rate:,.0f} objects/s ({args.items:,} objects, {comments:,} of them comments), "
        f"target {TARGET_POSTS_PER_S:,} — {verdict}"
    )

    plan = polling_plan(args.communities, args.interval, args.steady_runs)
    per_run = plan["per_run"]
    http = sum(v for k, v in per_run.items() if k.startswith("http:"))
    runs_per_day = 86_400 / args.interval
    busy = http / USER_TOKEN_RPS
    print(
        f"\nVK polling plan: {plan['owners']} walls (5 official pages + {args.communities} communities), "
        f"10 keywords, a run every {args.interval} s ({runs_per_day:.0f} runs a day)"
    )
    by_method = ", ".join(f"{k[5:]} {v:.1f}" for k, v in sorted(per_run.items()) if k.startswith("http:"))
    print(f"  per steady run: {http:.1f} HTTP requests ({by_method}); {per_run.get('items', 0):.0f} items")
    print(
        f"  time at {USER_TOKEN_RPS:.0f} req/s: {busy:.1f} s of the {args.interval} s interval "
        f"({100 * busy / args.interval:.1f} % of the token's request budget)"
    )
    quotas = {"wall.get": 5000, "newsfeed.search": 1000}
    for method in ("wall.get", "wall.getComments", "newsfeed.search", "groups.getById"):
        daily = per_run.get(method, 0) * runs_per_day
        quota = quotas.get(method)
        note = f" of {quota:,} ({100 * daily / quota:.0f} %)" if quota else " (no published daily quota)"
        print(f"  {method}: {per_run.get(method, 0):.1f} calls a run, {daily:,.0f} a day{note}")
    walls_per_run = per_run.get("wall.get", 0) - 5
    if walls_per_run > 0:
        cycle = math.ceil(args.communities / walls_per_run) * args.interval
        print(
            f"  official pages: every run ({args.interval // 60} min); each community: every "
            f"{cycle / 60:.0f} min (walls take turns within wall.get's quota); keywords: "
            f"{per_run.get('newsfeed.search', 0):.1f} searches a run"
        )
    fits = busy < args.interval and all(per_run.get(m, 0) * runs_per_day <= q for m, q in quotas.items())
    print(f"  fits VK limits: {'yes' if fits else 'NO'}")

    chats = args.telegram_channels * 13 // 10  # channels plus ~30 % with a linked discussion chat
    tg_rate = chats / args.telegram_interval
    print(
        f"\nTelegram plan: {args.telegram_channels} channels + their discussion chats ≈ {chats} chats, "
        f"one history request each every {args.telegram_interval} s = {tg_rate:.2f} req/s "
        f"(under {TELEGRAM_SAFE_RPS:.0f} req/s per session: {'yes' if tg_rate < TELEGRAM_SAFE_RPS else 'NO'})"
    )
    print("OK plan: 5 groups every 900 s: 5 mediatopic.getTopics + discussions.getComments of changed topics")


if __name__ == "__main__":
    main()
