"""ПОС import: the documented column set as a Windows-1251 CSV and as XLSX."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.imports import ImportFileError
from crawlers.imports.pos import import_pos, parse_address
from index.models import IncidentStatus, Kind, Outcome
from index.profile import load_profile
from index.store import PostQuery
from risk.understand import Understander
from tests.crawlers.imports.exports import POS_COLUMNS, pos_rows, write_csv, write_xlsx

NOW = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
PROFILE = load_profile(DEMO_PROFILE_PATH)


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander(PROFILE)


def test_csv_export_becomes_posts_and_history(tmp_path, sqlite_store, understander):
    path = write_csv(tmp_path / "pos.csv", pos_rows())
    report = import_pos(path, sqlite_store, PROFILE, understander, NOW)
    assert report.summary() == "импортировано 3, пропущено 1"
    assert "строка 5: «Дата регистрации»: «32.03.2024» не похоже на дату" in report.skipped[0]
    notes = "\n".join(report.notes)
    assert "Windows-1251" in notes and "оценка «отлично» не от 1 до 5" in notes

    road = sqlite_store.get_post("pos:77001")
    assert road.source == "pos" and road.published_at == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)
    assert (road.sector, road.topic) == ("Дороги", "Ямы и выбоины на дороге")
    assert road.territory == "d-zavodskoy"
    assert any(p.name == "Гагарина" and p.house == "7" for p in road.places)
    assert road.raw["Канал поступления"] == "Госуслуги"
    solved = sqlite_store.get_incident("pos:77001")
    assert (solved.status, solved.outcome, solved.recipient) == (
        IncidentStatus.closed,
        Outcome.solved,
        "roads",
    )
    assert solved.final_answer_due == datetime(2024, 3, 10, 21, 0, tzinfo=UTC)  # «Срок ответа» 11.03 local

    bench = sqlite_store.get_post("pos:77002")
    assert bench.sector == "ЖКХ" and bench.kind == Kind.suggestion  # category mapped onto the ЦУР group
    assert sqlite_store.get_incident("pos:77002").status == IncidentStatus.assigned
    trash = sqlite_store.get_post("pos:77003")
    assert trash.sector == "Мусор/Свалки/ТКО"
    answered = sqlite_store.get_incident("pos:77003")
    assert (answered.status, answered.outcome) == (IncidentStatus.closed, Outcome.explained)
    assert answered.closed_at == datetime(2024, 3, 4, 6, 0, tzinfo=UTC)


def test_reimport_and_xlsx_variant_add_nothing(tmp_path, sqlite_store, understander):
    import_pos(write_csv(tmp_path / "pos.csv", pos_rows()), sqlite_store, PROFILE, understander, NOW)
    xlsx = write_xlsx(tmp_path / "pos.xlsx", pos_rows(), POS_COLUMNS)
    again = import_pos(xlsx, sqlite_store, PROFILE, understander, NOW)
    assert again.summary() == "импортировано 0, пропущено 1, без изменений 3"
    assert sqlite_store.count_posts(PostQuery(source="pos")) == 3


def test_utf8_comma_csv_and_missing_columns(tmp_path, sqlite_store, understander):
    path = write_csv(tmp_path / "utf8.csv", pos_rows()[:2], encoding="utf-8-sig", delimiter=",")
    report = import_pos(path, sqlite_store, PROFILE, understander, NOW)
    assert report.summary() == "импортировано 2, пропущено 0"
    assert not any("1251" in note for note in report.notes)
    broken = write_csv(
        tmp_path / "broken.csv", pos_rows(), [c for c in POS_COLUMNS if c != "Текст сообщения"]
    )
    with pytest.raises(ImportFileError, match="нет обязательных столбцов «Текст сообщения»"):
        import_pos(broken, sqlite_store, PROFILE, understander, NOW)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("г. Заречинск, ул. Гагарина, д. 7", ("Гагарина", "7")),
        ("Заречинск, проспект Победы, дом 12к1", ("Победы", "12к1")),
        ("пер. Школьный, 4", ("Школьный", "4")),
        ("Заречинск, Садовая ул., 3", ("Садовая", "3")),
        ("Заречинск, ул. Мира, д.5/2", ("Мира", "5/2")),
        ("Заречинск, центр", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected
