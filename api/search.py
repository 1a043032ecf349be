"""Turn a user's search string into the store's full-text query over lemmas."""

from __future__ import annotations

from risk.text import query_lemmas

#: A full-text search counts its matches exactly up to this many; beyond, the total is a lower bound.
TOTAL_CAP = 10_000


def to_fulltext(q: str | None) -> str | None:
    """Return the space-joined lemmas of `q`, or None when `q` is empty or has no words."""
    if q is None or not q.strip():
        return None
    lemmas = query_lemmas(q)
    return " ".join(lemmas) if lemmas else None
