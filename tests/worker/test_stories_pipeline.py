"""Резонанс over a real store: a story spreading across networks is alerted once; one that is already an
alerted spike, or another telling of an alerted event, is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from index.models import AlertKind, Metrics, Post, Tone
from index.profile import Profile
from index.sqlite import SqliteStore
from index.store import AlertQuery, Page, PostQuery
from infopole.settings import Settings
from risk.spikes import EpisodeMark
from risk.stories import WINDOW_HOURS as STORY_WINDOW_HOURS
from risk.understand import Understander
from tests.factories import make_post
from worker.pipeline import detect_stories
from worker.runtime import Runtime

NOW = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    store = SqliteStore(tmp_path / "stories.sqlite3")
    yield Runtime(
        Settings(env="development"), store, Profile(name="Тестовск"), cast(Understander, None), lambda: NOW
    )
    store.close()


def story(
    story_id: str, n: int, *, sector: str = "Экология", territory: str | None = None, **extra: Any
) -> list[Post]:
    """Return `n` posts of one story in the last two hours, over VK, Telegram and OK and many threads."""
    out = []
    for i in range(n):
        values: dict[str, Any] = {
            "id": f"{story_id}:{i}",
            "story_id": story_id,
            "source": ("vk", "tg", "ok")[i % 3],
            "author_id": f"{story_id}-a{i}",
            "thread_id": f"{story_id}-t{i % 5}",
            "published_at": NOW - timedelta(minutes=120 - 8 * i),
            "sector": sector,
            "territory": territory,
            "tone": Tone.negative,
            "metrics": Metrics(views=500),
            "text": f"В реку сливают что-то с пеной, рыба дохнет ({i})",
        }
        values.update(extra)
        out.append(make_post(**values))
    return out


def run(rt: Runtime, posts: list[Post], marks: list[EpisodeMark] | None = None) -> list[Any]:
    rt.store.upsert_posts(posts)
    return [
        a for a in detect_stories(rt, posts, NOW, marks or []) if rt.store.add_alert(a)
    ]  # as the pipeline


def test_a_spreading_story_is_alerted_once(rt: Runtime) -> None:
    posts = story("river", 12)
    (alert,) = run(rt, posts)
    assert alert.kind == AlertKind.story and alert.sector == "Экология"
    assert alert.title.startswith("Резонанс: «В реку сливают что-то с пеной, рыба дохнет (0)» — 12 сообщений")
    assert alert.details["story_id"] == "river" and alert.details["authors"] == 12
    more = story("river", 14)[12:]
    assert run(rt, more) == []  # the same story: its alert is stored once (one id per story)
    assert rt.store.query_alerts(AlertQuery(kind=[AlertKind.story])).total == 1
    # Another story about the same sector and place within hours is the same event.
    assert run(rt, story("river-2", 12)) == []


def test_a_story_that_is_an_alerted_spike_is_not_told_twice(rt: Runtime) -> None:
    posts = story("smoke", 12, sector="Экология", territory="sever")
    spike = EpisodeMark("Экология", "sever", start=NOW - timedelta(hours=2), hour=NOW - timedelta(hours=2))
    assert run(rt, posts, [spike]) == []
    # Without the spike it would have been one.
    assert len(run(rt, story("smoke-b", 12, sector="Экология", territory="sever"))) == 1


def test_a_growing_story_is_counted_from_the_last_run_and_read_when_grown_by_half(rt: Runtime) -> None:
    posts = story("quiet", 15, source="vk", author_id="one", thread_id="quiet-t")  # cannot resonate
    counted: list[PostQuery] = []
    read: list[PostQuery] = []
    count_posts, query_posts = rt.store.count_posts, rt.store.query_posts

    def counting(query: PostQuery) -> int:
        counted.append(query)
        return count_posts(query)

    def reading(query: PostQuery) -> Page[Post]:
        read.append(query)
        return query_posts(query)

    rt.store.count_posts = counting  # type: ignore[method-assign]
    rt.store.query_posts = reading  # type: ignore[method-assign]
    assert run(rt, posts[:10]) == []
    # First sight: the whole latest window is counted (10 ≥ MIN_POSTS), and the story is read.
    assert [q.since for q in counted] == [posts[9].published_at - timedelta(hours=STORY_WINDOW_HOURS)]
    assert len(read) == 1
    for i in range(10, 15):
        counted.clear()
        read.clear()
        assert run(rt, [posts[i]]) == []
        # Only what was published since the previous run is counted.
        assert [q.since for q in counted] == [posts[i - 1].published_at + timedelta(microseconds=1)]
        # Read again once grown by half (10 → 15), not before.
        assert len(read) == (1 if i == 14 else 0), i
