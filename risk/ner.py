"""Named entities (places, people, organisations) with natasha's slovnet NER, loaded offline from its wheel.

The model (`slovnet_ner_news_v1.tar`, 2.4 MB, with the navec vectors of risk.embedding) ships inside the
natasha package, so nothing is downloaded. It tags about 400 short texts/s in batches on one core, so the
understanding step runs it only on the posts that need it (see `needs_ner`). Texts are cut to
MAX_NER_CHARS first: the place of a complaint is named early.

The tagger's matrix products run on one BLAS thread (`one_blas_thread`): parallelism comes from worker
processes, and OpenBLAS's own threads on small batches cost ~10× the CPU (7.4 → 0.8 ms per text for
batches of 7 on this 2-core machine).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from risk.embedding import EmbeddingUnavailable, natasha_data_dir, navec

log = logging.getLogger(__name__)

#: The NER model file inside natasha's package data.
NER_FILE = "slovnet_ner_news_v1.tar"
#: Characters of a text the tagger reads.
MAX_NER_CHARS = 1_000
#: Texts tagged together (bigger batches are faster per text: 8 → 16 ms, 64 → 3 ms, 128 → 2.4 ms).
BATCH_SIZE = 64
#: Entity types of the model: location, person, organisation.
ENTITY_TYPES = ("LOC", "PER", "ORG")


@dataclass(frozen=True, slots=True)
class Entity:
    """One named entity: its type (LOC, PER, ORG), text and character offsets in the tagged text."""

    type: str
    text: str
    start: int
    end: int


@cache
def _slovnet_ner() -> Any:
    """Return the process-wide slovnet NER model with navec vectors (loaded once, about 2 s)."""
    from slovnet import NER

    path = natasha_data_dir() / "model" / NER_FILE
    if not path.is_file():
        raise EmbeddingUnavailable(f"в пакете natasha нет модели {NER_FILE}")
    model = NER.load(str(path), batch_size=BATCH_SIZE)
    model.navec(navec())
    return model


@cache
def _blas_controller() -> Any:
    """Return the process-wide threadpoolctl controller (inspects the loaded BLAS libraries once)."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (the previous limits come back after it)."""
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def ner_available() -> bool:
    """Return True when the natasha NER model can be loaded here."""
    try:
        _slovnet_ner()
    except (EmbeddingUnavailable, ImportError, OSError):
        return False
    return True


def tag(texts: Sequence[str]) -> list[list[Entity]]:
    """Return the entities of every text (cut to MAX_NER_CHARS); raise EmbeddingUnavailable if no natasha."""
    model = _slovnet_ner()
    cut = [t[:MAX_NER_CHARS] for t in texts]
    with one_blas_thread():
        markups = list(model.map([t if t.strip() else "." for t in cut]))
    out: list[list[Entity]] = []
    for text, markup in zip(cut, markups, strict=True):
        out.append(
            [
                Entity(type=span.type, text=text[span.start : span.stop], start=span.start, end=span.stop)
                for span in markup.spans
                if span.type in ENTITY_TYPES and text.strip()
            ]
        )
    return out
