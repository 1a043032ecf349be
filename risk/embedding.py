"""Navec word vectors shipped inside the natasha package (no download): loading and mean text vectors.

natasha's wheel carries `navec_news_v1_1B_250K_300d_100q.tar` (250K words, 300 dims, product-quantised,
MIT). It is located through the package's import spec without importing natasha itself (whose import
pulls pymorphy2 and yargy). Loading takes about 2 s and ~60 MB, once per process.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from risk.text import STOP_WORDS, Doc, forms, tokens

#: The embedding file inside natasha's package data.
NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q.tar"
#: Name recorded in trained models that use the vectors.
NAVEC_NAME = "navec_news_v1_1B_250K_300d_100q"
#: Dimensions of a text vector.
DIM = 300
#: Tokens of a text looked up at most (long texts cost the same).
MAX_TOKENS = 400


class EmbeddingUnavailable(RuntimeError):
    """The natasha package (and so its vectors) is not installed (message in Russian)."""


def natasha_data_dir() -> Path:
    """Return natasha's package data folder; raise EmbeddingUnavailable when natasha is not installed."""
    spec = find_spec("natasha")
    if spec is None or spec.origin is None:
        raise EmbeddingUnavailable("пакет natasha не установлен: pip install natasha")
    return Path(spec.origin).parent / "data"


@cache
def navec() -> Any:
    """Return the process-wide Navec model (loaded once, offline)."""
    from navec import Navec

    path = natasha_data_dir() / "emb" / NAVEC_FILE
    if not path.is_file():
        raise EmbeddingUnavailable(f"в пакете natasha нет файла векторов {NAVEC_FILE}")
    return Navec.load(str(path))


def _ids(text: str, vocab: Any) -> list[int]:
    """Return the vocabulary ids of a text's content words (a word form, else its lemma)."""
    out: list[int] = []
    for word in tokens(text)[:MAX_TOKENS]:
        if len(word) < 2:
            continue
        lem = forms(word)[0]
        if lem in STOP_WORDS:
            continue
        idx = vocab.get(word)
        if idx is None:
            idx = vocab.get(lem)
        if idx is not None:
            out.append(int(idx))
    return out


def embed_texts(texts: list[str]) -> np.ndarray:
    """Return the unit-length mean word vector of every text (zeros when no word is known)."""
    model = navec()
    pq = model.pq
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = _ids(text, model.vocab)
        if not ids:
            continue
        parts = pq.codes[pq.qdims, pq.indexes[ids]]  # words x qdim x sub-dim
        mean = parts.reshape(len(ids), DIM).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 0:
            out[row] = mean / norm
    return out


def word_ids(words: list[str], lemmas: list[str]) -> list[int]:
    """Return the vocabulary ids of already tokenised content words (the form, else its lemma)."""
    vocab = navec().vocab
    out: list[int] = []
    for word, lem in zip(words[:MAX_TOKENS], lemmas[:MAX_TOKENS], strict=False):
        if len(word) < 2 or lem in STOP_WORDS:
            continue
        idx = vocab.get(word)
        if idx is None:
            idx = vocab.get(lem)
        if idx is not None:
            out.append(int(idx))
    return out


def mean_vector(ids: list[int]) -> np.ndarray | None:
    """Return the unit-length mean vector of vocabulary ids (None when there are none)."""
    if not ids:
        return None
    pq = navec().pq
    mean: np.ndarray = pq.codes[pq.qdims, pq.indexes[ids]].reshape(len(ids), DIM).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def centroid(phrases: list[str]) -> np.ndarray:
    """Return the unit-length mean of the phrases' unit vectors (a topic's place in vector space)."""
    total: np.ndarray = embed_texts(phrases).sum(axis=0)
    norm = float(np.linalg.norm(total))
    return total / norm if norm > 0 else total


def doc_vector(doc: Doc) -> np.ndarray | None:
    """Return the unit mean vector of an analysed text's content words (None when none is known).

    Worked out once per Doc (the sector and aggression stages ask for it in turn) and kept on it, so it
    is freed with the batch: no process-wide cache, no lock between the worker's threads.
    """
    if "vector" not in doc.derived:
        doc.derived["vector"] = mean_vector(word_ids(doc.words, doc.lemmas))
    vector = doc.derived["vector"]
    return vector if isinstance(vector, np.ndarray) else None
