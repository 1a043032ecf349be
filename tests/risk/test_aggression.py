"""Tests for risk.aggression: insults, obscenity, escalation, collective action, official mentions."""

from __future__ import annotations

import pytest

from risk.aggression import SENSITIVE_CAP, AggressionScorer


@pytest.fixture(scope="module")
def scorer() -> AggressionScorer:
    return AggressionScorer(officials=["Петров", "Иван Петрович"])


def test_calm_text_has_no_markers_and_a_low_score(scorer: AggressionScorer) -> None:
    res = scorer.score_text("Подскажите, когда починят фонарь у дома 5?")
    assert res.markers == [] and res.score < 0.1
    plain = AggressionScorer(semantic=False).score_text("Подскажите, когда починят фонарь у дома 5?")
    assert plain.score == 0.0 and plain.markers == []


def test_meaning_near_the_lexicon_ranks_above_calm_texts(scorer: AggressionScorer) -> None:
    # Neither word is in the lexicon; their navec neighbours are (contempt, drink).
    near = scorer.score_text("сплошные нищеброды и алкоголики")
    calm = scorer.score_text("Третий день нет горячей воды на ул. Ленина 15")
    assert near.markers == [] and near.score > calm.score


def test_meaning_alone_never_makes_a_text_aggressive(scorer: AggressionScorer) -> None:
    from risk.text import analyse

    doc = analyse("наркотики закладки героин оружие теракт казино")
    res = scorer.score(doc)
    assert set(res.markers) == {"sensitive", "sensitive_topic"}
    assert res.score == SENSITIVE_CAP  # the vectors add to the capped subject evidence, not beyond it


def test_insults_and_threats(scorer: AggressionScorer) -> None:
    res = scorer.score_text("вы там все дебилы и ворюги! пойдём в прокуратуру, перекроем дорогу")
    assert res.score >= 0.6
    assert res.markers[:2] == ["insult", "threat_escalation"]
    assert "дебил" in res.evidence["insult"]


def test_obscenity_by_stems_and_exceptions(scorer: AggressionScorer) -> None:
    assert "obscenity" in scorer.score_text("да пошли вы нах*й... вообще охуели").markers
    assert "obscenity" in scorer.score_text("бля, опять яма").markers
    assert "obscenity" not in scorer.score_text("Херсонская улица, психую из-за ямы").markers


def test_collective_action_and_officials(scorer: AggressionScorer) -> None:
    res = scorer.score_text("Соберём подписи всем двором и пойдём к мэру, Петров пусть ответит")
    assert {"collective_action", "official_mention"} <= set(res.markers)
    assert "Петров" in res.evidence["official_mention"]


def test_shouting(scorer: AggressionScorer) -> None:
    assert "shouting" in scorer.score_text("КОГДА УЖЕ ПОЧИНЯТ ДОРОГУ").markers
    assert "shouting" in scorer.score_text("когда починят!!!").markers
    assert "shouting" not in scorer.score_text("ЖКХ").markers


def test_more_markers_more_aggression(scorer: AggressionScorer) -> None:
    one = scorer.score_text("глава, ответьте").score
    two = scorer.score_text("глава, вы бездельник, пойдём в суд и в прокуратуру").score
    assert 0.0 < one < two <= 1.0


def test_negative_tone_adds_a_little(scorer: AggressionScorer) -> None:
    from risk.text import analyse

    doc = analyse("опять яма")
    assert scorer.score(doc, tone_score=-1.0).score > scorer.score(doc, tone_score=0.0).score
