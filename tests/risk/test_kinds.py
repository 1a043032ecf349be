"""Tests for risk.kinds: complaint / question / suggestion / gratitude / information."""

from __future__ import annotations

import pytest

from index.models import Kind
from risk.kinds import KindClassifier
from risk.sectors import LexiconSectorModel
from risk.text import analyse


@pytest.fixture(scope="module")
def classifier() -> KindClassifier:
    return KindClassifier()


@pytest.fixture(scope="module")
def sectors() -> LexiconSectorModel:
    return LexiconSectorModel()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Третий день нет горячей воды на ул. Ленина 15, когда дадут??", Kind.complaint),
        ("На Мира огромная яма, все машины бьют", Kind.complaint),
        ("мусор не вывозят неделю во дворе Садовой 3", Kind.complaint),
        ("когда уберут сосульки с крыши???", Kind.complaint),
        ("ПРОШУ ПРИНЯТЬ МЕРЫ фонарь не горит", Kind.complaint),
        ("сколько можно терпеть эту свалку за гаражами", Kind.complaint),
        ("Подскажите, во сколько работает МФЦ в субботу?", Kind.question),
        ("где можно сделать прививку от гриппа", Kind.question),
        ("Предлагаю установить лавочки в сквере у школы", Kind.suggestion),
        ("было бы здорово сделать велодорожку вдоль набережной", Kind.suggestion),
        ("Спасибо большое коммунальщикам, быстро починили трубу!", Kind.gratitude),
        ("выражаем благодарность дорожникам за ремонт улицы", Kind.gratitude),
        (
            "Уважаемые жители! 15 марта будет отключена холодная вода в связи с плановыми работами",
            Kind.information,
        ),
        ("В субботу в парке состоится концерт, приглашаем всех", Kind.information),
        ("ну и погодка", Kind.information),
    ],
)
def test_hand_written_examples(
    classifier: KindClassifier, sectors: LexiconSectorModel, text: str, kind: Kind
) -> None:
    doc = analyse(text)
    has_sector = sectors.predict(doc).sector is not None
    assert classifier.classify(doc, has_sector=has_sector).kind is kind


def test_official_posts_are_information(classifier: KindClassifier) -> None:
    doc = analyse("Нет воды на Ленина: идёт ремонт, вода будет к 18:00")
    assert classifier.classify(doc, is_official=True, has_sector=True).kind is Kind.information


def test_empty_text_is_information(classifier: KindClassifier) -> None:
    assert classifier.classify(analyse("")).kind is Kind.information
    assert classifier.classify(analyse("😡😡😡")).kind is Kind.information


def test_scores_are_reported(classifier: KindClassifier) -> None:
    scores = classifier.scores(analyse("Подскажите, когда будет автобус?"))
    assert scores["question"] >= 2.0
    assert scores["gratitude"] == 0.0
