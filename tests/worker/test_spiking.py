"""Spike detection over a real store: one alert per episode whichever series fires, discussions are not
spikes, and every alert explains itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from index.models import Post
from index.profile import Profile, Territory
from index.sqlite import SqliteStore
from infopole.settings import Settings
from risk.spikes import EpisodeMark
from risk.understand import Understander
from tests.factories import make_post
from worker.runtime import Runtime
from worker.spiking import detect_spikes, in_spike, mark_of, recent_marks

START = datetime(2026, 3, 2, 0, tzinfo=UTC)
BURST = START + timedelta(days=4, hours=15)  # 18:00 in Moscow


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    store = SqliteStore(tmp_path / "spikes.sqlite3")
    profile = Profile(
        name="Тестовск",
        territories=[
            Territory(
                id="city",
                name="Тестовск",
                level="municipality",
                children=[
                    Territory(id="centr", name="Центральный район"),
                    Territory(id="zav", name="Заводской район"),
                ],
            )
        ],
    )
    yield Runtime(Settings(env="development"), store, profile, cast(Understander, None), lambda: BURST)
    store.close()


_n = iter(range(1, 1_000_000))


def post(at: datetime, sector: str, territory: str | None, *, source: str = "vk", **extra: Any) -> Post:
    n = next(_n)
    values: dict[str, Any] = {
        "id": f"{source}:p{n}",
        "source": source,
        "published_at": at,
        "sector": sector,
        "topic": "Отсутствие горячей воды" if sector == "ЖКХ" else "Ямы",
        "territory": territory,
        "author_id": f"a{n}",
        "thread_id": f"{source}:p{n}",
        "text": f"Сообщение {n} о проблеме",
    }
    values.update(extra)
    return make_post(**values)


def background(rt: Runtime) -> None:
    """Store four days of ordinary traffic: ЖКХ in both districts, roads in the centre."""
    rng = np.random.default_rng(11)
    posts = []
    for h in range(24 * 4 + 15):
        at = START + timedelta(hours=h, minutes=7)
        for sector, territory, rate in (("ЖКХ", "centr", 2.0), ("ЖКХ", "zav", 0.7), ("Дороги", "centr", 1.0)):
            posts += [post(at, sector, territory) for _ in range(rng.poisson(rate))]
    rt.store.upsert_posts(posts)


def burst(at: datetime, n: int, threads: int) -> list[Post]:
    """Return `n` ЖКХ complaints in Заводской district within an hour, over `threads` threads, VK and TG."""
    out = []
    for i in range(n):
        source = "tg" if i % 3 == 0 else "vk"
        root = f"{source}:root{at.hour}-{i % threads}"
        out.append(
            post(at + timedelta(minutes=i), "ЖКХ", "zav", source=source, thread_id=root, parent_id=root)
        )
    return out


def detect(rt: Runtime, batch: list[Post], marks: list[EpisodeMark]) -> list[Any]:
    rt.store.upsert_posts(batch)
    alerts = detect_spikes(rt, batch, BURST, marks)
    for alert in alerts:
        rt.store.add_alert(alert)
    return alerts


def test_a_burst_in_a_district_is_one_alert_for_its_whole_episode(rt: Runtime) -> None:
    background(rt)
    marks: list[EpisodeMark] = []
    first = detect(rt, burst(BURST, 24, threads=6), marks)
    assert [(a.sector, a.territory) for a in first] == [("ЖКХ", "zav")]  # the sector-wide spike folds into it
    alert = first[0]
    assert alert.title.startswith("Всплеск: ЖКХ, Заводской район — 24 сообщения за час")
    details = alert.details
    assert details["observed"] == 24 and details["expected"] < 2 and details["p_value"] < 1e-6
    assert details["topics"] == [("Отсутствие горячей воды", 24)]
    assert dict(details["sources"]) == {"vk": 16, "tg": 8}
    assert details["authors"] == 24 and details["threads"] == 6 and len(details["examples"]) == 5
    assert details["episode_start"] == BURST.isoformat()
    assert len(alert.post_ids) == 24
    # The episode goes on next hour, fed by Telegram and VK: no new alert.
    assert detect(rt, burst(BURST + timedelta(hours=1), 20, threads=5), marks) == []
    # Another worker, reading the marks from the store, also sees the episode as alerted.
    stored = recent_marks(rt, BURST)
    assert [(m.sector, m.territory) for m in stored] == [("ЖКХ", "zav")]
    assert detect(rt, burst(BURST + timedelta(hours=2), 18, threads=5), stored) == []
    assert mark_of(alert) == stored[0]
    # A post of the district in that hour is in the spike; a roads post is not.
    inside = post(BURST + timedelta(hours=1, minutes=30), "ЖКХ", "zav")
    assert in_spike(inside, stored) and not in_spike(post(BURST, "Дороги", "centr"), stored)
    assert not in_spike(post(BURST + timedelta(hours=9), "ЖКХ", "zav"), stored)


def test_one_busy_discussion_is_not_a_spike(rt: Runtime) -> None:
    background(rt)
    root = "vk:hot-post"
    talk = [
        post(BURST + timedelta(minutes=i), "Дороги", "centr", thread_id=root, parent_id=root)
        for i in range(40)
    ]
    talk += [post(BURST + timedelta(minutes=50), "Дороги", "centr")]
    assert detect(rt, talk, []) == []


def test_a_city_wide_burst_is_one_sector_alert(rt: Runtime) -> None:
    background(rt)
    spread = [
        post(BURST + timedelta(minutes=i), "ЖКХ", None, source="vk", thread_id=f"vk:r{i % 8}")
        for i in range(30)
    ]
    alerts = detect(rt, spread, [])
    assert [(a.sector, a.territory) for a in alerts] == [("ЖКХ", None)]
    assert alerts[0].title.startswith("Всплеск: ЖКХ — 30 сообщений за час")
