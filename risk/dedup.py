"""Online near-duplicates (reposts, copy-pastes) and stories (posts about one thing), over a shared store.

Both use MinHash signatures split into LSH bands, computed with numpy for a whole batch at once (one
uint64 key per feature: character 5-grams packed exactly, lemmas by CRC-32; MurmurHash3's finaliser,
then NUM_PERM multiply-shift hashes), and a batch costs a few store round trips, not a few per post.
Each band's bucket remembers the first post that fell
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
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

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


_MASK32 = np.uint64(0xFFFFFFFF)
#: Per-permutation multiply-shift hashes h_k(x) = (a_k·x + b_k) mod 2⁶⁴ >> 32 (a_k odd), fixed seed so
#: every process computes the same signatures.
_RNG = np.random.default_rng(20260301)
_PERM_A = _RNG.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _RNG.integers(0, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2)
#: Rows of the (features × permutations) matrix computed at once (64 columns of 8 bytes: 25 MB).
MAX_MATRIX_ROWS = 50_000
#: Bits per character in a shingle key (normalised code points are below 2¹¹: ASCII and а..я).
_CHAR_BITS = 11


def _fmix64(x: np.ndarray) -> np.ndarray:
    """Return MurmurHash3's 64-bit finaliser of every uint64 (a bijection that spreads the bits)."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def signatures(feature_keys: Sequence[np.ndarray]) -> np.ndarray:
    """Return the MinHash signatures (uint64, n × NUM_PERM, values < 2³²) of n non-empty uint64 key sets."""
    out = np.empty((len(feature_keys), NUM_PERM), dtype=np.uint64)
    start = 0
    while start < len(feature_keys):
        stop, rows = start, 0
        while stop < len(feature_keys) and (
            stop == start or rows + len(feature_keys[stop]) <= MAX_MATRIX_ROWS
        ):
            rows += len(feature_keys[stop])
            stop += 1
        chunk = feature_keys[start:stop]
        keys = _fmix64(np.concatenate(chunk).astype(np.uint64, copy=False)) >> np.uint64(32)
        matrix = np.multiply.outer(keys, _PERM_A)
        matrix += _PERM_B
        matrix >>= np.uint64(32)
        offsets = np.cumsum([0, *(len(k) for k in chunk[:-1])])
        out[start:stop] = np.minimum.reduceat(matrix, offsets, axis=0)
        start = stop
    return out


def signature(features: Iterable[bytes]) -> np.ndarray:
    """Return the MinHash values (uint64, NUM_PERM) of a non-empty set of byte features."""
    sig: np.ndarray = signatures([feature_keys(features)])[0]
    return sig


def feature_keys(features: Iterable[bytes]) -> np.ndarray:
    """Return a uint64 key (CRC-32) per byte feature."""
    return np.fromiter((zlib.crc32(f) for f in features), dtype=np.uint64)


def shingle_keys(norm: str) -> np.ndarray:
    """Return one exact uint64 key per character SHINGLE_CHARS-gram of a normalised text (repeats kept)."""
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    codes &= np.uint64((1 << _CHAR_BITS) - 1)
    n = len(codes) - SHINGLE_CHARS + 1
    if n <= 0:
        return codes[:1].copy() if len(codes) else np.zeros(1, dtype=np.uint64)
    keys = codes[:n].copy()
    for k in range(1, SHINGLE_CHARS):
        keys <<= np.uint64(_CHAR_BITS)
        keys |= codes[k : k + n]
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Return the estimated Jaccard similarity of two signatures."""
    if len(a) != len(b) or not len(a):
        return 0.0
    return int(np.count_nonzero(a == b)) / len(a)


#: Flag in a record's length header: the signature values take 4 bytes each (records before it: 8).
_NARROW = 0x8000


@dataclass(frozen=True)
class _Record:
    """What the store keeps per item: its signature and its root."""

    sig: np.ndarray
    root: str

    def encode(self) -> bytes:
        """Return the record as bytes: signature length (| _NARROW), signature, root.

        MinHash values are below 2³², so they are written in 4 bytes each: a record of 64 values and a
        short id takes ~300 bytes instead of ~560 (every post has one record per index in the store).
        """
        if len(self.sig) and int(self.sig.max()) > 0xFFFFFFFF:
            return (
                struct.pack(">H", len(self.sig))
                + self.sig.astype(">u8").tobytes()
                + self.root.encode("utf-8")
            )
        head = struct.pack(">H", len(self.sig) | _NARROW)
        return head + self.sig.astype(">u4").tobytes() + self.root.encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> _Record | None:
        """Return a record from bytes (4- or 8-byte values), or None when they are not one."""
        try:
            (head,) = struct.unpack(">H", data[:2])
            n, width = (head & ~_NARROW, 4) if head & _NARROW else (head, 8)
            body = data[2 : 2 + width * n]
            sig = np.frombuffer(body, dtype=">u4" if width == 4 else ">u8").astype(np.uint64)
            root = data[2 + width * n :].decode("utf-8")
        except (struct.error, ValueError, UnicodeDecodeError):
            return None
        return cls(sig, root) if len(sig) == n and root else None


@dataclass(frozen=True, slots=True)
class _Item:
    """One item to index: its id, signature and (optionally) the digest of its exact text."""

    item_id: str
    sig: np.ndarray
    exact: str | None = None


class _LshIndex:
    """First-come LSH buckets and per-item records in a DedupStore, written a batch at a time."""

    def __init__(self, store: DedupStore, name: str, threshold: float, bands: tuple[int, int], ttl_s: int):
        """Use `store` under the key space `name`."""
        self._store = store
        self._name = f"{KEY_PREFIX}:{name}"
        self._threshold = threshold
        self._bands, self._rows = bands
        self._ttl = ttl_s
        rng = np.random.default_rng(bands[0] * 1000 + bands[1])
        self._mix = rng.integers(1, 2**63, self._rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)

    def known_many(self, item_ids: Sequence[str]) -> list[str | None]:
        """Return the root recorded for each item, or None when unknown (one store round trip)."""
        if not item_ids:
            return []
        out: list[str | None] = []
        for data in self._store.get_many([self._item_key(i) for i in item_ids]):
            record = _Record.decode(data) if data is not None else None
            out.append(record.root if record else None)
        return out

    def add_many(self, items: Sequence[_Item]) -> list[str]:
        """Remember items in order; return each one's root: the earliest confirmed similar item, or itself.

        An item may be matched by a later one of the same batch. A few store round trips per batch: the
        buckets (set-if-absent, in order), the records of candidates from earlier batches, the records.
        """
        if not items:
            return []
        band_hashes = self._band_hashes(np.stack([it.sig for it in items]))
        keys_per_item: list[list[str]] = []
        for it, hashes in zip(items, band_hashes.tolist(), strict=True):
            keys = [f"{self._name}:b{band}:{h:016x}" for band, h in enumerate(hashes)]
            if it.exact is not None:
                keys.append(f"{self._name}:x:{it.exact}")
            keys_per_item.append(keys)
        flat = [
            (k, it.item_id.encode("utf-8"))
            for it, keys in zip(items, keys_per_item, strict=True)
            for k in keys
        ]
        firsts_flat = self._store.put_if_absent(flat, self._ttl)
        firsts: list[list[bytes | None]] = []
        pos = 0
        for keys in keys_per_item:
            firsts.append(firsts_flat[pos : pos + len(keys)])
            pos += len(keys)
        batch_ids = {it.item_id for it in items}
        candidates: list[list[str]] = []
        outside: dict[str, None] = {}
        for it, found in zip(items, firsts, strict=True):
            me = it.item_id.encode("utf-8")
            cands = list(dict.fromkeys(f.decode("utf-8") for f in found if f is not None and f != me))
            candidates.append(cands)
            outside.update((c, None) for c in cands if c not in batch_ids)
        records: dict[str, _Record] = {}
        if outside:
            for cand, data in zip(
                outside, self._store.get_many([self._item_key(c) for c in outside]), strict=True
            ):
                record = _Record.decode(data) if data is not None else None
                if record is not None:
                    records[cand] = record
        roots: list[str] = []
        for it, found, cands in zip(items, firsts, candidates, strict=True):
            exact_first = found[-1].decode("utf-8") if it.exact is not None and found[-1] else None
            root = it.item_id
            for cand in cands:
                record = records.get(cand)
                if record is None:
                    continue
                if cand == exact_first or similarity(it.sig, record.sig) >= self._threshold:
                    root = record.root
                    break
            records[it.item_id] = _Record(it.sig, root)
            roots.append(root)
        self._store.put(
            [(self._item_key(it.item_id), records[it.item_id].encode()) for it in items], self._ttl
        )
        return roots

    def _item_key(self, item_id: str) -> str:
        """Return the key of an item's record."""
        return f"{self._name}:i:{item_id}"

    def _band_hashes(self, sigs: np.ndarray) -> np.ndarray:
        """Return one 64-bit hash per band of every signature (n × bands)."""
        rows = sigs[:, : self._bands * self._rows].reshape(len(sigs), self._bands, self._rows)
        return _fmix64(np.asarray(np.sum(rows * self._mix, axis=2, dtype=np.uint64)))


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
        return self.add_many([(post_id, text)])[0]

    def add_many(self, items: Sequence[tuple[str, str]]) -> list[str | None]:
        """Remember (id, text) pairs in order; return each one's earlier near-duplicate, else None."""
        known = self._index.known_many([post_id for post_id, _ in items])
        out: list[str | None] = [
            k if k != post_id else None for k, (post_id, _) in zip(known, items, strict=True)
        ]
        todo: list[tuple[int, str, str, str]] = []  # index, id, digest, normalised text
        for i, ((post_id, text), root) in enumerate(zip(items, known, strict=True)):
            if root is not None:
                continue
            norm = normalise(text)[:MAX_SHINGLED_CHARS]
            if len(norm) >= MIN_CHARS:
                todo.append(
                    (i, post_id, hashlib.blake2b(norm.encode("utf-8"), digest_size=12).hexdigest(), norm)
                )
        if not todo:
            return out
        sigs = signatures([shingle_keys(norm) for _, _, _, norm in todo])
        roots = self._index.add_many(
            [_Item(pid, sig, d) for (_, pid, d, _), sig in zip(todo, sigs, strict=True)]
        )
        for (i, post_id, _, _), root in zip(todo, roots, strict=True):
            out[i] = root if root != post_id else None
        return out


class StoryIndex:
    """Group posts about the same thing: a post joins the story of an earlier post with similar lemmas."""

    def __init__(self, store: DedupStore | None = None, *, threshold: float = STORY_THRESHOLD) -> None:
        """Use `store` (default: a new in-memory one); `threshold` is the Jaccard of content-lemma sets."""
        self._index = _LshIndex(
            store if store is not None else MemoryDedupStore(), "story", threshold, STORY_BANDS, STORY_TTL_S
        )

    def add(self, post_id: str, text: str, lemma_list: Sequence[str] | None = None) -> str | None:
        """Remember a post; return its story id (the first post of the story), None for too short texts."""
        return self.add_many([(post_id, text, lemma_list)])[0]

    def add_many(self, items: Sequence[tuple[str, str, Sequence[str] | None]]) -> list[str | None]:
        """Remember (id, text, lemmas or None) in order; return each one's story id (None: too short)."""
        known = self._index.known_many([post_id for post_id, _, _ in items])
        out: list[str | None] = list(known)
        todo: list[tuple[int, str, np.ndarray]] = []
        for i, ((post_id, text, lemma_list), root) in enumerate(zip(items, known, strict=True)):
            if root is not None:
                continue
            words = set(lemma_list if lemma_list is not None else lemmas(clean(text)))
            words = {w for w in words if not w.isdigit() and len(w) > 2}
            if len(words) >= MIN_STORY_LEMMAS:
                todo.append((i, post_id, feature_keys(w.encode("utf-8") for w in words)))
        if not todo:
            return out
        sigs = signatures([keys for _, _, keys in todo])
        roots = self._index.add_many([_Item(pid, sig) for (_, pid, _), sig in zip(todo, sigs, strict=True)])
        for (i, _, _), root in zip(todo, roots, strict=True):
            out[i] = root
        return out


class Deduper:
    """Set `duplicate_of` and `story_id` on understood posts, in publication order."""

    def __init__(self, store: DedupStore | None = None) -> None:
        """Share one store between the duplicate and the story index (default: in memory)."""
        shared = store if store is not None else MemoryDedupStore()
        self.duplicates = DuplicateIndex(shared)
        self.stories = StoryIndex(shared)

    def mark(self, posts: Sequence[Post]) -> list[Post]:
        """Return copies of posts with duplicate_of and story_id (values already set are kept), in order.

        The whole batch goes to each index at once (a few store round trips per batch, not per post).
        """
        order = sorted(range(len(posts)), key=lambda i: posts[i].published_at)
        dup_todo = [i for i in order if not posts[i].duplicate_of]
        story_todo = [i for i in order if not posts[i].story_id]
        dups = dict(
            zip(
                dup_todo,
                self.duplicates.add_many([(posts[i].id, posts[i].text) for i in dup_todo]),
                strict=True,
            )
        )
        story_items = [(posts[i].id, posts[i].text, posts[i].lemmas.split() or None) for i in story_todo]
        stories = dict(zip(story_todo, self.stories.add_many(story_items), strict=True))
        out: list[Post] = list(posts)
        for i, post in enumerate(posts):
            dup = dups.get(i, post.duplicate_of)
            story = stories.get(i, post.story_id)
            if dup != post.duplicate_of or story != post.story_id:
                out[i] = post.model_copy(update={"duplicate_of": dup, "story_id": story})
        return out
