"""Резонанс: a young story that grows fast across many authors and threads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from index.models import Metrics, Post, Tone
from risk.stories import assess_story, story_severity
from tests.factories import make_post

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def story_post(i: int, minutes_ago: float, **extra: Any) -> Post:
    """Return a citizen's post of story "s1", `minutes_ago` before NOW, by author a{i} in thread t{i % 4}."""
    values: dict[str, Any] = {
        "id": f"vk:{i}",
        "story_id": "s1",
        "author_id": f"a{i}",
        "thread_id": f"t{i % 4}",
        "published_at": NOW - timedelta(minutes=minutes_ago),
        "tone": Tone.negative,
        "sector": "ЖКХ",
        "territory": "centr",
        "text": f"Прорвало трубу на Ленина, сообщение {i}",
        "metrics": Metrics(views=1000),
    }
    values.update(extra)
    return make_post(**values)


def growing() -> list[Post]:
    """Return 2 posts 4–5 hours ago and 14 in the last 3 hours."""
    return [story_post(i, 250 + i) for i in range(2)] + [story_post(10 + i, 5 + 10 * i) for i in range(14)]


def test_a_fast_growing_young_story_resonates() -> None:
    a = assess_story("s1", growing(), NOW)
    assert a.is_resonance
    assert (a.window_posts, a.previous_posts, a.total_posts) == (14, 2, 16)
    assert a.authors == 14 and a.threads == 4
    assert a.growth == 14 / 3
    assert a.reach == 14_000 and a.negative_share == 1.0
    assert a.first_at == NOW - timedelta(minutes=251)
    assert (a.sector, a.territory) == ("ЖКХ", "centr")
    assert a.headline == "Прорвало трубу на Ленина, сообщение 1"
    assert len(a.example_ids) == 5
    # 2 + 1.5·log2(14/10) = 2.73, + 0.15 for reach 14,000, + 2 for all negative → 5.
    assert a.severity == 5 == story_severity(14, 14_000, 1.0)


def test_what_does_not_resonate() -> None:
    posts = growing()
    # Slow: as many before as now.
    steady = posts + [story_post(40 + i, 200 + i) for i in range(12)]
    assert not assess_story("s1", steady, NOW).is_resonance
    # One busy discussion: every post in one thread.
    one_thread = [p.model_copy(update={"thread_id": "t0"}) for p in posts]
    assert not assess_story("s1", one_thread, NOW).is_resonance
    # Few people: every post by three authors.
    few = [p.model_copy(update={"author_id": f"a{i % 3}"}) for i, p in enumerate(posts)]
    assert not assess_story("s1", few, NOW).is_resonance
    # Old: the story began three days ago.
    old = [*posts, story_post(99, 3 * 24 * 60)]
    assert not assess_story("s1", old, NOW).is_resonance
    # Too small.
    assert not assess_story("s1", posts[:8], NOW).is_resonance
    # One network and little reach: a stock reply repeated under many posts, not a story spreading.
    local = [p.model_copy(update={"metrics": Metrics(views=100)}) for p in posts]
    assert not assess_story("s1", local, NOW).is_resonance
    one_elsewhere = [p.model_copy(update={"source": "tg"}) if i == 5 else p for i, p in enumerate(local)]
    assert not assess_story("s1", one_elsewhere, NOW).is_resonance
    spread = [p.model_copy(update={"source": "tg"}) if i % 2 else p for i, p in enumerate(local)]
    assert assess_story("s1", spread, NOW).is_resonance
    # The pages' own posts and posts after NOW do not count.
    official = [p.model_copy(update={"is_official": True}) for p in posts]
    assert assess_story("s1", official, NOW).window_posts == 0
    future = [p.model_copy(update={"published_at": NOW + timedelta(minutes=5)}) for p in posts]
    assert assess_story("s1", future, NOW).total_posts == 0


def test_empty_story() -> None:
    a = assess_story("s1", [], NOW)
    assert not a.is_resonance and a.first_at is None and a.headline == "" and a.severity == 1
