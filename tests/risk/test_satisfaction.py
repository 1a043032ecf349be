"""The citizen's reaction after the answer: satisfied, unsatisfied or unclear, with negation kept."""

from __future__ import annotations

import pytest

from index.models import Kind, Tone
from risk.satisfaction import Satisfaction, classify_reaction
from tests.factories import make_post


@pytest.mark.parametrize(
    ("text", "kind", "tone", "verdict"),
    [
        ("Спасибо, наконец-то починили!", Kind.gratitude, Tone.positive, Satisfaction.satisfied),
        ("Воду дали, благодарю за оперативность", Kind.information, Tone.neutral, Satisfaction.satisfied),
        ("Яму засыпали", Kind.information, Tone.neutral, Satisfaction.satisfied),
        ("Ничего так и не сделали, отписка", Kind.complaint, Tone.negative, Satisfaction.unsatisfied),
        ("До сих пор нет горячей воды", Kind.complaint, Tone.neutral, Satisfaction.unsatisfied),
        ("Никто не пришёл", Kind.complaint, Tone.neutral, Satisfaction.unsatisfied),
        ("Опять течёт крыша, писать бесполезно", Kind.complaint, Tone.neutral, Satisfaction.unsatisfied),
        ("Не починили, спасибо за ничего", Kind.complaint, Tone.negative, Satisfaction.unsatisfied),
        ("Понятно", Kind.information, Tone.neutral, Satisfaction.unclear),
        ("Сделали, но опять сломалось", Kind.information, Tone.neutral, Satisfaction.unclear),
    ],
)
def test_reactions(text: str, kind: Kind, tone: Tone, verdict: Satisfaction) -> None:
    reaction = classify_reaction(make_post(text=text, kind=kind, tone=tone))
    assert reaction.verdict == verdict, reaction


def test_negation_flips_a_fix_and_cues_are_named_once() -> None:
    reaction = classify_reaction(
        make_post(text="Не сделали. Не сделали!", kind=Kind.complaint, tone=Tone.neutral)
    )
    assert reaction.verdict == Satisfaction.unsatisfied
    assert reaction.cues == ["не сделать"] and reaction.unsatisfied_points == 2
    thanks = classify_reaction(make_post(text="Спасибо", kind=Kind.gratitude, tone=Tone.positive))
    assert thanks.cues == ["благодарность", "позитивный тон", "спасибо"] and thanks.satisfied_points == 3
