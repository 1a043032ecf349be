"""What a message is: complaint, question, suggestion, gratitude or information (rules over cue phrases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from index.models import Kind
from risk.text import Doc, PhraseMatcher, analyse

#: Cue groups of risk/lexicon/kinds.yaml.
CUES = ("complaint", "request", "question", "suggestion", "gratitude", "information")
#: Evidence needed for a complaint, a suggestion, a gratitude and a news/announcement.
COMPLAINT_MIN = 1.5
SUGGESTION_MIN = 1.5
GRATITUDE_MIN = 1.5
INFORMATION_MIN = 2.0
#: Each "?" adds this to the question evidence (up to three).
QUESTION_MARK_WEIGHT = 1.0
#: A text that starts with one of these words is asking something.
QUESTION_STARTS = frozenset(
    [
        "где",
        "когда",
        "как",
        "почему",
        "зачем",
        "кто",
        "сколько",
        "куда",
        "откуда",
        "какой",
        "каков",
        "чей",
        "можно",
        "будет",
        "есть",
        "ли",
    ]
)
QUESTION_START_WEIGHT = 0.8


@dataclass(frozen=True, slots=True)
class KindResult:
    """The kind and the evidence per cue group."""

    kind: Kind
    scores: dict[str, float] = field(default_factory=dict)


@cache
def _lexicon() -> dict[str, Any]:
    """Return the packaged cue lexicon (risk/lexicon/kinds.yaml)."""
    body = resources.files("risk.lexicon").joinpath("kinds.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(body)
    return data


class KindClassifier:
    """Decide the kind of a message from cue phrases, its sector, its tone and who wrote it."""

    def __init__(self, lexicon: dict[str, Any] | None = None) -> None:
        """Build the cue matcher from `lexicon` (default: the packaged one)."""
        data = lexicon if lexicon is not None else _lexicon()
        self._matcher = PhraseMatcher()
        for cue in CUES:
            self._matcher.add_entries(data.get(cue), cue)

    def classify_text(self, text: str, *, is_official: bool = False, has_sector: bool = False) -> KindResult:
        """Return the kind of a raw text."""
        return self.classify(analyse(text), is_official=is_official, has_sector=has_sector)

    def scores(self, doc: Doc) -> dict[str, float]:
        """Return the evidence per cue group (each phrase counted once)."""
        out = dict.fromkeys(CUES, 0.0)
        seen: set[tuple[str, str]] = set()
        for hit in self._matcher.find(doc):
            if (hit.label, hit.phrase) not in seen:
                seen.add((hit.label, hit.phrase))
                out[hit.label] += hit.weight
        out["question"] += QUESTION_MARK_WEIGHT * min(3, doc.text.count("?"))
        if doc.words and doc.words[0] in QUESTION_STARTS:
            out["question"] += QUESTION_START_WEIGHT
        return out

    def classify(
        self, doc: Doc, *, is_official: bool = False, has_sector: bool = False, tone_score: float = 0.0
    ) -> KindResult:
        """Return the kind of an analysed text; an official page's own post is information."""
        s = self.scores(doc)
        if all(w.isdigit() for w in doc.words):  # no words at all: nothing to act on
            return KindResult(Kind.information, s)
        complaint = s["complaint"] + s["request"] * (1.0 if s["complaint"] > 0 or has_sector else 0.6)
        if has_sector and (tone_score < 0 or "!!" in doc.text):
            complaint += 0.5
        if has_sector and s["complaint"] > 0 and s["question"] > 0:
            complaint += 0.5  # "когда уберут яму?" is a complaint put as a question
        s["complaint_total"] = round(complaint, 3)
        if is_official:
            return KindResult(Kind.information, s)
        if s["information"] >= INFORMATION_MIN and s["information"] > complaint:
            return KindResult(Kind.information, s)
        if s["gratitude"] >= GRATITUDE_MIN and s["gratitude"] >= complaint:
            return KindResult(Kind.gratitude, s)
        if complaint >= COMPLAINT_MIN:
            return KindResult(Kind.complaint, s)
        if s["suggestion"] >= SUGGESTION_MIN or (s["suggestion"] >= 1.0 and has_sector):
            return KindResult(Kind.suggestion, s)
        if s["question"] >= 1.0:
            return KindResult(Kind.question, s)
        if has_sector and (complaint >= 1.0 or (complaint > 0 and tone_score < 0)):
            return KindResult(Kind.complaint, s)
        return KindResult(Kind.information, s)
