"""«Инцидент Менеджмент» import: a generated XLSX with the real column set, and broken files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.imports import ImportFileError, importer
from crawlers.imports.im import import_im
from index.models import IncidentStatus, Kind, Outcome
from index.profile import load_profile
from index.store import IncidentQuery, PostQuery
from risk.incidents import due_escalations
from risk.understand import Understander
from tests.crawlers.imports.exports import IM_COLUMNS, im_rows, write_xlsx

NOW = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
PROFILE = load_profile(DEMO_PROFILE_PATH)


@pytest.fixture(scope="module")
def understander() -> Understander:
    return Understander(PROFILE)


def run(path: Path, store, understander, now: datetime = NOW):
    return import_im(path, store, PROFILE, understander, now)


def test_export_becomes_posts_and_incident_history(tmp_path, sqlite_store, understander):
    path = write_xlsx(tmp_path / "im.xlsx", im_rows())
    report = run(path, sqlite_store, understander)
    assert report.summary() == "импортировано 6, пропущено 0"
    assert report.lines()[-1] == report.summary()
    assert sqlite_store.count_posts(PostQuery(source="im")) == 6

    post = sqlite_store.get_post("im:1001")
    assert post is not None and post.source == "im" and post.source_id == "1001"
    assert post.published_at == datetime(2024, 3, 4, 7, 15, tzinfo=UTC)  # 10:15 Moscow time
    assert (post.sector, post.topic) == ("Дороги", "Ямы и выбоины на дороге")  # as ИМ gives them
    assert post.sector_confidence == 1.0 and post.kind == Kind.complaint
    assert post.url == "https://vk.com/wall-1_101"
    assert post.territory == "d-severny"  # Садовая is listed under Северный район
    assert any(p.name == "Садовая" and p.house == "12" for p in post.places)
    assert "яма" in post.lemmas.split()  # the understanding step ran
    assert post.raw["Соцсеть"] == "ВКонтакте" and post.raw["_row"] == 2

    solved = sqlite_store.get_incident("im:1001")
    assert solved is not None
    assert (solved.status, solved.outcome, solved.recipient) == (
        IncidentStatus.closed,
        Outcome.solved,
        "roads",
    )
    assert solved.post_ids == ["im:1001"]
    assert solved.closed_at == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    assert solved.final_answered_at == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert solved.first_answer_due is not None and solved.first_answer_due > solved.created_at
    assert [a.action for a in solved.audit][:2] == ["импортирован", "ответ"]
    assert sqlite_store.find_incident_for_post("im:1001").id == "im:1001"

    explained = sqlite_store.get_incident("im:1002")
    assert (explained.outcome, explained.recipient) == (Outcome.explained, "zhkh")
    assert explained.final_answered_at == explained.closed_at  # closed without an answer date
    working = sqlite_store.get_incident("im:1003")
    assert (working.status, working.recipient) == (IncidentStatus.assigned, "tko")
    assert sqlite_store.get_post("im:1003").topic == "★ Уборка/Вывоз мусора"
    interim = sqlite_store.get_incident("im:1004")
    assert interim.status == IncidentStatus.interim
    assert interim.first_answered_at == datetime(2024, 3, 4, 13, 0, tzinfo=UTC)
    assert interim.final_answer_due is not None and interim.final_answer_due > interim.first_answered_at
    redirected = sqlite_store.get_incident("im:1005")
    assert redirected.outcome == Outcome.redirected
    assert redirected.recipient == "Министерство здравоохранения области"
    assert any("не найден в профиле" in note for note in report.notes)
    info = sqlite_store.get_post("im:1006")
    assert info.kind == Kind.information
    assert sqlite_store.query_incidents(IncidentQuery(limit=100)).total == 6


def test_importing_the_same_file_twice_adds_nothing(tmp_path, sqlite_store, understander):
    path = write_xlsx(tmp_path / "im.xlsx", im_rows())
    run(path, sqlite_store, understander)
    versions = {i.id: i.version for i in sqlite_store.query_incidents(IncidentQuery(limit=100)).items}
    again = run(path, sqlite_store, understander, NOW.replace(hour=15))
    assert again.summary() == "импортировано 0, пропущено 0, без изменений 6"
    assert sqlite_store.count_posts(PostQuery(source="im")) == 6
    assert {i.id: i.version for i in sqlite_store.query_incidents(IncidentQuery(limit=100)).items} == versions


def test_a_newer_export_updates_the_history(tmp_path, sqlite_store, understander):
    rows = im_rows()
    run(write_xlsx(tmp_path / "march.xlsx", rows), sqlite_store, understander)
    rows[2]["Итог"] = "Решено"
    rows[2]["Дата окончания"] = datetime(2024, 3, 6, 10, 0)
    report = run(write_xlsx(tmp_path / "march-2.xlsx", rows), sqlite_store, understander)
    assert report.summary() == "импортировано 0, пропущено 0, обновлено 1, без изменений 5"
    incident = sqlite_store.get_incident("im:1003")
    assert (incident.status, incident.outcome) == (IncidentStatus.closed, Outcome.solved)
    assert incident.audit[-1].action == "обновлён импортом" and "status" in incident.audit[-1].detail


def test_history_raises_no_retroactive_escalations(tmp_path, sqlite_store, understander):
    run(write_xlsx(tmp_path / "im.xlsx", im_rows()), sqlite_store, understander)
    working = sqlite_store.get_incident("im:1003")
    assert working.status == IncidentStatus.assigned and working.first_answer_due < NOW
    assert due_escalations(working, NOW, PROFILE.sla) == []
    assert working.escalation_level >= 2


def test_bad_rows_are_skipped_with_reasons_and_valid_rows_kept(tmp_path, sqlite_store, understander):
    rows = im_rows()[:3]
    rows += [
        {"Номер инцидента": 2001, "Дата создания": datetime(2024, 3, 4, 9, 0), "Текст инцидента": None},
        {"Номер инцидента": 2002, "Дата создания": "вчера", "Текст инцидента": "Нет света в подъезде"},
        {"Номер инцидента": 1001, "Дата создания": datetime(2024, 3, 4, 9, 0), "Текст инцидента": "Повтор"},
        {"Номер инцидента": 20.5, "Дата создания": datetime(2024, 3, 4, 9, 0), "Текст инцидента": "Дробь"},
        {
            "Номер инцидента": None,
            "Дата создания": datetime(2024, 3, 4, 9, 0),
            "Текст инцидента": "Без номера",
        },
        {
            "Номер инцидента": 2003,
            "Дата создания": datetime(2024, 3, 4, 9, 0),
            "Дата окончания": "скоро",
            "Текст инцидента": "Во дворе на Мира 4 не горят фонари",
            "Итог": "Странный итог",
        },
    ]
    path = write_xlsx(tmp_path / "broken.xlsx", rows, blank_rows=(1,))
    report = run(path, sqlite_store, understander)
    assert report.summary() == "импортировано 4, пропущено 5"
    reasons = "\n".join(report.skipped)
    assert "строка 6: нет текста инцидента" in reasons
    assert "строка 7: «Дата создания»: «вчера» не похоже на дату" in reasons
    assert "строка 8: повтор номера 1001 (уже в строке 2)" in reasons
    assert "строка 9: «Номер инцидента» должен быть целым числом" in reasons
    assert "строка 10: нет значения «Номер инцидента»" in reasons
    assert report.empty_rows == 1 and "пустых строк: 1 (не считаются)" in report.lines()
    notes = "\n".join(report.notes)
    assert "строка 11: «Дата окончания»: «скоро» не похоже на дату" in notes
    assert "неизвестный итог «Странный итог»" in notes
    kept = sqlite_store.get_incident("im:2003")
    assert kept is not None and kept.closed_at is None and kept.status == IncidentStatus.assigned  # routed
    assert sqlite_store.count_posts(PostQuery(source="im")) == 4


def test_title_block_and_merged_cells(tmp_path, sqlite_store, understander):
    rows = im_rows()[:3]
    path = write_xlsx(tmp_path / "titled.xlsx", rows, title="Выгрузка инцидентов за март 2024")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb.active
    executor = IM_COLUMNS.index("Исполнитель") + 1
    for row in (5, 6):  # the executor cell merged over rows 4–6, as a grouped report shows it
        ws.cell(row=row, column=executor).value = None
    ws.merge_cells(start_row=4, start_column=executor, end_row=6, end_column=executor)
    wb.save(path)
    report = run(path, sqlite_store, understander)
    assert report.summary() == "импортировано 3, пропущено 0"
    assert any("объединённые ячейки" in note for note in report.notes)
    assert {sqlite_store.get_incident(f"im:100{i}").recipient for i in (1, 2, 3)} == {"roads"}


def test_missing_columns_stop_the_import_before_writing(tmp_path, sqlite_store, understander):
    columns = [c for c in IM_COLUMNS if c not in ("Текст инцидента", "Дата создания")]
    path = write_xlsx(tmp_path / "no-text.xlsx", im_rows(), columns)
    with pytest.raises(ImportFileError) as info:
        run(path, sqlite_store, understander)
    message = str(info.value)
    assert "нет обязательных столбцов «Текст инцидента», «Дата создания»" in message
    assert "«Номер инцидента»" in message  # what was found is listed
    assert sqlite_store.count_posts(PostQuery()) == 0


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0", "старый формат .xls"),
        ("fake.xlsx", b"not a zip", "не читается как XLSX"),
        ("data.json", b"{}", "неизвестный формат .json"),
    ],
)
def test_unreadable_files_are_reported_in_russian(
    tmp_path, sqlite_store, understander, name, content, reason
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=reason):
        run(path, sqlite_store, understander)
    with pytest.raises(ImportFileError, match="файл не найден"):
        run(tmp_path / "absent.xlsx", sqlite_store, understander)


def test_header_only_file_has_no_data(tmp_path, sqlite_store, understander):
    wb = Workbook()
    wb.active.append(list(IM_COLUMNS))
    wb.save(tmp_path / "empty.xlsx")
    with pytest.raises(ImportFileError, match="нет строк с данными"):
        run(tmp_path / "empty.xlsx", sqlite_store, understander)


def test_importer_dispatch():
    assert importer("im") is import_im
    with pytest.raises(ImportFileError, match="допустимы im"):
        importer("xls")


def test_the_export_is_readable_by_infopole_train(tmp_path):
    from infopole.train import _column, read_table

    frame = read_table(write_xlsx(tmp_path / "im.xlsx", im_rows()))
    assert _column(frame, "Текст инцидента", "с текстом") == "Текст инцидента"
    assert frame["Группа тем"].dropna().tolist()[:2] == ["Дороги", "ЖКХ"]
