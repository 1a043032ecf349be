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
        # A clogged storm drain floods the yard; building one along a road is a road matter.
        ("ливневка забита, после дождя вода не уходит", "Благоустройство", "★ Подтопление территории"),
        (
            "просим построить ливневку вдоль дороги на Садовой",
            "Дороги",
            "Ливневые канализации (строительство и реконструкция)",
        ),
        ("не ловит радио, пропало вещание областного канала", "Связь и телевидение", None),
        ("в магазине продают просроченный товар", "Торговля", None),
        ("просим залить каток для хоккея и открыть секцию", "Физическая культура и спорт", None),
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


def test_a_landmark_weighs_less_than_the_subject(model: LexiconSectorModel) -> None:
    near = model.predict(analyse("огромная яма на дороге возле школы"))
    named = model.predict(analyse("огромная яма на дороге, школа"))
    assert near.sector == named.sector == "Дороги"
    # "возле школы" says where the pothole is: the school counts LANDMARK_SHARE of what it counts otherwise.
    assert near.scores["Образование"] < 0.6 * named.scores["Образование"]
    assert near.confidence > named.confidence
    # "у X нет Y" is about X; "над проезжей частью" is where the tree hangs.
    assert model.predict(analyse("у гимназии нет охраны, заходит кто хочет")).sector == "Образование"
    tree = model.predict(analyse("дерево нависло над проезжей частью, ветки падают"))
    assert tree.sector == "Благоустройство"


def test_a_street_type_in_an_address_is_no_evidence(model: LexiconSectorModel) -> None:
    assert "проезд" not in model.predict(analyse("Светлый проезд, дом 5, яма")).matched
    assert "проезд" in model.predict(analyse("проезд разбит, не проехать")).matched


def test_topic_name_words_shared_by_groups_weigh_less() -> None:
    from risk.sectors import TOPIC_NAME_WEIGHT, _name_keywords, _name_spread

    spread = _name_spread()
    assert spread["пешеходный"] == 2  # "Дороги" and "Благоустройство" both name it
    assert "ремонт" not in spread and "отсутствовать" not in spread  # generic words name no subject
    for topic, group in TOPIC_GROUPS.items():
        for kw in _name_keywords(group, topic):
            assert kw.weight == pytest.approx(TOPIC_NAME_WEIGHT / spread[kw.lemmas[0]])


def test_vectors_rerank_but_never_name_a_sector_alone(model: LexiconSectorModel) -> None:
    plain = LexiconSectorModel(semantic=False)
    text = analyse("яма на дороге")
    assert plain.predict(text).sector == model.predict(text).sector == "Дороги"
    assert set(plain.predict(text).scores) < set(model.predict(text).scores)
    assert model.predict(analyse("ну и погодка сегодня")).sector is None


def test_appeals_mode_has_a_prior_and_a_fallback_sector() -> None:
    from risk.sectors import APPEAL_FALLBACK, PRIOR_BONUS

    appeals = LexiconSectorModel(appeals=True, semantic=False)
    res = appeals.predict(analyse("ну и погодка сегодня"))
    assert res.sector == APPEAL_FALLBACK and res.needs_review
    assert res.topic is not None and TOPIC_GROUPS[res.topic] == APPEAL_FALLBACK
    plain = LexiconSectorModel(semantic=False)
    doc = analyse("во дворе яма, дорога разбита")
    for group, bonus in PRIOR_BONUS.items():
        if group in plain.predict(doc).scores:
            assert appeals.predict(doc).scores[group] == pytest.approx(
                plain.predict(doc).scores[group] + bonus
            )
