"""Resolve places in a text against the profile's territory tree: districts, settlements, streets, houses."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.models import Place
from index.profile import Profile, Territory
from risk.text import Doc, analyse, forms, normalize_word, tags, tokens

if TYPE_CHECKING:
    from risk.ner import Entity

#: Words (lemmas) that name a street type.
STREET_TYPE_LEMMAS = frozenset(
    [
        "улица",
        "проспект",
        "переулок",
        "бульвар",
        "шоссе",
        "площадь",
        "набережная",
        "проезд",
        "тупик",
        "аллея",
        "микрорайон",
        "квартал",
        "тракт",
        "линия",
        "спуск",
        "въезд",
    ]
)
#: Abbreviated street types as written ("ул.", "пр-т"...), lowercase without the dot.
STREET_TYPE_ABBR = frozenset(
    [
        "ул",
        "пр",
        "пр-т",
        "пр-кт",
        "просп",
        "пер",
        "б-р",
        "бул",
        "ш",
        "пл",
        "наб",
        "пр-д",
        "мкр",
        "мкрн",
        "мкр-н",
        "кв-л",
        "туп",
    ]
)
#: Words (lemmas) that name a territory type; dropped from territory names to get their core.
TERRITORY_TYPE_LEMMAS = frozenset(
    [
        "район",
        "село",
        "поселок",
        "посёлок",
        "деревня",
        "город",
        "округ",
        "микрорайон",
        "мкр",
        "станица",
        "хутор",
        "слобода",
        "сельсовет",
        "поселение",
        "пгт",
        "рп",
        "городской",
        "сельский",
        "муниципальный",
        "административный",
        "р-н",
        "аул",
        "кишлак",
    ]
)
TERRITORY_TYPE_ABBR = frozenset(["г", "с", "п", "д", "пгт", "рп", "р-н", "х", "ст", "сл", "мкр", "мкрн"])
#: Prepositions after which a capitalised street name is taken without a street type ("на Ленина").
PLACE_PREPOSITIONS = frozenset(
    [
        "на",
        "по",
        "у",
        "возле",
        "около",
        "напротив",
        "вдоль",
        "до",
        "от",
        "за",
        "к",
        "с",
        "со",
        "в",
        "во",
        "между",
        "угол",
        "угла",
        "перекресток",
    ]
)
#: The house number may carry a letter, also after a space ("5 а"), but not a one-letter preposition
#: ("д 5 в Колпино").
#: Similarity (difflib ratio) a misspelt street name needs after a street type word ("ул. Ленена").
FUZZY_CUTOFF = 0.8
#: Depth order of territory levels (deeper is more specific).
LEVEL_DEPTH = {"region": 0, "municipality": 1, "district": 2, "settlement": 3}

_HOUSE = re.compile(
    r"\s*,?\s*(?:(?:д|дом|д\.|№)\s*\.?\s*)?(\d{1,4}(?:(?:\s(?![вскуиаоВСКУИАО]\b))?[а-яА-Я](?![а-яА-Яa-zA-Z\d]))?(?:/\d{1,4})?"
    r"(?:\s*(?:к|корп|корпус|стр|строение)\.?\s*\d{1,3})?)(?![\d:.,]\d)"
)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One name of the gazetteer: its lemma sequence and what it resolves to."""

    key: tuple[str, ...]
    name: str
    level: str  # district | settlement | ... | street
    territories: tuple[str, ...]  # candidate territory ids (a street may exist in several)
    common: bool  # the core is an ordinary word, so it needs context to count


def _core(name: str, type_lemmas: frozenset[str], type_abbr: frozenset[str]) -> tuple[str, ...]:
    """Return the lemma sequence of a name without its type words ("ул. Ленина" → ("ленин",))."""
    out = []
    for tok in tokens(name):
        lem = forms(tok)[0]
        if tok in type_abbr or lem in type_lemmas:
            continue
        out.append(lem)
    return tuple(out)


def _is_common(key: tuple[str, ...]) -> bool:
    """Return True when a one-word name is an ordinary word (not a surname, first name or toponym)."""
    if len(key) != 1 or key[0].isdigit():
        return False
    return not (tags(key[0]) & {"Surn", "Name", "Geox", "Patr"})


class Gazetteer:
    """A lemma index of the profile's territory names, aliases and streets, built once."""

    def __init__(self, profile: Profile | None) -> None:
        """Index every territory and street of `profile` (an empty gazetteer without one)."""
        self._by_first: dict[str, list[_Entry]] = {}
        self._depth: dict[str, int] = {}
        self._parents: dict[str, str] = profile.parents() if profile else {}
        streets: dict[tuple[str, ...], tuple[str, list[str]]] = {}
        if profile is not None:
            for node in profile.walk():
                self._depth[node.id] = self._depth_of(node.id)
                self._add_territory(node)
                for street in node.streets:
                    key = _core(street, STREET_TYPE_LEMMAS, STREET_TYPE_ABBR)
                    if any(len(k) > 2 and not k.isdigit() for k in key):  # not "1-й пер." alone
                        streets.setdefault(key, (street, []))[1].append(node.id)
        for key, (name, ids) in streets.items():
            self._add(_Entry(key, name, "street", tuple(dict.fromkeys(ids)), _is_common(key)))
        self._fuzzy: dict[str, str] = {}  # street word as written or its lemma → the key's first lemma
        for key, (name, _) in streets.items():
            if len(key) == 1:
                self._fuzzy[key[0]] = key[0]
                for tok in tokens(name):
                    if forms(tok)[0] == key[0]:
                        self._fuzzy.setdefault(tok, key[0])
        self._street_words = sorted(self._fuzzy)

    def __bool__(self) -> bool:
        """Return True when the gazetteer has any name."""
        return bool(self._by_first)

    def _depth_of(self, territory_id: str) -> int:
        """Return the number of ancestors of a territory."""
        depth, tid = 0, territory_id
        while tid in self._parents:
            tid = self._parents[tid]
            depth += 1
        return depth

    def _add_territory(self, node: Territory) -> None:
        """Index a territory's name and aliases."""
        for name in [node.name, *node.aliases]:
            key = _core(name, TERRITORY_TYPE_LEMMAS, TERRITORY_TYPE_ABBR)
            if not key:
                key = tuple(forms(t)[0] for t in tokens(name))
            if key:
                self._add(
                    _Entry(key, node.name, node.level, (node.id,), _is_common(key) and name == node.name)
                )

    def _add(self, entry: _Entry) -> None:
        """Add an entry under its first lemma."""
        bucket = self._by_first.setdefault(entry.key[0], [])
        if entry not in bucket:
            bucket.append(entry)

    def find_text(self, text: str) -> list[Place]:
        """Return the places of a raw text."""
        return self.find(analyse(text))

    def find(self, doc: Doc) -> list[Place]:
        """Return the places mentioned in an analysed text, in order, without repeats."""
        if not self._by_first or not doc.words:
            return []
        out: list[Place] = []
        seen: set[tuple[str, str, str | None]] = set()
        mentioned: set[str] = set()
        raw: list[tuple[_Entry, int, int, str | None]] = []
        n = len(doc.words)
        i = 0
        while i < n:
            match = self._match_at(doc, i)
            if match is None:
                i += 1
                continue
            entry, end, house = match
            raw.append((entry, i, end, house))
            if entry.level != "street":
                mentioned.update(entry.territories)
            i = end
        for entry, start, end, house in raw:
            territory = self._resolve(entry.territories, mentioned)
            level = "house" if house else entry.level
            key = (level, entry.name, house)
            if key in seen:
                continue
            seen.add(key)
            span = (doc.spans[start][0], doc.spans[end - 1][1])
            out.append(Place(level=level, name=entry.name, territory=territory, house=house, span=span))
        return out

    def territory_of(self, places: Iterable[Place]) -> str | None:
        """Return the most specific territory id among places (the first of the deepest)."""
        best: tuple[int, str] | None = None
        for place in places:
            if place.territory is None:
                continue
            depth = self._depth.get(place.territory, 0)
            if best is None or depth > best[0]:
                best = (depth, place.territory)
        return best[1] if best else None

    def _resolve(self, candidates: tuple[str, ...], mentioned: set[str]) -> str | None:
        """Return the territory of an ambiguous name: the one mentioned nearby, else the common ancestor."""
        if len(candidates) == 1:
            return candidates[0]
        for tid in candidates:
            chain = {tid}
            t = tid
            while t in self._parents:
                t = self._parents[t]
                chain.add(t)
            if chain & mentioned:
                return tid
        ancestors = [self._chain(t) for t in candidates]
        common = [t for t in ancestors[0] if all(t in a for a in ancestors[1:])]
        return common[0] if common else None

    def _chain(self, tid: str) -> list[str]:
        """Return a territory id and its ancestors, nearest first."""
        chain = [tid]
        while chain[-1] in self._parents:
            chain.append(self._parents[chain[-1]])
        return chain

    def _match_at(self, doc: Doc, i: int) -> tuple[_Entry, int, str | None] | None:
        """Return (entry, end token, house) for the longest acceptable name starting at token i."""
        candidates: list[_Entry] = []
        for f in doc.lemma_forms[i]:
            candidates.extend(self._by_first.get(f, ()))
        after_type = i > 0 and _is_street_type(doc, i - 1)
        if not candidates and after_type and self._street_words and len(doc.words[i]) > 3:
            close = difflib.get_close_matches(doc.words[i], self._street_words, n=1, cutoff=FUZZY_CUTOFF)
            if close:
                first = self._fuzzy[close[0]]
                candidates = [
                    e for e in self._by_first.get(first, ()) if e.level == "street" and len(e.key) == 1
                ]
        best: tuple[_Entry, int, str | None] | None = None
        street_near = after_type or (i + 1 < len(doc.words) and _is_street_type(doc, i + 1))
        # Longest first; at equal length a street beside a street word wins over a same-named district.
        for entry in sorted(candidates, key=lambda e: (-len(e.key), (e.level == "street") != street_near)):
            size = len(entry.key)
            if i + size > len(doc.words):
                continue
            if not all(entry.key[k] in doc.lemma_forms[i + k] or k == 0 for k in range(size)):
                continue
            end = i + size
            house = None
            if entry.level == "street":
                type_after = end < len(doc.words) and _is_street_type(doc, end)
                house = _house_after(doc, end + 1 if type_after else end)  # "Садовой улице, д. 5"
            if self._accept(doc, entry, i, end, house, after_type) and (best is None or size > best[1] - i):
                best = (entry, end, house)
        return best

    @staticmethod
    def _accept(doc: Doc, entry: _Entry, start: int, end: int, house: str | None, after_type: bool) -> bool:
        """Return True when the context confirms a name (street type, house number, capital letter...)."""
        capital = doc.text[doc.spans[start][0]].isupper()
        sentence_start = start == 0 or doc.text[doc.spans[start][0] - 2 : doc.spans[start][0]].strip() in {
            ".",
            "!",
            "?",
            "",
        }
        prep = start > 0 and doc.words[start - 1] in PLACE_PREPOSITIONS
        if entry.level == "street":
            if after_type or house or (end < len(doc.words) and _is_street_type(doc, end)):
                return True
            if prep and (capital or not entry.common):
                return True
            if prep and start > 2 and doc.words[start - 2].isdigit() and "дом" in doc.lemma_forms[start - 3]:
                return True  # "у дома 5 на садовой"
            if prep and end - start == 1 and _street_adjective(doc, start):
                return True  # "на станционной за гаражами", but not "на новой машине"
            return capital and not sentence_start and not entry.common
        if not entry.common:
            return True
        type_near = (start > 0 and _is_territory_type(doc, start - 1)) or (
            end < len(doc.words) and _is_territory_type(doc, end)
        )
        return type_near or (capital and not sentence_start)


def _is_street_type(doc: Doc, i: int) -> bool:
    """Return True when token i is a street type word ("ул", "улице", "пр-т", "проспекте")."""
    word = doc.words[i]
    return word in STREET_TYPE_ABBR or any(f in STREET_TYPE_LEMMAS for f in doc.lemma_forms[i])


def _is_territory_type(doc: Doc, i: int) -> bool:
    """Return True when token i is a territory type word ("район", "село", "пос")."""
    word = doc.words[i]
    return word in TERRITORY_TYPE_ABBR or any(f in TERRITORY_TYPE_LEMMAS for f in doc.lemma_forms[i])


def _street_adjective(doc: Doc, i: int) -> bool:
    """Return True for a feminine adjective standing alone as a street name (no feminine noun after it)."""
    if not {"ADJF", "femn", "sing"} <= tags(doc.words[i]):
        return False
    if i + 1 >= len(doc.words):
        return True
    following = tags(doc.words[i + 1])
    return not ({"NOUN", "femn"} <= following or ("ADJF" in following and "femn" in following))


def _house_after(doc: Doc, end: int) -> str | None:
    """Return the house number written right after token `end - 1`, if any ("15", "5а", "10/2 к1")."""
    pos = doc.spans[end - 1][1]
    m = _HOUSE.match(doc.text, pos)
    if m is None:
        return None
    return normalize_word(re.sub(r"\s+", "", m.group(1)))


# Places the gazetteer does not know, from natasha's NER -------------------------------------------------

#: Level of a NER place that has no street or territory type word next to it (not routed by incidents).
NER_PLACE_LEVEL = "place"


#: Words right before a capitalised token that make it a likely place name: place prepositions and a few
#: more ("из Сочи", "под Курском"); territory type words count too ("округа Штарнберг").
NER_CUE_WORDS = PLACE_PREPOSITIONS | frozenset(["из", "изо", "под", "через", "над", "перед", "при", "около"])


def needs_ner(doc: Doc, places: Sequence[Place]) -> bool:
    """Return True when a text may name a place the gazetteer missed.

    No street found yet, and either a street type word, or a capitalised word (not all in capitals: "в МФЦ",
    "в ЦУР", "НА ТРОТУАРЕ") right after a place preposition or a territory type word. A capitalised word
    elsewhere is mostly a name or a sentence start ("Владимир, ...", "Опять ..."): on the
    demo stream the looser rule sent 20 % of posts to NER for 37 places in 5,000 posts, nearly all false.
    """
    if not doc.words or any(p.level in ("street", "house") for p in places):
        return False
    for i, (start, end) in enumerate(doc.spans):
        if _is_street_type(doc, i):
            return True
        if i == 0 or not doc.text[start].isupper():
            continue
        if end - start > 1 and doc.text[start:end].isupper():
            continue
        if doc.words[i - 1] in NER_CUE_WORDS or _is_territory_type(doc, i - 1):
            return True
    return False


def ner_places(doc: Doc, entities: Sequence[Entity], known: Sequence[Place]) -> list[Place]:
    """Return places for the LOC entities of `doc.text` that no gazetteer place covers (territory unknown).

    A street type word inside or before the entity makes it a street (with the house number after it);
    a territory type word makes it a district ("район") or a settlement; a known toponym (pymorphy's Geox)
    a settlement; anything else is level NER_PLACE_LEVEL.
    """
    taken = [p.span for p in known if p.span is not None]
    names = {normalize_word(p.name) for p in known}
    out: list[Place] = []
    for ent in entities:
        if ent.type != "LOC" or any(a < ent.end and ent.start < b for a, b in taken):
            continue
        idx = [i for i, (a, b) in enumerate(doc.spans) if a < ent.end and ent.start < b]
        if not idx:
            continue
        first, last = idx[0], idx[-1] + 1
        street = any(_is_street_type(doc, i) for i in idx) or (first > 0 and _is_street_type(doc, first - 1))
        territory = any(_is_territory_type(doc, i) for i in idx) or (
            first > 0 and _is_territory_type(doc, first - 1)
        )
        core = [i for i in idx if not _is_street_type(doc, i) and not _is_territory_type(doc, i)]
        if not core:
            continue
        name = " ".join(_nominative(doc.text[doc.spans[i][0] : doc.spans[i][1]]) for i in core)
        house = _house_after(doc, last) if street or not territory else None
        level: str
        if street or (house and first > 0 and doc.words[first - 1] in PLACE_PREPOSITIONS):
            level = "house" if house else "street"
        elif territory:
            level = (
                "district"
                if any("район" in doc.lemma_forms[i] for i in range(max(0, first - 1), last))
                else "settlement"
            )
        elif len(core) == 1 and "Geox" in tags(doc.words[core[0]]):
            level = "settlement"
        else:
            level = NER_PLACE_LEVEL
        if normalize_word(name) in names:
            continue
        names.add(normalize_word(name))
        out.append(
            Place(
                level=level,
                name=name,
                territory=None,
                house=house if level == "house" else None,
                span=(ent.start, ent.end),
            )
        )
    return out


def _nominative(word: str) -> str:
    """Return an adjective put in the nominative ("Садовой" → "Садовая"); other words as written."""
    from risk.text import _morph

    parse = _morph().parse(word.lower())[0]
    if "ADJF" not in parse.tag or "nomn" in parse.tag:
        return word
    inflected = parse.inflect({"nomn"})
    if inflected is None:
        return word
    out = str(inflected.word)
    return out[:1].upper() + out[1:] if word[:1].isupper() else out
