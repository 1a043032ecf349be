"""Tests for risk.ner and the NER places: natasha's model from its wheel, used only where it is needed."""

from __future__ import annotations

import time

import pytest

from index.models import Kind
from risk import understand as understand_module
from risk.embedding import EmbeddingUnavailable
from risk.ner import MAX_NER_CHARS, ner_available, tag
from risk.places import NER_PLACE_LEVEL, needs_ner, ner_places
from risk.text import analyse
from risk.understand import Understander
from tests.risk.test_places import PROFILE
from tests.risk.test_understand import make_post


def test_the_model_loads_offline_from_the_installed_package() -> None:
    assert ner_available()


def test_tagger_finds_places_people_and_survives_odd_texts() -> None:
    found = tag(
        ["Вчера в Кировском районе глава Иван Петров обещал приехать в Подольск.", "", "😀😀", "x" * 5000]
    )
    first = [(e.type, e.text) for e in found[0]]
    assert (
        ("LOC", "Кировском районе") in first
        and ("PER", "Иван Петров") in first
        and ("LOC", "Подольск") in first
    )
    assert found[1] == [] and found[2] == [] and len(found) == 4
    assert all(e.end <= MAX_NER_CHARS for e in found[3])


def test_entities_become_places_with_levels_and_nominative_names() -> None:
    cases = {
        "на Садовой 5 нет воды третий день": [("house", "Садовая", "5")],
        "В посёлке Новый Свет на Речной улице д. 7 темно": [("house", "Речная", "7")],
        "Вчера в Кировском районе прорвало трубу": [("district", "Кировский", None)],
    }
    for text, want in cases.items():
        doc = analyse(text)
        got = [(p.level, p.name, p.house) for p in ner_places(doc, tag([doc.text])[0], [])]
        assert got == want, text
        assert all(p.territory is None for p in ner_places(doc, tag([doc.text])[0], []))
    assert NER_PLACE_LEVEL == "place"


def test_ner_is_needed_only_without_a_street_and_with_a_proper_noun_or_street_word() -> None:
    assert needs_ner(analyse("нет воды на Садовой"), [])
    assert needs_ner(analyse("яма на проспекте у школы"), [])
    assert not needs_ner(analyse("нет воды третий день"), [])
    assert not needs_ner(analyse("Нет воды. Когда дадут?"), [])  # capitals only at sentence starts
    assert not needs_ner(analyse("Владимир, Транспортная карта не работает"), [])  # a name, no preposition
    assert not needs_ner(analyse("писали в ЦУР и в МФЦ, ЖИТЕЛИ НА ОСТАНОВКЕ ЖДУТ"), [])  # all capitals
    assert needs_ner(analyse("первый больной из округа Штарнберг"), [])
    assert needs_ner(analyse("билет до Сочи стоит 40 тысяч"), [])
    street = Understander(PROFILE).gazetteer.find_text("нет воды на ул. Ленина 15")
    assert not needs_ner(analyse("нет воды на ул. Ленина 15 Иван"), street)


def test_understander_adds_ner_places_to_complaints_only() -> None:
    u = Understander(PROFILE)
    complaint = u.understand(make_post("Третий день нет горячей воды на Вишнёвой улице 12, когда дадут??"))
    assert complaint.kind is Kind.complaint
    assert [(p.level, p.name, p.house) for p in complaint.places] == [("house", "Вишнёвая", "12")]
    news = u.understand(make_post("В Подольске открыли новый парк", is_official=True))
    assert news.kind is Kind.information and news.places == []
    off = Understander(PROFILE, ner=False).understand(
        make_post("нет воды на Вишнёвой улице 12, когда дадут??")
    )
    assert off.places == []


def test_without_natasha_places_still_come_from_the_gazetteer(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(texts: list[str]) -> list[object]:
        raise EmbeddingUnavailable("пакет natasha не установлен")

    monkeypatch.setattr(understand_module, "tag", missing)
    u = Understander(PROFILE)
    out = u.understand(make_post("в Заречном районе нет воды на Вишнёвой улице, когда дадут??"))
    assert [p.name for p in out.places] == ["Заречный район"] and u.use_ner is False


def test_ner_keeps_the_step_fast_enough() -> None:
    u = Understander(PROFILE)
    posts = [make_post(f"Нет света на Ореховой улице {i}, когда починят??") for i in range(300)]
    u.understand_many(posts[:10])  # warm-up: model load
    start = time.process_time()  # CPU time: the machine may be shared with other jobs
    out = u.understand_many(posts)
    rate = len(posts) / (time.process_time() - start)
    assert all(p.places for p in out) and rate >= 150  # every post needs NER here: the worst case


def test_blas_runs_on_one_thread_inside_and_comes_back_after() -> None:
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    from risk.ner import one_blas_thread

    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    with one_blas_thread():
        inside = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert all(n == 1 for n in inside)
    assert after == before
