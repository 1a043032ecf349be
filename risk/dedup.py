"""Online near-duplicates (reposts, copy-pastes) and stories (posts about one thing), over a shared store.

Both use MinHash signatures split into LSH bands. Each band's bucket remembers the first post that fell
in it (set-if-absent), so every process that shares the store (the worker processes share Redis, see
worker/runtime.py) agrees on who came first; a candidate is confirmed by the signatures' estimated
Jaccard similarity. A post's root (the first post of its duplicate group or story) is stored with its
signature, so re-ingesting a post returns the same answer.

- Near-duplicates: character 5-gram shingles of the normalised text, Jaccard ≥ DUPLICATE_THRESHOLD
  (0.8); texts shorter than MIN_CHARS are never duplicates ("спасибо", "+"); identical texts are found
  by an exact digest first.
- Stories: content-lemma sets (≥ MIN_STORY_LEMMAS distinct lemmas of 3+ letters), Jaccard ≥
  STORY_THRESHOLD (0.4). Entries expire after STORY_TTL_S, so an old story does not swallow a new one.

Quality notes: LSH misses a true pair with a small probability (about 0.1 % at the threshold with the
bands below) and only the first post of each bucket is a candidate, so in a burst of near-identical
posts a later post may join the story of a slightly different earlier one. Two processes handling two
near-duplicates at the very same moment may both become roots.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from datasketch import MinHash

from index.models import Post
from risk.text import clean, lemmas

#: Estimated Jaccard similarity of character shingles that makes a near-duplicate.
DUPLICATE_THRESHOLD = 0.8
#: Estimated Jaccard similarity of content-lemma sets that puts two posts in one story.
STORY_THRESHOLD = 0.4
#: MinHash permutations (more: slower, more exact).
NUM_PERM = 64
#: LSH bands × rows per band (bands · rows = NUM_PERM). Duplicates: a pair at J = 0.8 shares a band with
#: probability 1 - (1 - 0.8⁴)¹⁶ ≈ 0.9998; stories: at J = 0.4, 1 - (1 - 0.4²)³² ≈ 0.996.
DUPLICATE_BANDS = (16, 4)
STORY_BANDS = (32, 2)
#: Character shingle length.
SHINGLE_CHARS = 5
#: Only this many normalised characters of a text are shingled (long texts cost the same).
MAX_SHINGLED_CHARS = 3_000
#: Shorter normalised texts are never reported as duplicates.
MIN_CHARS = 20
#: A story needs at least this many distinct content lemmas in a post.
MIN_STORY_LEMMAS = 4
#: How long a shared store keeps an entry: duplicates 30 days, stories 7 days (s).
DUPLICATE_TTL_S = 30 * 24 * 3600
STORY_TTL_S = 7 * 24 * 3600
#: Entries an in-memory store keeps; the oldest are forgotten beyond this.
MAX_ITEMS = 400_000
#: Key prefix in a shared store.
KEY_PREFIX = "infopole:dedup"

_NON_WORD = re.compile(r"[^0-9a-zа-я]+")


class DedupStore(Protocol):
    """A key-value store shared by every process that deduplicates (Redis in the worker)."""

    def put_if_absent(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> list[bytes | None]:
        """Set each key that is absent; return the value already there (None where it was set now)."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return the value of each key (None when absent)."""
        ...

    def put(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> None:
        """Set keys (overwriting)."""
        ...


class MemoryDedupStore:
    """A DedupStore inside one process (enrich, tests): FIFO-bounded, no expiry."""

    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        """Create an empty store keeping at most `max_items` keys."""
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_items

    def __len__(self) -> int:
        """Return the number of keys."""
        return len(self._data)

    def put_if_absent(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> list[bytes | None]:
        """Set each absent key; return the previous values."""
        out: list[bytes | None] = []
        for key, value in items:
            old = self._data.get(key)
            if old is None:
                self._data[key] = value
            out.append(old)
        self._trim()
        return out

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return the values of keys."""
        return [self._data.get(k) for k in keys]

    def put(self, items: Sequence[tuple[str, bytes]], ttl_s: int) -> None:
        """Set keys."""
        for key, value in items:
            self._data[key] = value
        self._trim()

    def _trim(self) -> None:
        """Forget the oldest keys beyond the bound."""
        while len(self._data) > self._max:
            self._data.popitem(last=False)


def normalise(text: str) -> str:
    """Return the cleaned text lowercased, ё→е, with punctuation and emoji replaced by single spaces."""
    return _NON_WORD.sub(" ", clean(text).lower().replace("ё", "е")).strip()


_TEMPLATE = MinHash(num_perm=NUM_PERM)


def signature(features: Iterable[bytes]) -> np.ndarray:
    """Return the MinHash values (uint64, NUM_PERM) of a set of byte features."""
    m = MinHash(num_perm=NUM_PERM, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    m.update_batch(list(features))
    return np.asarray(m.hashvalues, dtype=np.uint64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Return the estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


@dataclass(frozen=True)
class _Record:
    """What the store keeps per item: its signature and its root."""

    sig: np.ndarray
    root: str

    def encode(self) -> bytes:
        """Return the record as bytes: signature length, signature, root."""
        return struct.pack(">H", len(self.sig)) + self.sig.astype(">u8").tobytes() + self.root.encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> _Record | None:
        """Return a record from bytes, or None when they are not one."""
        try:
            (n,) = struct.unpack(">H", data[:2])
            sig = np.frombuffer(data[2 : 2 + 8 * n], dtype=">u8").astype(np.uint64)
            root = data[2 + 8 * n :].decode("utf-8")
        except (struct.error, ValueError, UnicodeDecodeError):
            return None
        return cls(sig, root) if len(sig) == n and root else None


class _LshIndex:
    """First-come LSH buckets and per-item records in a DedupStore."""

    def __init__(self, store: DedupStore, name: str, threshold: float, bands: tuple[int, int], ttl_s: int):
        """Use `store` under the key space `name`."""
        self._store = store
        self._name = f"{KEY_PREFIX}:{name}"
        self._threshold = threshold
        self._bands, self._rows = bands
        self._ttl = ttl_s

    def known(self, item_id: str) -> str | None:
        """Return the root recorded for an item, or None when unknown."""
        data = self._store.get_many([self._item_key(item_id)])[0]
        record = _Record.decode(data) if data is not None else None
        return record.root if record else None

    def add(self, item_id: str, sig: np.ndarray, exact: str | None = None) -> str:
        """Remember an item; return the root of the earliest confirmed similar item (itself when none).

        `exact`: a digest of the normalised text, so identical texts join without a signature check.
        """
        keys = [self._band_key(i, sig) for i in range(self._bands)]
        if exact is not None:
            keys.append(f"{self._name}:x:{exact}")
        me = item_id.encode("utf-8")
        firsts = self._store.put_if_absent([(k, me) for k in keys], self._ttl)
        candidates = list(dict.fromkeys(f.decode("utf-8") for f in firsts if f is not None and f != me))
        root = item_id
        if candidates:
            records = self._store.get_many([self._item_key(c) for c in candidates])
            exact_first = firsts[-1].decode("utf-8") if exact is not None and firsts[-1] else None
            for cand, data in zip(candidates, records, strict=True):
                record = _Record.decode(data) if data is not None else None
                if record is None:
                    continue
                if cand == exact_first or similarity(sig, record.sig) >= self._threshold:
                    root = record.root
                    break
        self._store.put([(self._item_key(item_id), _Record(sig, root).encode())], self._ttl)
        return root

    def _item_key(self, item_id: str) -> str:
        """Return the key of an item's record."""
        return f"{self._name}:i:{item_id}"

    def _band_key(self, band: int, sig: np.ndarray) -> str:
        """Return the bucket key of one band of a signature."""
        part = sig[band * self._rows : (band + 1) * self._rows].tobytes()
        return f"{self._name}:b{band}:{hashlib.blake2b(part, digest_size=8).hexdigest()}"


class DuplicateIndex:
    """Report the earliest near-duplicate of each new text (online; shared when the store is)."""

    def __init__(self, store: DedupStore | None = None, *, threshold: float = DUPLICATE_THRESHOLD) -> None:
        """Use `store` (default: a new in-memory one); `threshold` is the Jaccard of character 5-grams."""
        self._index = _LshIndex(
            store if store is not None else MemoryDedupStore(),
            "dup",
            threshold,
            DUPLICATE_BANDS,
            DUPLICATE_TTL_S,
        )

    def add(self, post_id: str, text: str) -> str | None:
        """Remember a text; return the id of an earlier near-duplicate (the first one seen), else None."""
        known = self._index.known(post_id)
        if known is not None:
            return known if known != post_id else None
        norm = normalise(text)[:MAX_SHINGLED_CHARS]
        if len(norm) < MIN_CHARS:
            return None
        digest = hashlib.blake2b(norm.encode("utf-8"), digest_size=12).hexdigest()
        root = self._index.add(post_id, signature(_shingles(norm)), exact=digest)
        return root if root != post_id else None


class StoryIndex:
    """Group posts about the same thing: a post joins the story of an earlier post with similar lemmas."""

    def __init__(self, store: DedupStore | None = None, *, threshold: float = STORY_THRESHOLD) -> None:
        """Use `store` (default: a new in-memory one); `threshold` is the Jaccard of content-lemma sets."""
        self._index = _LshIndex(
            store if store is not None else MemoryDedupStore(), "story", threshold, STORY_BANDS, STORY_TTL_S
        )

    def add(self, post_id: str, text: str, lemma_list: Sequence[str] | None = None) -> str | None:
        """Remember a post; return its story id (the first post of the story), None for too short texts."""
        known = self._index.known(post_id)
        if known is not None:
            return known
        words = set(lemma_list if lemma_list is not None else lemmas(clean(text)))
        words = {w for w in words if not w.isdigit() and len(w) > 2}
        if len(words) < MIN_STORY_LEMMAS:
            return None
        return self._index.add(post_id, signature(w.encode("utf-8") for w in sorted(words)))


class Deduper:
    """Set `duplicate_of` and `story_id` on understood posts, in publication order."""

    def __init__(self, store: DedupStore | None = None) -> None:
        """Share one store between the duplicate and the story index (default: in memory)."""
        shared = store if store is not None else MemoryDedupStore()
        self.duplicates = DuplicateIndex(shared)
        self.stories = StoryIndex(shared)

    def mark(self, posts: Sequence[Post]) -> list[Post]:
        """Return copies of posts with duplicate_of and story_id (values already set are kept), in order."""
        order = sorted(range(len(posts)), key=lambda i: posts[i].published_at)
        out: list[Post] = list(posts)
        for i in order:
            post = posts[i]
            dup = post.duplicate_of or self.duplicates.add(post.id, post.text)
            story = post.story_id or self.stories.add(post.id, post.text, post.lemmas.split() or None)
            if dup != post.duplicate_of or story != post.story_id:
                out[i] = post.model_copy(update={"duplicate_of": dup, "story_id": story})
        return out


def _shingles(norm: str) -> Iterable[bytes]:
    """Return the distinct character shingles of a normalised text."""
    if len(norm) <= SHINGLE_CHARS:
        return [norm.encode("utf-8")]
    return list({norm[i : i + SHINGLE_CHARS].encode("utf-8") for i in range(len(norm) - SHINGLE_CHARS + 1)})
