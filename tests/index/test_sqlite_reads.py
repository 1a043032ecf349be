"""Post pages in SQLite: totals from the rollups and both full-text plans agree with a plain count."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from index.models import Post
from index.sqlite import SqliteStore
from index.sqlite_reads import read_along_time, walk_rows
from index.store import PostQuery
from tests.factories import BASE_TIME, make_post

SECTORS = ("жкх", "дороги", None)
TERRITORIES = ("centr", "sever", None)
SOURCES = ("vk", "tg")
WORDS = ("вода", "дорога", "свет", "мусор", "школа")


def _posts(n: int, seed: int) -> list[Post]:
    """Return `n` posts over three days at odd minutes, with common and rare words."""
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        words = rng.sample(WORDS, 2) + (["редкость"] if i % 40 == 0 else [])
        posts.append(
            make_post(
                id=f"rd:{i:05d}",
                published_at=BASE_TIME + timedelta(seconds=rng.randint(0, 3 * 86400)),
                sector=rng.choice(SECTORS),
                territory=rng.choice(TERRITORIES),
                source=rng.choice(SOURCES),
                text=" ".join(words),
                lemmas=" ".join(words),
            )
        )
    return posts


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    """Return a store of 600 posts (one of them forgotten later, so the rollups have moved)."""
    path: Path = tmp_path_factory.mktemp("reads") / "reads.sqlite3"
    store = SqliteStore(path)
    posts = _posts(600, seed=3)
    store.upsert_posts(posts)
    store.delete_posts_before(min(p.published_at for p in posts) + timedelta(minutes=30))
    return store


def _plain_count(store: SqliteStore, query: PostQuery) -> int:
    """Return the number of matching posts by a plain SQL count over the posts table."""
    where, params = store._post_filter(query)
    with sqlite3.connect(store.path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM posts{where}", params).fetchone()[0])


def test_totals_match_a_plain_count_for_any_period_and_slice(store: SqliteStore) -> None:
    rng = random.Random(11)
    checked = 0
    for _ in range(120):
        since = BASE_TIME + timedelta(seconds=rng.randint(-3600, 3 * 86400)) if rng.random() < 0.8 else None
        span = timedelta(seconds=rng.choice([600, 3600, 7200, 40000, 200000]))
        until = (since or BASE_TIME) + span if rng.random() < 0.7 else None
        query = PostQuery(
            since=since,
            until=until,
            sector=rng.choice((*SECTORS, None)),
            territory=rng.choice((*TERRITORIES, None)),
            source=rng.choice((*SOURCES, None)),
            text=rng.choice((None, None, "вода", "вода свет", "редкость")),
            limit=5,
        )
        expected = _plain_count(store, query)
        assert store.query_posts(query).total == expected, query
        checked += expected > 0
    assert checked > 40  # most queries matched something


def test_whole_store_total_is_every_post(store: SqliteStore) -> None:
    assert store.query_posts(PostQuery(limit=1)).total == _plain_count(store, PostQuery())


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("text", ["вода", "вода дорога", "редкость"])
def test_full_text_pages_are_the_same_whichever_plan_reads_them(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, text: str, newest_first: bool
) -> None:
    pages = {}
    for along_time in (True, False):
        monkeypatch.setattr("index.sqlite.read_along_time", lambda *_, chosen=along_time: chosen)
        pages[along_time] = [
            [
                p.id
                for p in store.query_posts(
                    PostQuery(text=text, limit=7, offset=o, newest_first=newest_first)
                ).items
            ]
            for o in (0, 7, 50)
        ]
    assert pages[True] == pages[False]
    assert pages[True][0]


def test_common_words_are_read_along_time_and_rare_ones_sorted() -> None:
    assert read_along_time(matches=260_000, wanted=50, posts=1_000_000)
    assert not read_along_time(matches=1_000, wanted=50, posts=1_000_000)
    assert not read_along_time(matches=0, wanted=50, posts=10)


@pytest.mark.parametrize("walked", [10, 40, 2_000])
@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("text", ["вода", "вода дорога", "редкость"])
def test_capped_full_text_pages_equal_the_exact_ones(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, text: str, newest_first: bool, walked: int
) -> None:
    # A short walk along time finds no page of a rare word and falls back to sorting its matches.
    monkeypatch.setattr("index.sqlite.walk_rows", lambda *_: walked)
    for offset, sector in ((0, None), (7, None), (50, None), (0, "жкх"), (3, "дороги")):
        query = PostQuery(text=text, sector=sector, limit=7, offset=offset, newest_first=newest_first)
        exact = store.query_posts(query)
        capped = store.query_posts(replace(query, total_cap=4))
        assert [p.id for p in capped.items] == [p.id for p in exact.items]
        assert capped.total_exact == (exact.total <= 4)
        assert capped.total == min(exact.total, 4)
        assert exact.total_exact and exact.total == _plain_count(store, query)


def test_walk_rows_grow_with_the_page_and_the_store_and_shrink_with_the_cap() -> None:
    assert walk_rows(wanted=50, cap=10_000, posts=1_000_000) == 20_000
    assert walk_rows(wanted=50, cap=10_000, posts=10_000) == 2_000  # the floor
    assert walk_rows(wanted=500, cap=10_000, posts=1_000_000) > walk_rows(
        wanted=50, cap=10_000, posts=1_000_000
    )


def _segments(store: SqliteStore) -> int:
    with sqlite3.connect(store.path) as conn:
        return int(conn.execute("SELECT count(DISTINCT segid) FROM posts_fts_idx").fetchone()[0])


def test_merging_the_full_text_index_keeps_every_answer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "merge.sqlite3")
    posts = _posts(400, seed=5)
    for i in range(0, len(posts), 10):  # one segment per write
        store.upsert_posts(posts[i : i + 10])
    queries = [
        PostQuery(text=t, limit=20, offset=o) for t in ("вода", "вода дорога", "редкость") for o in (0, 30)
    ]
    before = [([p.id for p in page.items], page.total) for page in map(store.query_posts, queries)]
    assert _segments(store) > 1
    assert store.merge_fulltext(pages_per_step=2) > 1  # short steps until no work is left
    assert _segments(store) == 1
    assert [([p.id for p in page.items], page.total) for page in map(store.query_posts, queries)] == before
    assert store.merge_fulltext() == 1  # nothing left to merge


def test_retention_merges_the_full_text_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "retention.sqlite3")
    posts = _posts(200, seed=6)
    for i in range(0, len(posts), 10):
        store.upsert_posts(posts[i : i + 10])
    cutoff = min(p.published_at for p in posts) + timedelta(days=1)
    kept = sorted(p.id for p in posts if p.published_at >= cutoff and "вода" in p.lemmas.split())
    assert store.delete_posts_before(cutoff) == sum(p.published_at < cutoff for p in posts)
    assert _segments(store) == 1
    assert sorted(p.id for p in store.query_posts(PostQuery(text="вода", limit=200)).items) == kept
