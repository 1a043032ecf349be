"""Tests for risk.gazetteer_csv: reading district,settlement,street CSVs and linking places with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.profile import Profile, Territory, load_profile
from risk.gazetteer_csv import (
    GazetteerCsvError,
    merge_territories,
    read_gazetteer_csv,
    split_settlement,
    with_gazetteer_files,
)
from risk.places import Gazetteer
from tests.conftest import require_shared_data

EXCERPT = Path(__file__).resolve().parents[1] / "fixtures" / "gazetteer" / "spb_lo_excerpt.csv"


def _spb() -> Profile:
    return Profile(name="СПб", territories=[Territory(id="spb", name="Санкт-Петербург", level="region")])


def test_excerpt_builds_districts_settlements_and_streets() -> None:
    loaded = read_gazetteer_csv(EXCERPT)
    assert loaded.problems == [] and loaded.rows == 8 and loaded.streets == 8
    districts = {d.name: d for d in loaded.territories}
    assert list(districts) == ["Колпинский", "Выборгский", "Адмиралтейский", "Гатчинский"]
    kolpino = districts["Колпинский"].children[0]
    assert (kolpino.name, kolpino.level, kolpino.aliases) == ("Колпино", "settlement", ["Колпино г."])
    assert kolpino.streets == ["Адмиралтейская ул.", "Братьев Радченко ул.", "Пролетарская ул."]
    pargolovo = districts["Выборгский"].children[0]  # "Парголово, 1-я Успенка ул." names its settlement
    assert pargolovo.name == "Парголово" and pargolovo.streets == ["1-я Успенка ул."]
    assert districts["Адмиралтейский"].streets == ["Садовая ул."]  # no settlement: the district's own
    again = read_gazetteer_csv(EXCERPT)  # ids are stable across reads and processes
    assert [d.id for d in again.territories] == [d.id for d in loaded.territories]


def test_settlement_types_are_cut_off_the_name() -> None:
    assert split_settlement("Колпино г.") == ("Колпино", "г")
    assert split_settlement("пос. Войсковицы") == ("Войсковицы", "пос")
    assert split_settlement("Абрамова Гора дер.") == ("Абрамова Гора", "дер")
    assert split_settlement("Ропша") == ("Ропша", None)


def test_places_resolve_against_the_loaded_streets() -> None:
    profile = merge_territories(_spb(), read_gazetteer_csv(EXCERPT).territories)
    gazetteer = Gazetteer(profile)
    kolpino = next(t for t in profile.walk() if t.name == "Колпино")
    places = gazetteer.find_text("Третий день нет воды на Адмиралтейской улице д 5 в Колпино")
    assert [(p.level, p.name, p.house, p.territory) for p in places] == [
        ("house", "Адмиралтейская ул.", "5", kolpino.id),
        ("settlement", "Колпино", None, kolpino.id),
    ]
    assert gazetteer.find_text("яма на ул. Братьев Радченко 3")[0].house == "3"
    district = gazetteer.find_text("В Адмиралтейском районе темно")[0]
    assert (district.level, district.name) == ("district", "Адмиралтейский")
    assert gazetteer.find_text("на пос. Войсковицы, Авиационная ул. 7")[-1].name == "Авиационная ул."


def test_merge_adds_to_a_same_named_territory_and_keeps_ids_unique() -> None:
    own = Profile(
        name="Колпино",
        territories=[
            Territory(
                id="mo",
                name="Колпинский район",
                level="municipality",
                children=[Territory(id="kolp", name="Колпино", level="settlement", streets=["Ленина"])],
            )
        ],
    )
    merged = merge_territories(own, read_gazetteer_csv(EXCERPT).territories)
    kolp = merged.territory("kolp")
    assert kolp is not None and kolp.streets[0] == "Ленина" and "Пролетарская ул." in kolp.streets
    untouched = own.territory("kolp")
    assert untouched is not None and untouched.streets == ["Ленина"]  # the input profile is not changed
    ids = [t.id for t in merged.walk()]
    assert len(ids) == len(set(ids))


def test_bad_rows_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_bytes(
        "район;населённый пункт;улица\nКировский;;Ленина ул.\n;Село;Мира ул.\nКировский;а;б;в\n".encode(
            "cp1251"
        )
    )
    loaded = read_gazetteer_csv(path)
    assert loaded.streets == 1 and loaded.territories[0].streets == ["Ленина ул."]
    assert loaded.problems == [
        "строка 3: не указан район — пропущена",
        "строка 4: полей 4, а в заголовке 3 — пропущена",
    ]


def test_unusable_files_raise_russian_errors(tmp_path: Path) -> None:
    with pytest.raises(GazetteerCsvError, match="не найден"):
        read_gazetteer_csv(tmp_path / "missing.csv")
    (tmp_path / "cols.csv").write_text("name,value\nа,б\n", encoding="utf-8")
    with pytest.raises(GazetteerCsvError, match="нет столбцов district, street"):
        read_gazetteer_csv(tmp_path / "cols.csv")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(GazetteerCsvError, match="пуст"):
        read_gazetteer_csv(tmp_path / "empty.csv")


def test_profile_lists_gazetteer_files_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "streets.csv").write_bytes(EXCERPT.read_bytes())
    (tmp_path / "p.yaml").write_text("name: СПб\ngazetteer_csv: [streets.csv]\n", encoding="utf-8")
    profile = load_profile(tmp_path / "p.yaml")
    assert profile.gazetteer_csv == [tmp_path / "streets.csv"]
    merged, problems = with_gazetteer_files(profile, profile.gazetteer_csv)
    assert problems == [] and any(t.name == "Колпино" for t in merged.walk())


def test_whole_spb_and_lo_gazetteer_loads_and_links() -> None:
    folder = require_shared_data("gazetteer-spb-lo-streets")
    spb = read_gazetteer_csv(folder / "spb_streets.csv")
    lo = read_gazetteer_csv(folder / "lo_streets.csv")
    assert len(spb.territories) == 18 and spb.streets > 3_500 and not spb.problems
    assert len(lo.territories) >= 17 and lo.rows > 8_000
    profile = merge_territories(merge_territories(_spb(), spb.territories), lo.territories)
    gazetteer = Gazetteer(profile)
    places = gazetteer.find_text("На Пролетарской улице в Колпино прорвало трубу")
    assert ("street", "Пролетарская ул.") in [(p.level, p.name) for p in places]
    assert gazetteer.territory_of(places) == next(t.id for t in profile.walk() if t.name == "Колпино")
