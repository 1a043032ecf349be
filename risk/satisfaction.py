"""Satisfaction: how a citizen reacted to the answer (a follow-up post or comment after it).

The reaction is read from the message's own words, with negation kept (the stored lemmas drop "не"):

- satisfied: thanks (kind gratitude, "спасибо", "благодарю"), a positive tone, the problem reported
  fixed ("починили", "сделали", "дали воду", "наконец") without a negation;
- unsatisfied: a negative tone, the problem persisting ("до сих пор", "по-прежнему", "опять", "снова"),
  a fix denied ("не сделали", "так и не починили", "никто не пришёл"), the answer dismissed ("отписка",
  "враньё", "обман", "бесполезно").

Each cue adds a point to its side; the verdict is the side with more points, `unclear` on a tie or no
cue. Only the first reaction after the answer and the latest one matter to a head, so the incident keeps
the latest verdict with its post and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from index.models import Kind, Post, Tone
from risk.text import forms, tokens

#: Lemmas of thanks.
THANKS = frozenset({"спасибо", "благодарить", "благодарность", "благодарный", "молодец", "оперативно"})
#: Lemmas of a fix being reported (satisfied unless negated).
FIXED = frozenset(
    {
        "сделать",
        "починить",
        "отремонтировать",
        "убрать",
        "вывезти",
        "решить",
        "исправить",
        "устранить",
        "заменить",
        "восстановить",
        "помочь",
        "приехать",
        "прийти",
        "дать",
        "включить",
        "подключить",
        "засыпать",
        "покрасить",
        "заделать",
    }
)
#: Lemmas that say the problem is still there.
PERSISTS = frozenset({"опять", "снова", "по-прежнему", "прежнему", "бесполезно", "бесполезный"})
#: Lemmas that dismiss the answer.
DISMISSED = frozenset({"отписка", "враньё", "вранье", "обман", "обманывать", "ложь", "врать", "издеваться"})
#: Words that negate the next few words.
NEGATIONS = frozenset({"не", "ни", "никто", "ничего", "нет"})
#: How many following words a negation covers.
NEGATION_SPAN = 3


class Satisfaction(StrEnum):
    """The citizen's reaction to the answer."""

    satisfied = "доволен"
    unsatisfied = "недоволен"
    unclear = "неясно"


@dataclass(frozen=True)
class Reaction:
    """The verdict on one follow-up message and the cues behind it."""

    verdict: Satisfaction
    satisfied_points: int
    unsatisfied_points: int
    cues: list[str] = field(default_factory=list)


def _lemmas(text: str) -> list[str]:
    """Return the most probable lemma of every token, stop words kept (negation matters here)."""
    return [forms(tok)[0] for tok in tokens(text)]


def classify_reaction(post: Post) -> Reaction:
    """Return whether a follow-up message after the answer shows the citizen satisfied or not."""
    words = _lemmas(post.text)
    good: list[str] = []
    bad: list[str] = []
    if post.kind == Kind.gratitude:
        good.append("благодарность")
    if post.tone == Tone.positive:
        good.append("позитивный тон")
    elif post.tone == Tone.negative:
        bad.append("негативный тон")
    negated_until = -1
    text = " ".join(words)
    if "до сей пора" in text or "до сих пор" in post.text.lower():
        bad.append("до сих пор")
    if "так и не" in post.text.lower():
        bad.append("так и не")
    for i, word in enumerate(words):
        if word in NEGATIONS:
            negated_until = i + NEGATION_SPAN
            continue
        if word in THANKS and i > negated_until:
            good.append(word)
        elif word in FIXED:
            (bad if i <= negated_until else good).append(("не " if i <= negated_until else "") + word)
        elif word in PERSISTS or word in DISMISSED:
            bad.append(word)
    if len(good) > len(bad):
        verdict = Satisfaction.satisfied
    elif len(bad) > len(good):
        verdict = Satisfaction.unsatisfied
    else:
        verdict = Satisfaction.unclear
    return Reaction(verdict, len(good), len(bad), [*dict.fromkeys(good + bad)])
