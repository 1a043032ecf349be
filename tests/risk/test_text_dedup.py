"""Tests for risk.dedup: online near-duplicates and stories over a (shared) store."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from index.models import Post
from risk.dedup import (
    Deduper,
    DuplicateIndex,
    MemoryDedupStore,
    StoryIndex,
    normalise,
    shingle_keys,
    signatures,
    similarity,
)

COMPLAINT = "Третий день нет горячей воды на ул. Ленина 15, когда дадут?? Дети не мытые, сколько можно"


def test_normalise_drops_markup_and_punctuation() -> None:
    assert normalise("<b>Яма</b> на Мира!!! https://vk.com/x 😡") == "яма на мира"


def test_exact_and_near_duplicates_point_at_the_first() -> None:
    index = DuplicateIndex()
    assert index.add("a", COMPLAINT) is None
    assert index.add("b", COMPLAINT) == "a"
    assert index.add("c", "<p>" + COMPLAINT.upper() + "</p> https://t.me/x") == "a"
    assert index.add("d", COMPLAINT + " !!!") == "a"
    assert (
        index.add("e", "Третий день нет горячей воды на ул Ленина 15 когда дадут дети не мытые сколько можно")
        == "a"
    )


def test_different_texts_are_not_duplicates() -> None:
    index = DuplicateIndex()
    assert index.add("a", COMPLAINT) is None
    assert index.add("b", "На проспекте Мира огромная яма, все машины бьют, когда заделают?") is None
    assert index.add("c", "Третий день нет холодной воды на Садовой 3, когда дадут??") is None


def test_short_texts_are_never_duplicates() -> None:
    index = DuplicateIndex()
    assert index.add("a", "спасибо!") is None
    assert index.add("b", "спасибо!") is None
    assert index.add("c", "") is None


def test_re_adding_an_id_is_idempotent() -> None:
    index = DuplicateIndex()
    index.add("a", COMPLAINT)
    assert index.add("b", COMPLAINT) == "a"
    assert index.add("b", COMPLAINT) == "a"
    assert index.add("a", COMPLAINT) is None


def test_memory_is_bounded() -> None:
    store = MemoryDedupStore(max_items=50)
    index = DuplicateIndex(store)
    for i in range(30):
        index.add(f"p{i}", f"{COMPLAINT} номер {i} и ещё немного разных слов {i * 7919}")
    assert len(store) == 50


def test_two_indexes_on_one_store_agree_like_two_worker_processes() -> None:
    store = MemoryDedupStore()
    first, second = DuplicateIndex(store), DuplicateIndex(store)
    assert first.add("a", COMPLAINT) is None
    assert second.add("b", COMPLAINT + "!!!") == "a"
    s1, s2 = StoryIndex(store), StoryIndex(store)
    assert s1.add("x", "Прорыв трубы на улице Ленина, вода заливает дорогу") == "x"
    assert s2.add("y", "На Ленина прорвало трубу, вода течёт по дороге, заливает всё") == "x"


def test_deduper_marks_posts_in_publication_order_and_keeps_set_values() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    posts = [
        Post(id="late", source="vk", source_id="2", published_at=at + timedelta(hours=1), text=COMPLAINT),
        Post(id="early", source="vk", source_id="1", published_at=at, text=COMPLAINT + " !!"),
        Post(id="repost", source="vk", source_id="3", published_at=at, text="x", duplicate_of="early"),
    ]
    out = Deduper().mark(posts)
    assert [p.id for p in out] == ["late", "early", "repost"]
    assert out[0].duplicate_of == "early" and out[1].duplicate_of is None
    assert out[2].duplicate_of == "early"
    assert out[0].story_id == out[1].story_id == "early"


def test_stories_group_posts_about_one_event() -> None:
    stories = StoryIndex()
    first = stories.add("a", "Прорыв трубы на улице Ленина, вода заливает дорогу")
    assert first == "a"
    assert stories.add("b", "На Ленина прорвало трубу, вода течёт по дороге, заливает всё") == "a"
    assert stories.add("c", "В субботу в парке концерт духового оркестра") == "c"
    assert stories.add("d", "ок") is None


class _CountingStore(MemoryDedupStore):
    """A MemoryDedupStore that counts its calls (each is one round trip to Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def put_if_absent(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> list[bytes | None]:
        self.calls += 1
        return super().put_if_absent(items, ttl_s)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        self.calls += 1
        return super().get_many(keys)

    def put(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> None:
        self.calls += 1
        super().put(items, ttl_s)


def test_a_batch_costs_a_few_store_calls_and_finds_duplicates_inside_it() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    texts = [f"{COMPLAINT} подъезд {i}, квартира {i * 37}" for i in range(50)]
    posts = [
        Post(id=f"p{i}", source="vk", source_id=str(i), published_at=at + timedelta(minutes=i), text=t)
        for i, t in enumerate([*texts, *texts])
    ]
    store = _CountingStore()
    out = Deduper(store).mark(posts)
    assert store.calls <= 10  # two indexes × (known, buckets, candidates, records)
    assert all(p.duplicate_of is None for p in out[:1])
    assert all(p.duplicate_of is not None for p in out[50:])  # exact copies within the same batch
    assert all(p.story_id == "p0" for p in out[50:])


def test_batch_answers_equal_one_by_one_answers() -> None:
    texts = [
        COMPLAINT,
        "Третий день нет горячей воды на ул Ленина 15 когда дадут дети не мытые",
        "На проспекте Мира огромная яма, все машины бьют, когда заделают?",
        "На проспекте Мира огромная яма все машины бьют когда заделают уже",
        "В субботу в парке концерт духового оркестра, приходите всей семьёй",
        COMPLAINT + "!!!",
    ]
    items = [(f"t{i}", t) for i, t in enumerate(texts)]
    one = DuplicateIndex()
    assert DuplicateIndex().add_many(items) == [one.add(i, t) for i, t in items]
    story_one = StoryIndex()
    story_items = [(i, t, None) for i, t in items]
    assert StoryIndex().add_many(story_items) == [story_one.add(i, t) for i, t in items]


def test_signatures_estimate_jaccard() -> None:
    a = shingle_keys(normalise(COMPLAINT))
    b = shingle_keys(normalise("Третий день нет холодной воды на Садовой 3, когда дадут??"))
    sig_a, sig_b, sig_a2 = signatures([a, b, a])
    assert similarity(sig_a, sig_a2) == 1.0
    assert similarity(sig_a, sig_b) < 0.5
    assert sig_a.dtype == np.uint64 and sig_a.shape == (64,)


def test_records_store_signatures_in_four_bytes_each_and_old_records_still_read() -> None:
    store = MemoryDedupStore()
    index = DuplicateIndex(store)
    index.add("a", COMPLAINT)
    record = store.get_many(["infopole:dedup:dup:i:a"])[0]
    assert record is not None and len(record) == 2 + 64 * 4 + len("a")
    # A record written before the narrow format (8 bytes per value) is read the same.
    sig = signatures([shingle_keys(normalise(COMPLAINT))])[0]
    old = struct.pack(">H", 64) + sig.astype(">u8").tobytes() + b"a"
    store.put([("infopole:dedup:dup:i:b", old)], 60)
    assert index.add("b", "совсем другой текст, который ни на что не похож") == "a"  # its recorded root
