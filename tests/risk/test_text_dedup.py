"""Tests for risk.dedup: online near-duplicates and rough stories."""

from __future__ import annotations

from risk.dedup import DuplicateIndex, StoryIndex, normalise

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
    assert len(index) == 5


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
    index = DuplicateIndex(max_items=10)
    for i in range(30):
        index.add(f"p{i}", f"{COMPLAINT} номер {i} и ещё немного разных слов {i * 7919}")
    assert len(index) == 10


def test_stories_group_posts_about_one_event() -> None:
    stories = StoryIndex()
    first = stories.add("a", "Прорыв трубы на улице Ленина, вода заливает дорогу")
    assert first == "a"
    assert stories.add("b", "На Ленина прорвало трубу, вода течёт по дороге, заливает всё") == "a"
    assert stories.add("c", "В субботу в парке концерт духового оркестра") == "c"
    assert stories.add("d", "ок") is None
