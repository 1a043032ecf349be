"""Tests for risk.places: the gazetteer over the profile's territory tree and Russian street forms."""

from __future__ import annotations

import pytest

from index.profile import Profile
from risk.places import Gazetteer

PROFILE = Profile.model_validate(
    {
        "name": "Тестовск",
        "territories": [
            {
                "id": "mo",
                "name": "городской округ Тестовск",
                "level": "municipality",
                "children": [
                    {
                        "id": "central",
                        "name": "Центральный район",
                        "level": "district",
                        "aliases": ["центр города"],
                        "streets": ["ул. Ленина", "проспект Мира", "Садовая", "8 Марта", "Карла Маркса"],
                    },
                    {
                        "id": "zarechny",
                        "name": "Заречный район",
                        "level": "district",
                        "aliases": ["Заречка"],
                        "streets": ["Садовая", "Школьный переулок", "Молодёжная"],
                        "children": [
                            {
                                "id": "ivanovka",
                                "name": "село Ивановка",
                                "level": "settlement",
                                "streets": ["Полевая"],
                            }
                        ],
                    },
                ],
            }
        ],
    }
)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(PROFILE)


@pytest.mark.parametrize(
    ("text", "name", "house", "territory"),
    [
        ("Третий день нет горячей воды на ул. Ленина 15, когда дадут??", "ул. Ленина", "15", "central"),
        ("на Ленина яма", "ул. Ленина", None, "central"),
        ("ул. Ленина д.5", "ул. Ленина", "5", "central"),
        ("улице Ленина, 5", "ул. Ленина", "5", "central"),
        ("пр-т Мира д. 10/2", "проспект Мира", "10/2", "central"),
        ("на проспекте Мира пробка", "проспект Мира", None, "central"),
        ("На Мира огромная яма, все машины бьют", "проспект Мира", None, "central"),
        ("на 8 Марта 12а течёт труба", "8 Марта", "12а", "central"),
        ("на улице Карла Маркса", "Карла Маркса", None, "central"),
        ("на ул. Ленена 7 опечатка", "ул. Ленина", "7", "central"),
        ("школьный переулок весь в ямах", "Школьный переулок", None, "zarechny"),
        ("на молодежной открытый люк", "Молодёжная", None, "zarechny"),
    ],
)
def test_street_forms(gazetteer: Gazetteer, text: str, name: str, house: str | None, territory: str) -> None:
    places = gazetteer.find_text(text)
    assert [(p.name, p.house) for p in places][:1] == [(name, house)]
    assert places[0].level == ("house" if house else "street")
    assert gazetteer.territory_of(places) == territory


def test_span_points_at_the_name(gazetteer: Gazetteer) -> None:
    from risk.text import analyse

    doc = analyse("Яма на проспекте Мира у дома 3")
    place = gazetteer.find(doc)[0]
    assert place.span is not None
    assert doc.text[place.span[0] : place.span[1]] == "Мира"


def test_ambiguous_street_uses_the_mentioned_district(gazetteer: Gazetteer) -> None:
    places = gazetteer.find_text("мусор не вывозят во дворе Садовой 3, это в Заречке")
    assert gazetteer.territory_of(places) == "zarechny"
    alone = gazetteer.find_text("мусор не вывозят во дворе Садовой 3")
    assert alone[0].territory == "mo"  # listed in two districts: their common parent


def test_settlement_is_more_specific_than_district(gazetteer: Gazetteer) -> None:
    places = gazetteer.find_text("В Заречном районе, в Ивановке на Полевой нет света")
    assert {p.territory for p in places} == {"zarechny", "ivanovka"}
    assert gazetteer.territory_of(places) == "ivanovka"


@pytest.mark.parametrize(
    "text",
    [
        "мир во всем мире",
        "на новой машине по городу",
        "садовая земляника",
        "ленин жил",
        "",
        "😀",
        "Центральный рынок",
    ],
)
def test_ordinary_words_are_not_places(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.find_text(text) == []


def test_alias_and_district_name(gazetteer: Gazetteer) -> None:
    assert gazetteer.find_text("у нас в центре города пробки")[0].territory == "central"
    assert gazetteer.find_text("Заречка опять без света")[0].territory == "zarechny"


def test_empty_profile() -> None:
    g = Gazetteer(None)
    assert not g
    assert g.find_text("на ул. Ленина 5") == []
