"""Sector (ЦУР topic group) and topic from a hand-written lexicon over the ЦУР rubricator."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from risk.embedding import EmbeddingUnavailable, centroid, doc_vector
from risk.text import STOP_WORDS, Doc, analyse, lemma, tokens

#: Below this confidence a sector is reported but flagged for a human (`needs_review`). The lexicon's
#: confidence tracks its accuracy on real appeals (bench/quality.py prints the table: 0.45-0.55 → about
#: 0.5 right, 0.6-0.7 → 0.7, ≥ 0.8 → 0.9), so below 0.55 the sector is no better than a coin toss.
REVIEW_THRESHOLD = 0.55
#: A group needs at least this score to be reported at all (one strong keyword or two weak ones).
MIN_SCORE = 1.5
#: Scale of the score → strength curve: strength = 1 - exp(-score / STRENGTH_SCALE).
STRENGTH_SCALE = 2.5
#: Weight of each content word of a topic's own name.
TOPIC_NAME_WEIGHT = 0.5
#: Share of the non-best topics' scores that still counts for their group.
SECONDARY_TOPIC_SHARE = 0.25
#: Words of a multi-word keyword may stand this many tokens further apart than adjacent.
PHRASE_SLACK = 2
#: Keywords among the first LEAD_TOKENS tokens weigh LEAD_BONUS times more: an appeal names its subject first
#: and mentions the surroundings later ("нет освещения ... дорога к школе").
LEAD_TOKENS = 25
LEAD_BONUS = 1.5
#: A keyword right after one of these words (up to LANDMARK_REACH tokens before it) names where the problem
#: is, not what it is ("яма возле школы", "около остановки", "между больницей и садом"): it weighs
#: LANDMARK_SHARE. Not "у": "у гимназии нет охраны" is about the school.
_LANDMARK_WORDS = frozenset(
    {
        "возле",
        "около",
        "рядом",
        "напротив",
        "между",
        "вдоль",
        "близ",
        "вблизи",
        "недалеко",
        "неподалеку",
        "позади",
        "мимо",
        "перед",
        "вокруг",
        "над",
    }
)
LANDMARK_REACH = 3
LANDMARK_SHARE = 0.3
#: Street-type words that are part of an address when a name or a number stands next to them
#: ("ул. Ленина", "Светлый проезд", "проспект Победы 5"): there they say nothing about the subject.
_ADDRESS_WORDS = frozenset(
    {
        "улица",
        "ул",
        "проезд",
        "переулок",
        "пер",
        "проспект",
        "пр-т",
        "пр",
        "шоссе",
        "тупик",
        "бульвар",
        "площадь",
        "пл",
        "набережная",
        "микрорайон",
        "мкр",
        "квартал",
        "линия",
        "тракт",
    }
)
#: Once keywords name a sector, the text's closeness in navec space to every group's vocabulary (its keywords
#: and topic names) adds SEMANTIC_WEIGHT × the group's z-score among the 26 (positive part): the words around
#: the keywords break near-ties between, say, "Дороги" and "Благоустройство". Never a sector on its own.
SEMANTIC_WEIGHT = 1.0
#: Prior of appeals to a municipality (`appeals` mode): housing and the yard are their most common groups, so
#: with evidence they get this much more (a weak keyword's worth): a tie between a yard and a road goes to the
#: yard. Not for social-media streams, where the subjects are spread differently.
PRIOR_BONUS: dict[str, float] = {"ЖКХ": 1.0, "Благоустройство": 1.0}
#: The sector of an appeal in which no keyword fires (`appeals` mode): the most common one, for review.
APPEAL_FALLBACK = "ЖКХ"
FALLBACK_CONFIDENCE = 0.1
#: Function words kept inside keyword phrases because they carry the meaning ("нет воды", "не горит").
_KEPT_FUNCTION_WORDS = frozenset({"не", "нет", "без", "ни"})
#: Words of topic names that say nothing about the topic.
_GENERIC_NAME_WORDS = frozenset(
    [
        "нарушение",
        "правило",
        "ненадлежащий",
        "отсутствие",
        "проблема",
        "прочее",
        "прочий",
        "содержание",
        "необходимый",
        "установка",
        "замена",
        "организация",
        "изменение",
        "предложение",
        "предложить",
        "качество",
        "условие",
        "работа",
        "состояние",
        "объект",
        "общий",
        "впечатление",
        "другой",
        "неисправность",
        "неудовлетворительный",
        "несоблюдение",
        "обращение",
        "необходимость",
        "некачественно",
        "некачественный",
        "выполнить",
        "нанести",
        "внесение",
        "схема",
        "новый",
        "старый",
        "город",
        "т",
        "п",
        "и",
        "с",
        "по",
        "на",
        "в",
        "для",
        "при",
        "без",
        "к",
        "от",
        "до",
        "из",
        "о",
        "том",
        "также",
        "вопрос",
        "просьба",
        "оказание",
        "создание",
        "сроки",
        "срок",
        # Words of many kinds of appeal: they name no subject of their own.
        "отсутствовать",
        "часть",
        "ремонт",
        "проведение",
        "процесс",
        "средство",
        "порядок",
        "полный",
        "объем",
        "помощь",
        "действовать",
        "дело",
        "изменить",
        "добавить",
        "место",
        "система",
        "элемент",
        "центр",
        "центральный",
        "плохой",
        "низкий",
        "слабый",
        "открытый",
        "повреждение",
        "разрушение",
        "обеспечение",
        "улучшение",
        "восстановление",
        "устройство",
        "оборудование",
        "ошибка",
        "отказ",
        "пользование",
        "препятствовать",
        "управлять",
        "выступать",
        "производство",
        "технология",
        "технический",
        "количество",
        "гражданин",
        "запрос",
        "сбор",
        "зона",
        "линия",
        "режим",
        "план",
        "задержка",
        "полоса",
        "дополнительный",
        "доступность",
        "доступный",
        "очистить",
        "отключить",
        "отменить",
        "обустройство",
        "неисправный",
        "несанкционированный",
        "ограничение",
        "жалоба",
        "услуга",
        "пункт",
        "общественный",
        "социальный",
        "учреждение",
        "поддержка",
    ]
)


def _cur_topics() -> dict[str, str]:
    """Return the ЦУР rubricator: topic → topic group."""
    body = resources.files("risk.lexicon").joinpath("cur_topics.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(body)
    return data


#: ЦУР topic → topic group (26 groups, 195 topics).
TOPIC_GROUPS: dict[str, str] = _cur_topics()
#: The 26 ЦУР topic groups (sectors).
SECTORS: tuple[str, ...] = tuple(dict.fromkeys(TOPIC_GROUPS.values()))
_SECTOR_ORDER: dict[str, int] = {g: i for i, g in enumerate(SECTORS)}


@dataclass(frozen=True, slots=True)
class Keyword:
    """One lexicon entry: lemmas that must occur close together, with a weight."""

    lemmas: tuple[str, ...]
    weight: float
    group: str
    topic: str | None  # None: evidence for the group only


@dataclass(frozen=True, slots=True)
class SectorResult:
    """The lexicon's answer for one text."""

    sector: str | None
    topic: str | None
    confidence: float  # 0..1
    scores: dict[str, float] = field(default_factory=dict)  # group → score (only groups with evidence)
    matched: tuple[str, ...] = ()  # the keywords that matched, space-joined lemmas

    @property
    def needs_review(self) -> bool:
        """Return True when a sector was chosen with low confidence."""
        return self.sector is not None and self.confidence < REVIEW_THRESHOLD


def _phrase_lemmas(phrase: str) -> tuple[str, ...]:
    """Return the lemmas of a keyword phrase, function words dropped (except negations)."""
    out = []
    for tok in tokens(phrase):
        lem = lemma(tok)
        if lem in _KEPT_FUNCTION_WORDS or lem not in STOP_WORDS:
            out.append(lem)
    return tuple(out)


def _parse_entry(entry: object) -> tuple[str, float | None]:
    """Return (phrase, explicit weight or None) from a lexicon entry like "яма=2.5"."""
    text = str(entry).strip()
    if "=" in text:
        phrase, _, weight = text.rpartition("=")
        try:
            return phrase.strip(), float(weight)
        except ValueError:
            return text, None
    return text, None


def _keywords(group: str, topic: str | None, entries: Iterable[object]) -> list[Keyword]:
    """Return Keyword objects for lexicon entries of one group/topic (duplicates keep the max weight)."""
    best: dict[tuple[str, ...], float] = {}
    for entry in entries:
        phrase, weight = _parse_entry(entry)
        lemmas = _phrase_lemmas(phrase)
        if not lemmas:
            continue
        w = weight if weight is not None else (1.0 if len(lemmas) == 1 else 2.0)
        best[lemmas] = max(w, best.get(lemmas, 0.0))
    return [Keyword(lemmas=k, weight=w, group=group, topic=topic) for k, w in best.items()]


def _name_lemmas(topic: str) -> set[str]:
    """Return the content lemmas of a topic's name (generic words such as "ремонт" dropped)."""
    return {
        lem
        for tok in tokens(topic)
        if len(tok) > 2 and (lem := lemma(tok)) not in STOP_WORDS and lem not in _GENERIC_NAME_WORDS
    }


@cache
def _name_spread() -> dict[str, int]:
    """Return, for every topic-name lemma, the number of groups whose topic names use it."""
    groups: dict[str, set[str]] = defaultdict(set)
    for topic, group in TOPIC_GROUPS.items():
        for lem in _name_lemmas(topic):
            groups[lem].add(group)
    return {lem: len(gs) for lem, gs in groups.items()}


def _name_keywords(group: str, topic: str) -> list[Keyword]:
    """Return weak keywords made of a topic name's content words (a word shared by n groups weighs 1/n)."""
    spread = _name_spread()
    return [
        Keyword(lemmas=(lem,), weight=TOPIC_NAME_WEIGHT / spread.get(lem, 1), group=group, topic=topic)
        for lem in sorted(_name_lemmas(topic))
    ]


@cache
def default_lexicon() -> dict[str, Any]:
    """Return the packaged topic lexicon (risk/lexicon/topics.yaml) as a mapping."""
    body = resources.files("risk.lexicon").joinpath("topics.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(body)
    return data


class LexiconSectorModel:
    """Score every ЦУР group and topic by the weighted keywords found in a text."""

    def __init__(
        self,
        lexicon: Mapping[str, Any] | None = None,
        *,
        topic_names: bool = True,
        semantic: bool = True,
        appeals: bool = False,
    ) -> None:
        """Build the keyword index from `lexicon` (default: the packaged one); raise ValueError if invalid.

        `semantic` re-ranks sectors named by keywords with natasha's navec vectors (off without natasha).
        `appeals` is for texts that are all appeals to the municipality (a portal's or a hotline's): the
        appeals' prior applies and a text in which nothing fires gets APPEAL_FALLBACK, flagged for review.
        Without it (social media) a text without keywords has no sector.
        """
        data = lexicon if lexicon is not None else default_lexicon()
        self.fallback = APPEAL_FALLBACK if appeals else None
        self.prior: dict[str, float] = dict(PRIOR_BONUS) if appeals else {}
        self.defaults: dict[str, str] = {}
        keywords: list[Keyword] = []
        for group, spec in data.items():
            if group not in SECTORS:
                raise ValueError(f"неизвестная группа тем в словаре: {group!r}")
            topics = spec.get("topics") or {}
            for topic, entries in topics.items():
                if TOPIC_GROUPS.get(topic) != group:
                    raise ValueError(f"тема {topic!r} не относится к группе {group!r}")
                keywords += _keywords(group, topic, entries or [])
            keywords += _keywords(group, None, spec.get("keywords") or [])
            default = spec.get("default")
            if default is not None:
                if TOPIC_GROUPS.get(default) != group:
                    raise ValueError(f"тема по умолчанию {default!r} не относится к группе {group!r}")
                self.defaults[group] = default
        if topic_names:
            for topic, group in TOPIC_GROUPS.items():
                keywords += _name_keywords(group, topic)
        self._index: dict[str, list[Keyword]] = defaultdict(list)
        for kw in keywords:
            self._index[kw.lemmas[0]].append(kw)
        self._index = dict(self._index)
        #: Lemmas that occur in phrases after their first word.
        self._inner: frozenset[str] = frozenset(x for kw in keywords for x in kw.lemmas[1:])
        self.keyword_count = len(keywords)
        self._centroids: np.ndarray | None = _group_centroids(data) if semantic else None

    def predict_text(self, text: str) -> SectorResult:
        """Return the sector of a raw text."""
        return self.predict(analyse(text))

    def predict(self, doc: Doc) -> SectorResult:
        """Return the best group, its best topic and a 0..1 confidence for an analysed text."""
        matched = self._match(doc)
        if not matched:
            return self._fallback()
        topic_scores: dict[str, float] = defaultdict(float)
        group_kw: dict[str, float] = defaultdict(float)
        first: dict[str, int] = {}
        for kw, pos, share in matched:
            first[kw.group] = min(pos, first.get(kw.group, pos))
            weight = kw.weight * share * (LEAD_BONUS if pos < LEAD_TOKENS else 1.0)
            if kw.topic is None:
                group_kw[kw.group] += weight
            else:
                topic_scores[kw.topic] += weight
        by_group: dict[str, list[float]] = defaultdict(list)
        for topic, score in topic_scores.items():
            by_group[TOPIC_GROUPS[topic]].append(score)
        scores: dict[str, float] = {}
        for group in sorted(set(group_kw) | set(by_group), key=_SECTOR_ORDER.__getitem__):
            tops = by_group.get(group, [])
            best_topic = max(tops, default=0.0)
            scores[group] = (
                group_kw.get(group, 0.0) + best_topic + SECONDARY_TOPIC_SHARE * (sum(tops) - best_topic)
            )
        keys = tuple(" ".join(kw.lemmas) for kw, _, _ in matched)
        if max(scores.values()) < MIN_SCORE:
            return self._fallback(scores, keys)
        for group, bonus in self.prior.items():
            if group in scores:
                scores[group] += bonus
        self._add_semantic(doc, scores)
        # Ties go to the group named first in the text, then to the one listed first in the rubricator:
        # the same answer in every process (set order is not).
        last = len(doc.words)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], first.get(kv[0], last), _SECTOR_ORDER[kv[0]]))
        best_group, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        confidence = (best / (best + second)) * (1.0 - math.exp(-best / STRENGTH_SCALE))
        chosen = self._best_topic(best_group, topic_scores)
        return SectorResult(
            sector=best_group, topic=chosen, confidence=round(confidence, 4), scores=scores, matched=keys
        )

    def _fallback(self, scores: dict[str, float] | None = None, keys: tuple[str, ...] = ()) -> SectorResult:
        """Return the answer for a text without enough evidence: no sector, or the appeal fallback."""
        if self.fallback is None:
            return SectorResult(sector=None, topic=None, confidence=0.0, scores=scores or {}, matched=keys)
        return SectorResult(
            sector=self.fallback,
            topic=self.defaults.get(self.fallback),
            confidence=FALLBACK_CONFIDENCE,
            scores=scores or {},
            matched=keys,
        )

    def _add_semantic(self, doc: Doc, scores: dict[str, float]) -> None:
        """Add SEMANTIC_WEIGHT × each group's positive z-score of navec closeness to `scores` (in place)."""
        if self._centroids is None:
            return
        vector = doc_vector(doc)
        if vector is None:
            return
        sims = self._centroids @ vector
        spread = float(sims.std())
        if spread <= 0:
            return
        z = (sims - float(sims.mean())) / spread
        for i in np.flatnonzero(z > 0):
            group = SECTORS[int(i)]
            scores[group] = scores.get(group, 0.0) + SEMANTIC_WEIGHT * float(z[i])

    def topic_in_group(self, doc: Doc, group: str) -> str | None:
        """Return the best topic of `group` for a text (the group's default topic without evidence)."""
        topic_scores: dict[str, float] = defaultdict(float)
        for kw, _, share in self._match(doc):
            if kw.topic is not None and kw.group == group:
                topic_scores[kw.topic] += kw.weight * share
        return self._best_topic(group, topic_scores)

    def _best_topic(self, group: str, topic_scores: Mapping[str, float]) -> str | None:
        """Return the highest-scoring topic of `group`, else its default topic."""
        candidates = [(s, t) for t, s in topic_scores.items() if TOPIC_GROUPS[t] == group and s >= 1.0]
        if candidates:
            return max(candidates)[1]
        return self.defaults.get(group)

    def _match(self, doc: Doc) -> list[tuple[Keyword, int, float]]:
        """Return every keyword in the text with its first lemma's first position and its weight share.

        The share is LANDMARK_SHARE when every occurrence of the keyword's first word follows a landmark
        preposition ("у школы"), else 1.
        """
        out: list[tuple[Keyword, int, float]] = []
        positions: dict[str, list[int]] = defaultdict(list)
        for i, fs in enumerate(doc.lemma_forms):
            for f in fs:
                if f in self._index or f in self._inner:
                    positions[f].append(i)
        for lem, where in positions.items():
            for kw in self._index.get(lem, ()):
                single = len(kw.lemmas) == 1
                if single or (all(x in positions for x in kw.lemmas[1:]) and _close(kw.lemmas, positions)):
                    if single and all(_in_address(doc, p) for p in where):
                        continue
                    share = LANDMARK_SHARE if all(_after_landmark(doc, p) for p in where) else 1.0
                    out.append((kw, where[0], share))
        return out


def _in_address(doc: Doc, pos: int) -> bool:
    """Return True when token `pos` is a street-type word next to a capitalised name or a number."""
    if doc.words[pos] not in _ADDRESS_WORDS and doc.lemma_forms[pos][0] not in _ADDRESS_WORDS:
        return False
    for near in (pos - 1, pos + 1):
        if 0 <= near < len(doc.words):
            first = doc.text[doc.spans[near][0]]
            if first.isupper() or first.isdigit():
                return True
    return False


def _after_landmark(doc: Doc, pos: int) -> bool:
    """Return True when a landmark preposition stands up to LANDMARK_REACH tokens before token `pos`."""
    return any(w in _LANDMARK_WORDS for w in doc.words[max(0, pos - LANDMARK_REACH) : pos])


def _group_centroids(data: Mapping[str, Any]) -> np.ndarray | None:
    """Return one navec centroid per sector (rows in SECTORS order) from the lexicon; None without natasha."""
    phrases: list[tuple[str, ...]] = []
    for group in SECTORS:
        spec = data.get(group) or {}
        words = [_parse_entry(e)[0] for e in spec.get("keywords") or []]
        for entries in (spec.get("topics") or {}).values():
            words += [_parse_entry(e)[0] for e in entries or []]
        words += [topic for topic, g in TOPIC_GROUPS.items() if g == group]
        phrases.append(tuple(words))
    try:
        return _cached_centroids(tuple(phrases))
    except EmbeddingUnavailable:
        return None


@cache
def _cached_centroids(phrases: tuple[tuple[str, ...], ...]) -> np.ndarray:
    """Return the centroid of every group's phrases (computed once per process and lexicon)."""
    return np.stack([centroid(list(words)) for words in phrases])


def _close(lemmas: tuple[str, ...], positions: Mapping[str, list[int]]) -> bool:
    """Return True when every lemma has an occurrence within a window around one of the first's."""
    window = len(lemmas) + PHRASE_SLACK
    for p in positions[lemmas[0]]:
        if all(any(abs(q - p) <= window for q in positions[x]) for x in lemmas[1:]):
            return True
    return False
