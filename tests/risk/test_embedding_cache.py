"""The text-vector cache of risk.embedding stays within its bound in entries and bytes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from risk import embedding
from risk.text import analyse

pytest.importorskip("navec")

BASE = "Прорвало трубу на улице Ленина, вода заливает двор и подвал дома номер"


def test_the_cache_keeps_at_most_its_size_and_little_per_long_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "DOC_CACHE_SIZE", 50)
    monkeypatch.setattr(embedding, "_doc_cache", type(embedding._doc_cache)())
    filler = " ".join(["жители просят срочно отремонтировать крышу и подъезд"] * 60)  # ~3,000 characters
    docs = [analyse(f"{BASE} {n}. {filler}") for n in range(80)]
    embedding.navec()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        vectors = [embedding.doc_vector(doc) for doc in docs]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(embedding._doc_cache) == 50
    assert held / 50 < 3_000  # bytes per entry: a digest and a 300-float vector, not the 6 KB text
    again = embedding.doc_vector(docs[-1])  # a cached text gives the same vector
    assert again is not None and vectors[-1] is not None
    assert np.array_equal(again, vectors[-1])
