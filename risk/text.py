"""Russian text basics: cleaning social-media markup, tokens and pymorphy3 lemmas (cached)."""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

#: Cleaned texts are cut to this many characters, so a 1 MB post costs the same as a long one.
MAX_TEXT_CHARS = 20_000
#: Raw input is cut to this many characters before any regex runs (room for HTML markup).
MAX_RAW_CHARS = 4 * MAX_TEXT_CHARS
#: Word forms kept in each of the lemma and the tag caches (social media reuse the same forms a lot).
#: Full, they held 39 MiB (forms) and 19 MiB (tags) per process with 200,000 distinct words of navec's
#: vocabulary; at most FORMS_ENTRY_BYTES and TAGS_ENTRY_BYTES per entry (76 and 38 MiB full), which
#: tests/risk/test_text_cache.py checks.
LEMMA_CACHE_SIZE = 200_000
FORMS_ENTRY_BYTES = 400
TAGS_ENTRY_BYTES = 200

_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|p|div|li)\b[^>]{0,500}>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,1000}>")
#: Blocks whose content is not text: (opening marker, closing marker), lowercase.
_BLOCKS = (("<!--", "-->"), ("<script", "</script>"), ("<style", "</style>"))
_VK_MENTION = re.compile(r"\[(?:id|club|public|event)\d{1,20}\|([^\]\[]{0,200})\]")
_VK_AT_MENTION = re.compile(r"@(?:id|club|public)\d{1,20}\s*\(([^()]{0,200})\)")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']{1,2000}"
    r"|\b(?:vk\.com|vk\.cc|t\.me|ok\.ru|youtu\.be|clck\.ru)/[^\s<>\"']{0,2000}",
    re.IGNORECASE,
)
_HASHTAG = re.compile(r"#(\w)")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_PROMO_TAIL = re.compile(
    r"(?:^|\n|[.!?]\s)\s*[^\w\n]{0,3}\s*(?:"
    r"подписывайтесь|подпишитесь|подписаться на|подпишись|"
    r"источник\s*:|фото\s*:\s*\S+\s*$|читайте (?:также|нас)|больше новостей|"
    r"предложить новость|прислать новость|присылайте (?:ваши )?новости|"
    r"наш (?:телеграм|канал|паблик)|мы в (?:телеграм|вк|вконтакте|одноклассниках)"
    r")",
    re.IGNORECASE,
)
#: A promo tail is cut only when at least this much text precedes it.
_PROMO_MIN_PREFIX = 20

#: Longer "words" (base64, keyboard mashing) are not tokens.
MAX_TOKEN_CHARS = 40
_TOKEN = re.compile(r"[а-яёa-z]+(?:-[а-яёa-z]+)*|\d+", re.IGNORECASE)
#: A lowercase Cyrillic letter directly followed by a capital one: two words glued together when line
#: breaks were lost ("рекуЖители") or a CamelCase company name ("ТеплоСеть"); both read as two tokens.
_GLUED = re.compile(r"(?<=[а-яё])(?=[А-ЯЁ])")


def _token_matches(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield (token, start, end) of `text` (cut to MAX_TEXT_CHARS); glued words split, overlong skipped."""
    for m in _TOKEN.finditer(text[:MAX_TEXT_CHARS]):
        word, start = m.group(), m.start()
        if len(word) > 2 and _GLUED.search(word):
            pos = 0
            for cut in [g.start() for g in _GLUED.finditer(word)] + [len(word)]:
                part = word[pos:cut]
                if part and len(part) <= MAX_TOKEN_CHARS:
                    yield part, start + pos, start + cut
                pos = cut
        elif m.end() - start <= MAX_TOKEN_CHARS:
            yield word, start, m.end()


def clean(text: str) -> str:
    """Return `text` without HTML, VK markup, URLs, promo tails; spaces collapsed; cut to MAX_TEXT_CHARS."""
    if not text:
        return ""
    s = text[:MAX_RAW_CHARS]
    if "<" in s:
        s = _drop_blocks(s)
        s = _BLOCK_TAG.sub("\n", s)
        s = _TAG.sub(" ", s)
    if "&" in s:
        s = html.unescape(s)
        if "<" in s:  # escaped markup such as &lt;br&gt;
            s = _BLOCK_TAG.sub("\n", s)
            s = _TAG.sub(" ", s)
    if "[" in s:
        s = _VK_MENTION.sub(r"\1", s)
    if "@" in s:
        s = _VK_AT_MENTION.sub(r"\1", s)
    s = _URL.sub(" ", s)
    s = _HASHTAG.sub(r"\1", s)
    s = _INVISIBLE.sub("", s)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _SPACES.sub(" ", s)
    s = _NEWLINES.sub("\n", s).strip()
    tail = _PROMO_TAIL.search(s, _PROMO_MIN_PREFIX)
    if tail is not None:
        s = s[: tail.start() + (1 if s[tail.start()] in ".!?" else 0)].rstrip()
    if len(s) > MAX_TEXT_CHARS:
        cut = s.rfind(" ", MAX_TEXT_CHARS - 100, MAX_TEXT_CHARS)
        s = s[: cut if cut > 0 else MAX_TEXT_CHARS]
    return s


def _drop_blocks(s: str) -> str:
    """Return `s` without HTML comments, scripts and styles (linear time; an unclosed block loses its tag)."""
    lower = s.lower()
    if not any(opener in lower for opener, _ in _BLOCKS):
        return s
    next_open = {o: lower.find(o) for o, _ in _BLOCKS}
    closed = dict.fromkeys((o for o, _ in _BLOCKS), True)  # False once a closer is known to be absent
    out: list[str] = []
    pos = 0
    while True:
        for o in next_open:
            if 0 <= next_open[o] < pos:
                next_open[o] = lower.find(o, pos)
        live = [(p, o) for o, p in next_open.items() if p >= 0]
        if not live:
            break
        start, opener = min(live)
        closer = dict(_BLOCKS)[opener]
        end = lower.find(closer, start + len(opener)) if closed[opener] else -1
        out.append(s[pos:start])
        out.append(" ")
        if end >= 0:
            pos = end + len(closer)
        else:
            closed[opener] = False
            gt = lower.find(">", start, start + 500)
            pos = gt + 1 if gt >= 0 and opener != "<!--" else start + len(opener)
    out.append(s[pos:])
    return "".join(out)


def normalize_word(word: str) -> str:
    """Return a word lowercased with ё replaced by е."""
    return word.lower().replace("ё", "е")


def tokens(text: str) -> list[str]:
    """Return the word and number tokens of `text`, lowercased, ё→е (input cut to MAX_TEXT_CHARS)."""
    return [normalize_word(word) for word, _, _ in _token_matches(text)]


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Return (original token, start, end) for every token of `text` (input cut to MAX_TEXT_CHARS)."""
    return list(_token_matches(text))


@cache
def _morph() -> Any:
    """Return the process-wide pymorphy3 analyzer (built once, about 0.1 s)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=LEMMA_CACHE_SIZE)
def forms(word: str) -> tuple[str, ...]:
    """Return the possible lemmas of a lowercase word, most probable first (ё→е).

    Lemmas are interned: the many forms of one word share its lemma's string in the cache.
    """
    if not word or word.isdigit() or not ("а" <= word[0] <= "я" or word[0] == "ё"):
        return (word,)
    totals: dict[str, float] = {}
    for parse in _morph().parse(word):
        lemma = sys.intern(normalize_word(parse.normal_form))
        totals[lemma] = totals.get(lemma, 0.0) + float(parse.score)
    ranked = sorted(totals, key=lambda lem: -totals[lem])[:4]  # stable: ties keep parse order
    return tuple(ranked) or (word,)


def lemma(word: str) -> str:
    """Return the most probable lemma of a word (lowercased, ё→е)."""
    return forms(normalize_word(word))[0]


@lru_cache(maxsize=LEMMA_CACHE_SIZE)
def tags(word: str) -> frozenset[str]:
    """Return the grammemes of the most probable parse of a lowercase word (e.g. {"NOUN", "Surn"}).

    Words with the same tag share one set (see _grammemes): a cache entry is the word and a reference.
    """
    if not word or word.isdigit():
        return frozenset({"NUMB"} if word else ())
    return _grammemes(str(_morph().parse(word)[0].tag))


#: Distinct pymorphy tags whose grammeme sets are kept (the dictionary has a few thousand).
TAG_CACHE_SIZE = 8192


@lru_cache(maxsize=TAG_CACHE_SIZE)
def _grammemes(tag: str) -> frozenset[str]:
    """Return the grammemes of a pymorphy tag string ("NOUN,anim,masc sing,nomn"), one set per tag."""
    return frozenset(sys.intern(g) for g in tag.replace(" ", ",").split(","))


def _read_words(name: str) -> frozenset[str]:
    """Return the non-comment lines of a lexicon text file as a set of normalised words."""
    body = resources.files("risk.lexicon").joinpath(name).read_text(encoding="utf-8")
    return frozenset(
        normalize_word(w) for line in body.splitlines() for w in line.split("#", 1)[0].split() if w.strip()
    )


#: Russian function words dropped from `lemmas` (as lemmas).
STOP_WORDS: frozenset[str] = _read_words("stopwords.txt")


def lemmas(text: str) -> list[str]:
    """Return the lemmas of `text` (lowercase, ё→е) with stop words dropped."""
    out: list[str] = []
    for tok in tokens(text):
        lem = forms(tok)[0]
        if (lem not in STOP_WORDS and len(lem) > 1) or lem.isdigit():
            out.append(lem)
    return out


def query_lemmas(query: str) -> list[str]:
    """Return the distinct lemmas of a search query in order (stop words dropped unless nothing is left)."""
    all_lemmas = [forms(tok)[0] for tok in tokens(query)]
    kept = [lem for lem in all_lemmas if lem not in STOP_WORDS] or all_lemmas
    return list(dict.fromkeys(kept))


@dataclass(slots=True)
class Doc:
    """A cleaned text with its tokens and lemma candidates, shared by the understanding stages."""

    text: str
    words: list[str] = field(default_factory=list)  # normalised tokens
    spans: list[tuple[int, int]] = field(default_factory=list)  # token offsets in `text`
    lemma_forms: list[tuple[str, ...]] = field(default_factory=list)  # candidate lemmas per token
    lemma_set: frozenset[str] = frozenset()  # every candidate lemma of every token
    #: Values the stages derive from this text, worked out once and freed with it (e.g. its vector).
    derived: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def lemmas(self) -> list[str]:
        """Return the most probable lemma of every token (stop words included)."""
        return [f[0] for f in self.lemma_forms]

    def content_lemmas(self) -> list[str]:
        """Return the most probable lemmas without stop words."""
        return [
            f[0] for f in self.lemma_forms if (f[0] not in STOP_WORDS and len(f[0]) > 1) or f[0].isdigit()
        ]


def analyse(raw: str, *, cleaned: bool = False) -> Doc:
    """Return a Doc for a raw text (cleaned first unless `cleaned`)."""
    text = raw if cleaned else clean(raw)
    text = text[:MAX_TEXT_CHARS]
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    lemma_forms: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for word, start, end in _token_matches(text):
        w = normalize_word(word)
        f = forms(w)
        words.append(w)
        spans.append((start, end))
        lemma_forms.append(f)
        seen.update(f)
    return Doc(text=text, words=words, spans=spans, lemma_forms=lemma_forms, lemma_set=frozenset(seen))


@dataclass(frozen=True, slots=True)
class Hit:
    """One lexicon phrase found in a Doc: token range [start, end) and the entry's payload."""

    start: int
    end: int
    phrase: str
    weight: float
    label: str


def parse_weighted(entry: object, default: float = 1.0) -> tuple[str, float]:
    """Return (phrase, weight) from a lexicon entry like "яма=2.5" (default weight when none is given)."""
    text = str(entry).strip()
    phrase, sep, weight = text.rpartition("=")
    if sep:
        try:
            return phrase.strip(), float(weight)
        except ValueError:
            pass
    return text, default


class PhraseMatcher:
    """Find lemmatised words and consecutive phrases of a lexicon in a Doc."""

    def __init__(self) -> None:
        """Create an empty matcher."""
        self._index: dict[str, list[tuple[tuple[str, ...], str, float, str]]] = {}

    def add(self, phrase: str, weight: float, label: str) -> None:
        """Add a phrase (any word forms; lemmatised here) with its weight and label; keep the max weight."""
        key = tuple(lemma(tok) for tok in tokens(phrase))
        if not key:
            return
        bucket = self._index.setdefault(key[0], [])
        for i, (k, p, w, lab) in enumerate(bucket):
            if k == key and lab == label:
                bucket[i] = (k, p, max(w, weight), lab)
                return
        bucket.append((key, phrase, weight, label))

    def add_entries(self, entries: list[object] | None, label: str, default: float = 1.0) -> None:
        """Add lexicon entries ("word" or "word=weight") under one label."""
        for entry in entries or []:
            phrase, weight = parse_weighted(entry, default)
            self.add(phrase, weight, label)

    def __len__(self) -> int:
        """Return the number of phrases."""
        return sum(len(b) for b in self._index.values())

    def find(self, doc: Doc) -> list[Hit]:
        """Return every occurrence; at each position only the longest phrases (one per label) count."""
        hits: list[Hit] = []
        forms_ = doc.lemma_forms
        n = len(forms_)
        i = 0
        while i < n:
            size_best = 0
            found: list[tuple[str, float, str]] = []
            for f in forms_[i]:
                for key, phrase, weight, label in self._index.get(f, ()):
                    size = len(key)
                    if size < size_best or i + size > n:
                        continue
                    if not all(key[k] in forms_[i + k] for k in range(1, size)):
                        continue
                    if size > size_best:
                        size_best, found = size, []
                    if all(lab != label for _, _, lab in found):
                        found.append((phrase, weight, label))
            if not found:
                i += 1
                continue
            hits.extend(Hit(start=i, end=i + size_best, phrase=p, weight=w, label=lab) for p, w, lab in found)
            i += size_best
        return hits
