"""Online near-duplicate detection (MinHash LSH over character shingles) and rough story clustering.

Quality notes: near-duplicates are reposts and copy-pastes (Jaccard of character 5-grams ≥ 0.8 by
default), found with datasketch's MinHash LSH, so a true pair is missed with a small probability and a
pair slightly below the threshold is sometimes reported. Texts shorter than MIN_CHARS after
normalisation are never reported ("спасибо", "+"). Stories are a first, rough online clustering: a post
joins the story of an earlier post whose content-lemma set overlaps by STORY_THRESHOLD (Jaccard); there
is no time decay and no merging of stories yet.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from datasketch import MinHash, MinHashLSH

from risk.text import clean, lemmas

#: Estimated Jaccard similarity of character shingles that makes a near-duplicate.
DUPLICATE_THRESHOLD = 0.8
#: Estimated Jaccard similarity of content-lemma sets that puts two posts in one story.
STORY_THRESHOLD = 0.4
#: MinHash permutations (more: slower, more exact).
NUM_PERM = 64
#: Character shingle length.
SHINGLE_CHARS = 5
#: Only this many normalised characters of a text are shingled (long texts cost the same).
MAX_SHINGLED_CHARS = 3_000
#: Shorter normalised texts are never reported as duplicates.
MIN_CHARS = 20
#: A story needs at least this many distinct content lemmas in a post.
MIN_STORY_LEMMAS = 4
#: LSH candidates verified per lookup (bounds the cost of bursts of identical spam).
MAX_CANDIDATES = 32
#: Entries kept in memory; the oldest are forgotten beyond this.
MAX_ITEMS = 200_000

_NON_WORD = re.compile(r"[^0-9a-zа-я]+")


def normalise(text: str) -> str:
    """Return the cleaned text lowercased, ё→е, with punctuation and emoji replaced by single spaces."""
    return _NON_WORD.sub(" ", clean(text).lower().replace("ё", "е")).strip()


class _MinHashIndex:
    """An LSH index of MinHash signatures with first-come roots and FIFO forgetting."""

    def __init__(self, threshold: float, num_perm: int, max_items: int) -> None:
        """Create an empty index."""
        self._template = MinHash(num_perm=num_perm)
        self._num_perm = num_perm
        self._threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._items: OrderedDict[str, tuple[Any, str, int]] = OrderedDict()  # id → (signature, root, seq)
        self._seq = 0
        self._max_items = max_items

    def __len__(self) -> int:
        """Return the number of remembered items."""
        return len(self._items)

    def signature(self, features: Iterable[bytes]) -> Any:
        """Return the MinHash of a set of byte features (permutations reused: fast)."""
        m = MinHash(
            num_perm=self._num_perm, permutations=self._template.permutations, scheme=self._template.scheme
        )
        m.update_batch(list(features))
        return m

    def root_of(self, item_id: str) -> str | None:
        """Return the root id recorded for an item, or None when unknown."""
        entry = self._items.get(item_id)
        return entry[1] if entry else None

    def add(self, item_id: str, signature: Any) -> str:
        """Remember an item; return the root of its earliest similar item (itself when none)."""
        root = item_id
        best_seq: int | None = None
        checked = 0
        for other in self._lsh.query(signature):
            entry = self._items.get(other)
            if entry is None or (best_seq is not None and entry[2] >= best_seq):
                continue
            checked += 1
            if entry[0].jaccard(signature) >= self._threshold:
                best_seq, root = entry[2], entry[1]
            if checked >= MAX_CANDIDATES:
                break
        self._lsh.insert(item_id, signature)
        self._items[item_id] = (signature, root, self._seq)
        self._seq += 1
        while len(self._items) > self._max_items:
            old, _ = self._items.popitem(last=False)
            self._lsh.remove(old)
        return root


class DuplicateIndex:
    """Report the earliest near-duplicate of each new text (online, bounded memory)."""

    def __init__(
        self, threshold: float = DUPLICATE_THRESHOLD, *, num_perm: int = NUM_PERM, max_items: int = MAX_ITEMS
    ) -> None:
        """Create an empty index; `threshold` is the Jaccard similarity of character 5-gram sets."""
        self._index = _MinHashIndex(threshold, num_perm, max_items)
        self._exact: dict[str, str] = {}

    def __len__(self) -> int:
        """Return the number of remembered texts."""
        return len(self._index)

    def add(self, post_id: str, text: str) -> str | None:
        """Remember a text; return the id of an earlier near-duplicate (the first one seen), else None."""
        known = self._index.root_of(post_id)
        if known is not None:
            return known if known != post_id else None
        norm = normalise(text)[:MAX_SHINGLED_CHARS]
        if len(norm) < MIN_CHARS:
            return None
        digest = hashlib.blake2b(norm.encode("utf-8"), digest_size=12).hexdigest()
        exact = self._exact.get(digest)
        if exact is not None and self._index.root_of(exact) is not None:
            root = self._index.root_of(exact) or exact
            self._index.add(post_id, self._index.signature(_shingles(norm)))
            return root
        self._exact[digest] = post_id
        if len(self._exact) > 2 * MAX_ITEMS:
            self._exact.clear()
        root = self._index.add(post_id, self._index.signature(_shingles(norm)))
        return root if root != post_id else None


class StoryIndex:
    """Group posts about the same event: a post joins the story of an earlier post with similar lemmas."""

    def __init__(
        self, threshold: float = STORY_THRESHOLD, *, num_perm: int = NUM_PERM, max_items: int = MAX_ITEMS
    ) -> None:
        """Create an empty index; `threshold` is the Jaccard similarity of content-lemma sets."""
        self._index = _MinHashIndex(threshold, num_perm, max_items)

    def add(self, post_id: str, text: str, lemma_list: list[str] | None = None) -> str | None:
        """Remember a post; return its story id (the first post of the story), None for too short texts."""
        known = self._index.root_of(post_id)
        if known is not None:
            return known
        words = set(lemma_list if lemma_list is not None else lemmas(clean(text)))
        words = {w for w in words if not w.isdigit() and len(w) > 2}
        if len(words) < MIN_STORY_LEMMAS:
            return None
        return self._index.add(post_id, self._index.signature(w.encode("utf-8") for w in sorted(words)))


def _shingles(norm: str) -> Iterable[bytes]:
    """Return the distinct character shingles of a normalised text."""
    if len(norm) <= SHINGLE_CHARS:
        return [norm.encode("utf-8")]
    return list({norm[i : i + SHINGLE_CHARS].encode("utf-8") for i in range(len(norm) - SHINGLE_CHARS + 1)})
