"""A text's vector is worked out once per analysed text and kept on it, not in a process-wide cache."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from risk import embedding
from risk.text import analyse

pytest.importorskip("navec")

BASE = "Прорвало трубу на улице Ленина, вода заливает двор и подвал дома номер"


def test_the_vector_is_worked_out_once_per_text(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    mean_vector = embedding.mean_vector

    def counting(ids: list[int]) -> np.ndarray | None:
        calls.append(len(ids))
        return mean_vector(ids)

    monkeypatch.setattr(embedding, "mean_vector", counting)
    doc, empty = analyse(BASE), analyse("!!! 123")
    first = embedding.doc_vector(doc)
    assert first is not None and embedding.doc_vector(doc) is first  # the sector and aggression stages
    assert embedding.doc_vector(empty) is None and embedding.doc_vector(empty) is None
    assert len(calls) == 2
    assert np.isclose(float(np.linalg.norm(first)), 1.0)


def test_vectors_are_freed_with_their_texts() -> None:
    filler = " ".join(["жители просят срочно отремонтировать крышу и подъезд"] * 60)  # ~3,000 characters
    embedding.navec()
    docs = [analyse(f"{BASE} {n}. {filler}") for n in range(80)]  # lemma caches fill outside the trace
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        vectors = [embedding.doc_vector(doc) for doc in docs]
        assert all(v is not None for v in vectors)
        del docs, vectors
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 80 * 1_200 / 2  # less than half of the 80 vectors' floats outlive their texts
