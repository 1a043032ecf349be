"""Relevance of search results: keywords, toponyms, streets, geotags — and what is not enough."""

from __future__ import annotations

import pytest

from crawlers.relevance import Relevance, contains, parse_vk_coordinates
from tests.crawlers.vk.world import build_profile


@pytest.fixture(scope="module")
def relevance() -> Relevance:
    return Relevance(build_profile())


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("В Тестовске опять прорвало трубу", "keyword:Тестовск"),
        ("Тестовск: пробки на въезде", "keyword:Тестовск"),
        ("Снег не убран, Центральный район", "toponym:Центральный район"),
        ("В Заречье отключили свет", "toponym:Заречье"),
        ("Яма на улице Ленина, 5 и на Мира 3", "streets:Ленина+Мира"),
        ("Яма на улице Ленина, 5", None),  # one street exists in every town
        ("в центре опять пробки", None),  # an alias that is an ordinary word
        ("Тестовская порода собак", None),  # looks alike, another lemma
        ("Новости Москвы", None),
    ],
)
def test_text_rules(relevance: Relevance, text: str, rule: str | None) -> None:
    assert relevance.rule(text) == rule


def test_geotag_inside_the_boundary_keeps_a_post_without_words(relevance: Relevance) -> None:
    assert relevance.rule("Фото дня", point=(37.1, 55.1)) == "geo:testovsk"
    assert relevance.rule("Фото дня", point=(14.43, 50.07)) is None  # Prague


def test_geotag_place_title_naming_a_territory(relevance: Relevance) -> None:
    assert relevance.rule("Фото дня", place_title="Заречье") == "geo-place:Заречье"


def test_geometry_helpers() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [
            [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
            [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
        ],
    }
    assert contains(square, (1, 1))
    assert not contains(square, (5, 5))  # in the hole
    assert not contains(square, (11, 1))
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square["coordinates"], [[[20, 20], [30, 20], [30, 30], [20, 20]]]],
    }
    assert contains({"type": "Feature", "geometry": multi}, (28, 22))
    assert not contains({"type": "Point", "coordinates": [1, 1]}, (1, 1))
    assert parse_vk_coordinates("50.075544478827 14.437798116462") == (14.437798116462, 50.075544478827)
    assert parse_vk_coordinates("north") is None
    assert parse_vk_coordinates("95 10") is None
