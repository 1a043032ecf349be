"""`infopole import im|pos FILE` writes into the store of INFOPOLE_DATA_DIR and ends with the summary."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from index.sqlite import SqliteStore
from index.store import PostQuery
from infopole.cli import app
from tests.crawlers.imports.exports import IM_COLUMNS, im_rows, pos_rows, write_csv, write_xlsx


@pytest.fixture(autouse=True)
def _demo_profile(monkeypatch):
    monkeypatch.delenv("INFOPOLE_PROFILE", raising=False)  # the bundled demo municipality


def invoke(args, data_dir):
    env = {"INFOPOLE_DATA_DIR": str(data_dir), "INFOPOLE_ENV": "development"}
    return CliRunner().invoke(app, args, env=env)


def test_import_im_twice_then_pos(tmp_path):
    data = tmp_path / "data"
    path = write_xlsx(tmp_path / "im.xlsx", [*im_rows()[:3], {"Номер инцидента": 9, "Текст инцидента": "x"}])
    first = invoke(["import", "im", str(path)], data)
    assert first.exit_code == 0, first.output
    lines = first.output.strip().splitlines()
    assert lines[-1] == "импортировано 3, пропущено 1"
    assert "  строка 5: нет даты создания" in lines
    second = invoke(["import", "im", str(path)], data)
    assert second.output.strip().splitlines()[-1] == "импортировано 0, пропущено 1, без изменений 3"
    pos = invoke(["import", "pos", str(write_csv(tmp_path / "pos.csv", pos_rows()))], data)
    assert pos.output.strip().splitlines()[-1] == "импортировано 3, пропущено 1"
    store = SqliteStore(data / "infopole.sqlite3")
    try:
        assert store.count_posts(PostQuery(source="im")) == 3
        assert store.count_posts(PostQuery(source="pos")) == 3
    finally:
        store.close()


def test_unusable_input_exits_2_with_a_russian_error(tmp_path):
    data = tmp_path / "data"
    no_text = write_xlsx(tmp_path / "x.xlsx", im_rows(), [c for c in IM_COLUMNS if c != "Текст инцидента"])
    result = invoke(["import", "im", str(no_text)], data)
    assert result.exit_code == 2
    assert "нет обязательных столбцов «Текст инцидента»" in result.output
    unknown = invoke(["import", "vk", str(no_text)], data)
    assert unknown.exit_code == 2 and "допустимы im" in unknown.output
    missing = invoke(["import", "pos", str(tmp_path / "absent.csv")], data)
    assert missing.exit_code == 2 and "файл не найден" in missing.output
