"""Tests for risk.tone: lexicon, negation, intensifiers, emoji and smileys."""

from __future__ import annotations

import pytest

from index.models import Tone
from risk.tone import ToneScorer


@pytest.fixture(scope="module")
def scorer() -> ToneScorer:
    return ToneScorer()


@pytest.mark.parametrize(
    ("text", "tone"),
    [
        ("Спасибо огромное, всё отлично сделали!", Tone.positive),
        ("какая красота в парке, молодцы 😍", Tone.positive),
        ("ура, наконец-то починили)))", Tone.positive),
        ("Это ужас, полный беспредел и бардак", Tone.negative),
        ("надоело, сколько можно 😡😡", Tone.negative),
        ("грустно (((", Tone.negative),
        ("Автобус 12 отправляется в 8:15 от вокзала", Tone.neutral),
        ("", Tone.neutral),
    ],
)
def test_hand_written_examples(scorer: ToneScorer, text: str, tone: Tone) -> None:
    res = scorer.score_text(text)
    assert res.tone is tone, res.score
    assert -1.0 <= res.score <= 1.0


def test_negation_flips(scorer: ToneScorer) -> None:
    assert scorer.score_text("мне нравится").score > 0
    assert scorer.score_text("мне не нравится").score < 0
    assert scorer.score_text("не плохо").score > scorer.score_text("плохо").score


def test_intensifier_strengthens(scorer: ToneScorer) -> None:
    assert scorer.score_text("очень плохо").score < scorer.score_text("плохо").score


def test_emoji_only(scorer: ToneScorer) -> None:
    assert scorer.score_text("👍👍").tone is Tone.positive
    assert scorer.score_text("🤬").tone is Tone.negative


def test_huge_text_is_bounded(scorer: ToneScorer) -> None:
    res = scorer.score_text("ужасно " * 200_000)
    assert res.score >= -1.0
