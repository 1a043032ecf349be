"""Tone (negative / neutral / positive) from a hand-written Russian sentiment lexicon plus emoji."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from index.models import Tone
from risk.text import Doc, PhraseMatcher, analyse, parse_weighted, tokens

#: A score at or above POSITIVE_THRESHOLD is positive, at or below NEGATIVE_THRESHOLD negative
#: (asymmetric: complaints are often mildly worded; chosen on the dev tweet set, see bench/quality.py).
POSITIVE_THRESHOLD = 0.35
NEGATIVE_THRESHOLD = -0.1
#: Lexicon sum that maps to tanh(1) ≈ 0.76.
SCORE_SCALE = 2.0
#: A negator flips the next words up to this many tokens away.
NEGATION_REACH = 2
#: A negated word keeps this share of its weight, with the opposite sign.
NEGATION_DAMPING = 0.6
#: Emoji and smiley groups counted at most this many times per polarity.
MAX_EMOJI = 3
EMOJI_WEIGHT = 1.0
SMILEY_WEIGHT = 0.8

_SMILE = re.compile(r"(?<![(\d]):?-?\){1,}(?!\w)|\bх(?:а|е){2,}\b|\bаха+\b", re.IGNORECASE)
_FROWN = re.compile(r"(?<![)\d]):?-?\({1,}(?![\w)])")
_SHOUT = re.compile(r"!{2,}")


@dataclass(frozen=True, slots=True)
class ToneResult:
    """Tone class and score in -1..1."""

    tone: Tone
    score: float


@cache
def _lexicon() -> dict[str, Any]:
    """Return the packaged tone lexicon (risk/lexicon/tone.yaml)."""
    body = resources.files("risk.lexicon").joinpath("tone.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(body)
    return data


class ToneScorer:
    """Sum lexicon weights with negation and intensifiers, add emoji and smileys, squash to -1..1."""

    def __init__(self, lexicon: dict[str, Any] | None = None) -> None:
        """Build the matchers from `lexicon` (default: the packaged one)."""
        data = lexicon if lexicon is not None else _lexicon()
        self._words = PhraseMatcher()
        self._words.add_entries(data.get("positive"), "pos")
        self._words.add_entries(data.get("negative"), "neg")
        self._negators = {" ".join(tokens(str(w))) for w in data.get("negators") or []}
        self._intens: dict[str, float] = {}
        for entry in data.get("intensifiers") or []:
            phrase, weight = parse_weighted(entry, 1.3)
            self._intens[" ".join(tokens(phrase))] = weight
        self._emoji_pos = tuple(str(e) for e in data.get("emoji_positive") or [])
        self._emoji_neg = tuple(str(e) for e in data.get("emoji_negative") or [])

    def score_text(self, text: str) -> ToneResult:
        """Return the tone of a raw text."""
        return self.score(analyse(text))

    def raw_sum(self, doc: Doc) -> float:
        """Return the unsquashed lexicon + emoji sum of a text (positive means positive)."""
        total = 0.0
        words = doc.words
        for hit in self._words.find(doc):
            w = hit.weight if hit.label == "pos" else -hit.weight
            lo = max(0, hit.start - NEGATION_REACH)
            if any(words[k] in self._negators for k in range(lo, hit.start)):
                w = -NEGATION_DAMPING * w
            if hit.start > 0:
                w *= self._intens.get(words[hit.start - 1], 1.0)
            total += w
        text = doc.text
        pos = min(MAX_EMOJI, sum(text.count(e) for e in self._emoji_pos)) if text else 0
        neg = min(MAX_EMOJI, sum(text.count(e) for e in self._emoji_neg)) if text else 0
        total += EMOJI_WEIGHT * (pos - neg)
        total += SMILEY_WEIGHT * (
            min(MAX_EMOJI, len(_SMILE.findall(text))) - min(MAX_EMOJI, len(_FROWN.findall(text)))
        )
        if total and _SHOUT.search(text):
            total *= 1.2
        return total

    def score(self, doc: Doc) -> ToneResult:
        """Return the tone class and a -1..1 score of an analysed text."""
        value = round(math.tanh(self.raw_sum(doc) / SCORE_SCALE), 4)
        if value >= POSITIVE_THRESHOLD:
            return ToneResult(Tone.positive, value)
        if value <= NEGATIVE_THRESHOLD:
            return ToneResult(Tone.negative, value)
        return ToneResult(Tone.neutral, value)
