"""Aggression 0..1 with named markers: insult, obscenity, violence, threat_escalation, collective_action..."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from risk.embedding import EmbeddingUnavailable, centroid, doc_vector
from risk.text import Doc, PhraseMatcher, analyse

#: Marker names, in the order they are reported.
MARKERS = (
    "insult",
    "obscenity",
    "violence",
    "threat_escalation",
    "collective_action",
    "official_mention",
    "sensitive",
    "sensitive_topic",
    "shouting",
)
#: Markers of risky subjects rather than hostility; together they add at most SENSITIVE_CAP.
SENSITIVE_MARKERS = frozenset({"sensitive", "sensitive_topic"})
#: Below the 0.5 at which conflicts and incidents call a comment aggressive: a subject alone never is.
SENSITIVE_CAP = 0.45
#: Lexicon groups whose words make the hostile-and-sensitive centroid in navec space.
SEMANTIC_GROUPS = ("insult", "violence", "sensitive", "sensitive_topic")
#: A text's cosine to that centroid times this weight adds to the (capped) sensitive evidence: texts near
#: the lexicon in meaning but with none of its words (slang, misspellings) rank above plainly calm ones.
SEMANTIC_WEIGHT = 0.2
#: Hits of one marker beyond this count add nothing.
MAX_HITS_PER_MARKER = 3
#: Weight of shouting: a run of "!!" or a text mostly in capitals.
SHOUT_WEIGHT = 0.1
#: A text is shouting when at least this share of its (≥ MIN_CAPS_LETTERS) letters are capitals.
CAPS_SHARE = 0.6
MIN_CAPS_LETTERS = 12
#: Prefixes allowed before an obscene stem.
_OBSCENE_PREFIXES = (
    "",
    "на",
    "по",
    "от",
    "за",
    "вы",
    "у",
    "с",
    "раз",
    "при",
    "до",
    "недо",
    "об",
    "о",
    "въ",
    "съ",
    "пере",
    "из",
    "подъ",
    "вз",
)
#: Tokens that start like an obscene stem but are ordinary words.
_OBSCENE_EXCEPTIONS = re.compile(
    r"^(?:херсон|хербал|оскорбля|сукн|сукон|психуй|психую|страхуй|страхую|ебеня)"
)
_EXCLAMATIONS = re.compile(r"!{2,}")
_LETTERS = re.compile(r"[А-ЯЁA-Zа-яёa-z]")
_CAPITALS = re.compile(r"[А-ЯЁA-Z]")


@dataclass(frozen=True, slots=True)
class AggressionResult:
    """Aggression score 0..1, the markers found and the phrases behind them."""

    score: float
    markers: list[str]
    evidence: dict[str, list[str]]


@cache
def _lexicon() -> dict[str, Any]:
    """Return the packaged aggression lexicon (risk/lexicon/aggression.yaml)."""
    body = resources.files("risk.lexicon").joinpath("aggression.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(body)
    return data


class AggressionScorer:
    """Combine marker hits as independent evidence: score = 1 - Π(1 - weight)."""

    def __init__(
        self,
        officials: Iterable[str] = (),
        lexicon: dict[str, Any] | None = None,
        *,
        semantic: bool = True,
    ) -> None:
        """Build matchers from `lexicon` (default: packaged) plus the profile's `officials` names.

        With `semantic`, the navec vectors shipped in natasha add a small graded score (none without natasha).
        """
        data = lexicon if lexicon is not None else _lexicon()
        self._centroid: np.ndarray | None = None
        if semantic:
            self._centroid = _semantic_centroid(data)
        self._matcher = PhraseMatcher()
        self._stems: list[tuple[str, float, re.Pattern[str]]] = []  # (marker, weight, word-start pattern)
        prefixes = "|".join(sorted({re.escape(p) for p in _OBSCENE_PREFIXES if p}, key=len, reverse=True))
        for marker, spec in data.items():
            weight = float(spec.get("weight", 0.2))
            self._matcher.add_entries(spec.get("words"), marker, default=weight)
            if spec.get("stems"):
                stems = "|".join(
                    sorted(
                        {re.escape(str(x).lower().replace("ё", "е")) for x in spec["stems"]},
                        key=len,
                        reverse=True,
                    )
                )
                lead = f"(?:{prefixes})?" if spec.get("prefixes") else ""
                self._stems.append((marker, weight, re.compile(rf"^{lead}(?:{stems})")))
        official_weight = float(data.get("official_mention", {}).get("weight", 0.05))
        for name in officials:
            self._matcher.add(str(name), official_weight, "official_mention")

    def score_text(self, text: str) -> AggressionResult:
        """Return the aggression of a raw text."""
        return self.score(analyse(text))

    def score(self, doc: Doc, *, tone_score: float = 0.0) -> AggressionResult:
        """Return the score, markers and evidence of an analysed text (a negative tone adds a little)."""
        evidence: dict[str, list[str]] = {}
        weights: dict[str, list[float]] = {}
        for hit in self._matcher.find(doc):
            phrases = evidence.setdefault(hit.label, [])
            if hit.phrase not in phrases:
                phrases.append(hit.phrase)
                weights.setdefault(hit.label, []).append(hit.weight)
        for marker, weight, pattern in self._stems:
            for word in doc.words:
                if pattern.match(word) and not _OBSCENE_EXCEPTIONS.match(word):
                    phrases = evidence.setdefault(marker, [])
                    if word not in phrases:
                        phrases.append(word)
                        weights.setdefault(marker, []).append(weight)
        if self._shouting(doc.text):
            evidence["shouting"] = ["!!" if _EXCLAMATIONS.search(doc.text) else "КАПС"]
            weights["shouting"] = [SHOUT_WEIGHT]
        keep = 1.0
        keep_sensitive = 1.0
        for marker, values in weights.items():
            for w in sorted(values, reverse=True)[:MAX_HITS_PER_MARKER]:
                factor = 1.0 - min(max(w, 0.0), 0.95)
                if marker in SENSITIVE_MARKERS:
                    keep_sensitive *= factor
                else:
                    keep *= factor
        keep_sensitive *= 1.0 - SEMANTIC_WEIGHT * self._similarity(doc)
        keep *= 1.0 - min(1.0 - keep_sensitive, SENSITIVE_CAP)
        if tone_score < 0:
            keep *= 1.0 - 0.15 * min(1.0, -tone_score)
        markers = [m for m in MARKERS if m in evidence] + sorted(m for m in evidence if m not in MARKERS)
        return AggressionResult(score=round(1.0 - keep, 4), markers=markers, evidence=evidence)

    def _similarity(self, doc: Doc) -> float:
        """Return the text's cosine (≥ 0) to the hostile-and-sensitive centroid (0 without vectors)."""
        if self._centroid is None or not doc.words:
            return 0.0
        vector = doc_vector(doc)
        if vector is None:
            return 0.0
        return max(0.0, float(vector @ self._centroid))

    @staticmethod
    def _shouting(text: str) -> bool:
        """Return True for "!!" runs or a text written mostly in capitals."""
        if _EXCLAMATIONS.search(text):
            return True
        letters = len(_LETTERS.findall(text[:2000]))
        return letters >= MIN_CAPS_LETTERS and len(_CAPITALS.findall(text[:2000])) >= CAPS_SHARE * letters


def _semantic_centroid(data: dict[str, Any]) -> np.ndarray | None:
    """Return the navec centroid of the lexicon's hostile and sensitive words (None without natasha)."""
    words = [
        str(entry).rpartition("=")[0] or str(entry)
        for group in SEMANTIC_GROUPS
        for entry in (data.get(group, {}).get("words") or [])
    ]
    if not words:
        return None
    try:
        return _cached_centroid(tuple(words))
    except EmbeddingUnavailable:
        return None


@cache
def _cached_centroid(words: tuple[str, ...]) -> np.ndarray:
    """Return the centroid of `words` (computed once per process and word list)."""
    return centroid(list(words))
