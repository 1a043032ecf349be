"""Tests for risk.sectors: the ЦУР rubricator and the hand-written lexicon model."""

from __future__ import annotations

import pytest

from risk.sectors import SECTORS, TOPIC_GROUPS, LexiconSectorModel, default_lexicon
from risk.text import analyse


@pytest.fixture(scope="module")
def model() -> LexiconSectorModel:
    return LexiconSectorModel()


def test_rubricator_has_26_groups_and_195_topics() -> None:
    assert len(SECTORS) == 26
    assert len(TOPIC_GROUPS) == 195
    assert TOPIC_GROUPS["★ Ямы во дворах"] == "Благоустройство"


def test_lexicon_covers_every_group_and_topic(model: LexiconSectorModel) -> None:
    lexicon = default_lexicon()
    assert set(lexicon) == set(SECTORS)
    covered = {topic for spec in lexicon.values() for topic in spec["topics"]}
    assert covered == set(TOPIC_GROUPS)
    assert set(model.defaults) == set(SECTORS)


def test_lexicon_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="неизвестная группа"):
        LexiconSectorModel({"Космос": {"topics": {}}})
    with pytest.raises(ValueError, match="не относится"):
        LexiconSectorModel({"Дороги": {"topics": {"★ Ямы во дворах": ["яма"]}}})


@pytest.mark.parametrize(
    ("text", "sector", "topic"),
    [
        ("Третий день нет горячей воды на ул. Ленина 15, когда дадут??", "ЖКХ", "Отсутствие горячей воды"),
        ("На Мира огромная яма, все машины бьют", "Дороги", "Ямы и выбоины на дороге"),
        ("мусор не вывозят неделю во дворе Садовой 3", "Мусор/Свалки/ТКО", "★ Уборка/Вывоз мусора"),
        ("во дворе яма на яме, весь двор разбит", "Благоустройство", "★ Ямы во дворах"),
        ("фонарь у подъезда не горит уже месяц, темно", "Благоустройство", "★ Неисправные фонари освещения"),
        ("автобус 12 не ходит по расписанию, ждём по часу", "Общественный транспорт", None),
        ("скорая ехала к бабушке полтора часа", "Здравоохранение/Медицина", "★ Скорая помощь"),
        ("в садик очередь на три года, мест нет", "Образование", "Устройство в ДОУ"),
        ("стая бродячих собак у школы кидается на детей", "Безопасность", "Отлов безнадзорных собак и кошек"),
        ("с крыши свисают огромные сосульки над входом", "ЖКХ", "★ Наледь и сосульки на кровле"),
        ("ужасно воняет гарью, опять жгут мусор за гаражами", None, None),
        ("борщевик вырос в человеческий рост вдоль тротуара", "Благоустройство", "Борщевик Сосновского"),
        (
            "нет газа с утра, аварийная газовая служба не отвечает",
            "Газ и топливо",
            "Восстановление газоснабжения",
        ),
        ("свет моргает, постоянно скачки напряжения, сгорел холодильник", "Электроснабжение", None),
        ("ПРОРВАЛО ТРУБУ ВОДА ХЛЕЩЕТ ПО ПОДЪЕЗДУ", "ЖКХ", None),
    ],
)
def test_hand_written_examples(
    model: LexiconSectorModel, text: str, sector: str | None, topic: str | None
) -> None:
    res = model.predict(analyse(text))
    if sector is None:  # both the ecology and the waste sector are acceptable
        assert res.sector in {"Экология", "Мусор/Свалки/ТКО"}
        return
    assert res.sector == sector, res.scores
    assert res.topic is not None and TOPIC_GROUPS[res.topic] == sector
    if topic is not None:
        assert res.topic == topic
    assert 0.0 < res.confidence <= 1.0


@pytest.mark.parametrize("text", ["", "😀😀😀", "hello world", "ну и погодка сегодня", "12345"])
def test_no_evidence_gives_no_sector(model: LexiconSectorModel, text: str) -> None:
    res = model.predict(analyse(text))
    assert res.sector is None and res.topic is None and res.confidence == 0.0
    assert not res.needs_review


def test_ambiguous_text_has_lower_confidence(model: LexiconSectorModel) -> None:
    clear = model.predict(analyse("нет горячей воды, отопление не работает, батареи холодные"))
    vague = model.predict(analyse("машина стоит"))
    assert clear.confidence > 0.8
    assert vague.sector is None or vague.confidence < clear.confidence


def test_topic_in_group_falls_back_to_default(model: LexiconSectorModel) -> None:
    assert model.topic_in_group(analyse("сосульки на крыше"), "ЖКХ") == "★ Наледь и сосульки на кровле"
    assert model.topic_in_group(analyse("просто текст"), "ЖКХ") == model.defaults["ЖКХ"]
