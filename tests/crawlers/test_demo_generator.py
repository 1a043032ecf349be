"""The generated demo stream: deterministic, realistic in shape, and its ground truth holds."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo.generator import (
    END,
    START,
    Label,
    generate,
    generate_labelled,
    post_id,
    stream_digest,
    write_demo,
)
from crawlers.demo.mapping import map_demo_item
from crawlers.demo.texts import SECTORS
from crawlers.demo.truth import GroundTruth, load_truth
from index.profile import load_profile

MSK = timedelta(hours=3)


@pytest.fixture(scope="module")
def demo() -> tuple[list[dict[str, Any]], GroundTruth, dict[str, Label]]:
    return generate_labelled(7)


@pytest.fixture(scope="module")
def by_id(demo: tuple[list[dict[str, Any]], GroundTruth, dict[str, Label]]) -> dict[str, dict[str, Any]]:
    return {post_id(item): item for item in demo[0]}


def _local(item: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(item["date"], UTC) + MSK


def test_generation_is_deterministic_fast_and_seeded(demo: Any) -> None:
    started = time.perf_counter()
    items, truth = generate(7)
    assert time.perf_counter() - started < 10.0
    assert stream_digest(items) == stream_digest(demo[0])
    assert truth == demo[1]
    other, _ = generate(8)
    assert stream_digest(other) != stream_digest(items)


def test_stream_size_span_and_order(demo: Any) -> None:
    items: list[dict[str, Any]] = demo[0]
    assert len(items) >= 20_000
    assert demo[1].count == len(items)
    dates = [i["date"] for i in items]
    assert dates == sorted(dates)
    assert START.timestamp() <= dates[0] < START.timestamp() + 6 * 3600  # a quiet Sunday night
    assert END.timestamp() - 6 * 3600 < dates[-1] < END.timestamp()
    span, start = END - START, START
    assert span == timedelta(days=14)
    assert start == datetime(2026, 10, 25, 21, tzinfo=UTC)  # 2026-10-26 00:00 Europe/Moscow
    assert len({post_id(i) for i in items}) == len(items)


def test_item_shape(demo: Any) -> None:
    keys = {
        "item_id",
        "network",
        "type",
        "date",
        "text",
        "from_id",
        "author_name",
        "owner",
        "page_id",
        "official",
        "parent_item_id",
        "thread_item_id",
        "views",
        "likes",
        "reposts",
        "comments",
        "followers",
        "url",
    }
    for item in demo[0]:
        assert keys <= set(item)
        json.dumps(item)
    counts = Counter((i["network"], i["type"]) for i in demo[0])
    for network in ("vk", "tg", "ok"):
        assert counts[(network, "post")] > 50 and counts[(network, "comment")] > 200, network
    assert counts[("web", "post")] > 50


def test_threads_are_consistent(demo: Any, by_id: dict[str, dict[str, Any]]) -> None:
    for item in demo[0]:
        prefix = f"demo:{item['network']}:"
        if item["type"] == "post":
            assert item["parent_item_id"] is None and item["thread_item_id"] == item["item_id"]
            continue
        parent = by_id[prefix + item["parent_item_id"]]
        root = by_id[prefix + item["thread_item_id"]]
        assert parent["date"] <= item["date"] and root["type"] == "post"
        assert root["owner"] == item["owner"] and root["page_id"] == item["page_id"]
    comments = Counter(
        f"demo:{i['network']}:{i['thread_item_id']}" for i in demo[0] if i["type"] == "comment"
    )
    for pid, count in comments.items():
        assert by_id[pid]["comments"] == count


def test_every_item_maps_to_a_valid_post(demo: Any) -> None:
    profile = load_profile(DEMO_PROFILE_PATH)
    pages = {p.id for p in profile.pages}
    for item in demo[0]:
        post = map_demo_item(item, b"k")
        assert post.id == post_id(item)
        assert post.page_id is None or post.page_id in pages
        assert post.published_at.timestamp() == item["date"]


def test_official_pages_post_and_one_lags(demo: Any) -> None:
    posts = Counter(i["page_id"] for i in demo[0] if i["type"] == "post" and i["official"])
    assert posts["vk-admin"] >= 40 and posts["tg-admin"] >= 20 and posts["ok-admin"] >= 10
    assert posts["vk-severny"] == 1  # a визитка that fell silent after the first week
    assert posts["ok-berezovka"] == 0
    official_comments = [i for i in demo[0] if i["type"] == "comment" and i["official"]]
    assert len(official_comments) > 50


def test_all_sectors_with_a_realistic_mix(demo: Any) -> None:
    sectors = Counter(label.sector for label in demo[2].values() if label.sector)
    assert set(sectors) == set(SECTORS)
    total = sum(sectors.values())
    for frequent in ("ЖКХ", "Благоустройство", "Дороги", "Мусор/Свалки/ТКО", "Общественный транспорт"):
        assert sectors[frequent] / total > 0.05, frequent
    for rare in ("Погребение и похоронное дело", "Мобилизация"):
        assert 0 < sectors[rare] / total < 0.01, rare
    kinds = Counter(label.kind for label in demo[2].values())
    assert {"complaint", "question", "suggestion", "gratitude", "information"} <= set(kinds)


def test_diurnal_and_weekly_rhythm(demo: Any) -> None:
    hours = Counter(_local(i).hour for i in demo[0])
    night = (hours[3] + hours[4]) / 2
    assert night < 0.1 * (hours[9] + hours[20]) / 2
    assert hours[9] > hours[14] and hours[20] > hours[15]
    days = Counter(_local(i).date() for i in demo[0] if i["type"] == "post" and i["official"])
    weekdays = [n for d, n in days.items() if d.weekday() < 5 and d.day != 4]
    weekends = [n for d, n in days.items() if d.weekday() >= 5]
    assert sum(weekends) / len(weekends) < 0.6 * sum(weekdays) / len(weekdays)


def test_volume_follows_population_and_the_village_is_quiet(demo: Any) -> None:
    places = Counter(label.territory for label in demo[2].values() if label.territory)
    assert places["d-central"] > places["d-prirechny"] > places["s-berezovka"] > places["s-malinovka"]
    assert 2 <= places["s-malinovka"] <= 40  # a handful of messages a week


def test_texts_look_like_social_media(demo: Any) -> None:
    texts = [i["text"] for i in demo[0]]
    assert sum(bool(re.search(r"\[id\d+\|[^\]]+\]", t)) for t in texts) > 500
    assert sum("<p>" in t for t in texts) > 30
    assert sum("#" in t for t in texts) > 100
    assert sum("Подписывайтесь" in t for t in texts) > 20
    assert sum(t.isupper() for t in texts) > 100
    assert sum(bool(re.search("[😡🤬👍❤️🙏]", t)) for t in texts) > 1000
    assert sum(i["repost_of"] is not None for i in demo[0]) > 10


def _series(
    labels: dict[str, Label], by_id: dict[str, dict[str, Any]], sector: str, territory: str, exclude: set[str]
) -> Counter[int]:
    counts: Counter[int] = Counter()
    for pid, label in labels.items():
        if label.sector == sector and label.territory == territory and pid not in exclude:
            counts[int((by_id[pid]["date"] - START.timestamp()) // 3600)] += 1
    return counts


def test_spikes_are_ten_times_their_series_baseline(demo: Any, by_id: dict[str, dict[str, Any]]) -> None:
    truth: GroundTruth = demo[1]
    labels: dict[str, Label] = demo[2]
    assert len(truth.spikes) >= 3
    # The detector needs a day of history; at the demo's 4,000x the first spike shows within a minute.
    assert START + timedelta(hours=24) < truth.spikes[0].start < START + timedelta(hours=44)
    injected = {p for s in truth.spikes for p in s.post_ids}
    for spike in truth.spikes:
        hours = (spike.end - spike.start).total_seconds() / 3600
        assert 40 <= len(spike.post_ids) <= 120, spike.key
        for pid in spike.post_ids:
            label = labels[pid]
            assert (label.sector, label.territory) == (spike.sector, spike.territory), (
                pid,
                by_id[pid]["text"],
            )
            assert (
                spike.start
                <= datetime.fromtimestamp(by_id[pid]["date"], UTC)
                < spike.end + timedelta(minutes=30)
            )
        background = _series(labels, by_id, spike.sector, spike.territory, injected)
        first = int((spike.start - START).total_seconds() // 3600)
        window = [(first + k) % 24 for k in range(int(hours) + 1)]
        # The series' normal rate: its overall mean and its mean at the same hours of day.
        overall = sum(background.values()) / (14 * 24)
        same_hours = max(sum(background[h] for h in range(14 * 24) if h % 24 == w) / 14 for w in window)
        baseline = max(overall, same_hours, 0.05)
        rate = len(spike.post_ids) / hours
        assert rate >= 10 * baseline, (spike.key, rate, baseline)
        assert rate >= 8.0


def test_conflicts_are_heated_threads_under_official_posts(
    demo: Any, by_id: dict[str, dict[str, Any]]
) -> None:
    truth: GroundTruth = demo[1]
    profile = load_profile(DEMO_PROFILE_PATH)
    assert len(truth.conflicts) >= 2
    assert truth.conflicts[0].start < START + timedelta(hours=30)
    for conflict in truth.conflicts:
        root = by_id[conflict.thread_id]
        assert root["official"] and root["page_id"] == conflict.page_id and root["type"] == "post"
        assert conflict.page_id in {p.id for p in profile.pages}
        comments = [by_id[p] for p in conflict.post_ids]
        assert 30 <= len(comments) <= 60
        authors = {c["from_id"] for c in comments}
        assert len(authors) >= 15 and conflict.authors == len(authors)
        assert all(c["thread_item_id"] == root["item_id"] and not c["official"] for c in comments)
        text = " ".join(c["text"].lower() for c in comments)
        assert "прокуратур" in text and "петров" in text
        assert any(w in text for w in ("президент", "перекро", "подпис", "митинг", "пикет"))
        late = " ".join(c["text"].lower() for c in comments[-len(comments) // 3 :])
        early = " ".join(c["text"].lower() for c in comments[: len(comments) // 3])
        assert late.count("прокуратур") + late.count("петров") > early.count("прокуратур") + early.count(
            "петров"
        )
        prefix = f"demo:{root['network']}:"
        arguing = [
            c
            for c in comments
            if by_id[prefix + c["parent_item_id"]]["official"]
            and c["type"] == "comment"
            and c["parent_item_id"] != root["item_id"]
        ]
        assert arguing, conflict.key
        assert conflict.escalated_at is not None and conflict.escalated_at > conflict.start


def _stem(street: str) -> str:
    word = street.split()[-1].lower().replace("ё", "е")
    return word[:-2] if word.endswith(("ая", "яя", "ый", "ий")) else word[: max(4, len(word) - 1)]


def test_incident_groups(demo: Any, by_id: dict[str, dict[str, Any]]) -> None:
    truth: GroundTruth = demo[1]
    profile = load_profile(DEMO_PROFILE_PATH)
    streets = {t.id: set(t.streets) for t in profile.walk()}
    assert len(truth.incidents) >= 40
    assert sum(len(g.post_ids) > 1 for g in truth.incidents) >= 20
    keys = [(g.sector, g.territory, g.street) for g in truth.incidents]
    assert len(set(keys)) == len(keys)
    for group in truth.incidents:
        assert group.street in streets[group.territory], group
        assert group.sector in SECTORS
        members = [by_id[p] for p in group.post_ids]
        assert min(datetime.fromtimestamp(m["date"], UTC) for m in members) == group.first_published_at
        for m in members:
            assert not m["official"]
            assert _stem(group.street) in m["text"].lower().replace("ё", "е"), (group.street, m["text"])
            label = demo[2][post_id(m)]
            assert (label.sector, label.territory, label.street) == (
                group.sector,
                group.territory,
                group.street,
            )
    starts = [g.first_published_at + MSK for g in truth.incidents]
    assert any(s.date().isoformat() == "2026-10-30" and s.hour >= 17 for s in starts)  # Friday evening
    assert any(s.date().isoformat() == "2026-11-03" for s in starts)  # shortened pre-holiday day
    assert any(s.date().isoformat() == "2026-11-04" for s in starts)  # public holiday
    assert any(s < START + MSK + timedelta(hours=12) for s in starts)  # early for the live demo


def test_every_truth_id_exists(demo: Any, by_id: dict[str, dict[str, Any]]) -> None:
    truth: GroundTruth = demo[1]
    ids = [p for s in truth.spikes for p in s.post_ids]
    ids += [c.thread_id for c in truth.conflicts] + [p for c in truth.conflicts for p in c.post_ids]
    ids += [p for g in truth.incidents for p in g.post_ids]
    assert ids and all(p in by_id for p in ids)


def test_write_demo_files(tmp_path: Path, demo: Any) -> None:
    paths = write_demo(tmp_path / "a", seed=7)
    again = write_demo(tmp_path / "b", seed=7)
    assert paths.stream.name == "stream.jsonl.gz" and paths.truth.name == "truth.json"
    assert paths.stream.stat().st_size < 5_000_000
    assert paths.stream.read_bytes() == again.stream.read_bytes()
    with gzip.open(paths.stream, "rt", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    assert stream_digest(items) == stream_digest(demo[0])
    truth = load_truth(paths.truth)
    assert truth == demo[1]
    raw = json.loads(paths.truth.read_text(encoding="utf-8"))
    assert raw["start"] == "2026-10-25T21:00:00Z"
    assert set(raw) >= {"start", "end", "count", "spikes", "conflicts", "incidents"}
    assert set(raw["incidents"][0]) >= {"sector", "territory", "street", "post_ids", "first_published_at"}
    with gzip.open(paths.labels, "rt", encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == len(items)


def test_load_truth_errors_are_russian(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="не найден"):
        load_truth(tmp_path / "missing.json")
    broken = tmp_path / "truth.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="повреждён"):
        load_truth(broken)
