"""The lemma and tag caches of risk.text stay within their documented bounds (entries and bytes)."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from risk import text

SYLLABLES = ("ба", "ве", "гу", "до", "жи", "зо", "ку", "ле", "ми", "но", "пу", "ра", "си", "ту", "фе", "хо")
ENDINGS = ("ка", "ами", "ость", "ный", "ем")


def distinct_words(n: int) -> list[str]:
    """Return n distinct made-up Russian words (pymorphy3 guesses their lemmas and tags)."""
    combos = itertools.product(SYLLABLES, SYLLABLES, SYLLABLES, ENDINGS)
    return ["".join(parts) for parts in itertools.islice(combos, n)]


def cached_bytes_per_entry(fn: Any, words: list[str]) -> float:
    """Return the bytes held per new cache entry after calling `fn` on every word (cache cleared first)."""
    fn.cache_clear()
    fn("тест")  # the analyzer and its own tables are loaded before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for word in words:
            fn(word)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / len(words)


@pytest.mark.parametrize(
    ("fn", "bound"),
    [(text.forms, text.FORMS_ENTRY_BYTES), (text.tags, text.TAGS_ENTRY_BYTES)],
    ids=["forms", "tags"],
)
def test_a_cache_entry_costs_at_most_its_bound(fn: Callable[[str], Any], bound: int) -> None:
    words = distinct_words(4000)
    assert len(set(words)) == len(words)
    per_entry = cached_bytes_per_entry(fn, words)
    assert per_entry <= bound, f"{fn.__name__}: {per_entry:.0f} bytes per cached word"


def test_words_with_one_tag_share_its_grammemes() -> None:
    sets = [text.tags(word) for word in distinct_words(300)]
    shared: dict[frozenset[str], frozenset[str]] = {}
    for grammemes in sets:
        assert shared.setdefault(grammemes, grammemes) is grammemes
    assert len(shared) < len(sets) / 3  # many words, few distinct tags
    assert {"NOUN", "inan", "masc"} <= text.tags("стол")


def test_caches_keep_at_most_their_size() -> None:
    assert text.forms.cache_info().maxsize == text.LEMMA_CACHE_SIZE
    assert text.tags.cache_info().maxsize == text.LEMMA_CACHE_SIZE
    for word in distinct_words(500):
        text.tags(word)
    assert text._grammemes.cache_info().currsize <= text.TAG_CACHE_SIZE
