"""`infopole forget AUTHOR`: one person's posts and their traces leave the store; others stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crawlers.vk.mapping import map_vk_item
from index.forgetting import FORGET_ACTOR
from index.pseudonym import pseudonymise
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery, PostQuery
from infopole.cli import app
from infopole.forget import ForgetError, author_pseudonym
from infopole.settings import Settings
from tests.factories import BASE_TIME, make_alert, make_incident

KEY = Settings(env="development").pseudonym_key


def _vk(item_id: int, from_id: int, text: str) -> dict[str, Any]:
    return {
        "owner_id": -100,
        "id": item_id,
        "from_id": from_id,
        "date": int((BASE_TIME + timedelta(minutes=item_id)).timestamp()),
        "text": text,
    }


def _fill(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    posts = [
        map_vk_item(_vk(1, 12345, "Я Анна, звоните 8 900 123-45-67, у нас прорвало трубу"), KEY),
        map_vk_item(_vk(2, 12345, "Труба так и течёт, второй день без воды"), KEY),
        map_vk_item(_vk(3, 777, "У нас тоже нет воды на Ленина"), KEY),
    ]
    store.upsert_posts(posts)
    store.save_incident(make_incident(post_ids=[p.id for p in posts]))
    store.add_alert(make_alert(post_ids=[posts[0].id], text=f"Всплеск.\n— {posts[0].text}"))
    return store


def _run(args: list[str], data_dir: Path) -> Any:
    env = {"INFOPOLE_DATA_DIR": str(data_dir), "INFOPOLE_ENV": "development", "STORE__BACKEND": "sqlite"}
    return CliRunner().invoke(app, args, env=env)


@pytest.mark.parametrize("author", ["vk:12345", "https://vk.com/id12345", "vk.com/id12345/"])
def test_forget_by_account_or_profile_link(tmp_path: Path, author: str) -> None:
    data_dir = tmp_path / "data"
    store = _fill(data_dir / "infopole.sqlite3")
    store.close()

    result = _run(["forget", author], data_dir)

    assert result.exit_code == 0, result.output
    pseudonym = pseudonymise("vk:12345", KEY)
    assert f"автор {pseudonym}: удалено сообщений 2 (vk: 2)" in result.output
    assert "12345" not in result.output.replace(pseudonym, "")  # the raw account is never echoed
    with SqliteStore(data_dir / "infopole.sqlite3") as store:
        left = store.query_posts(PostQuery(limit=10)).items
        assert [p.text for p in left] == ["У нас тоже нет воды на Ленина"]
        incident = store.query_incidents(IncidentQuery()).items[0]
        assert incident.post_ids == [left[0].id]
        assert incident.audit[-1].actor == FORGET_ACTOR
        alert = store.query_alerts(AlertQuery()).items[0]
        assert alert.post_ids == [] and "8 900" not in alert.text
        raw_dump = "".join(p.model_dump_json() for p in left)
        assert "Анна" not in raw_dump and "8 900" not in raw_dump

    again = _run(["forget", pseudonym], data_dir)
    assert again.exit_code == 0 and "удалено сообщений 0" in again.output


def test_an_unknown_form_of_author_is_refused_in_russian(tmp_path: Path) -> None:
    result = _run(["forget", "Анна из третьего подъезда"], tmp_path / "data")
    assert result.exit_code == 2
    assert "не понимаю автора" in result.output


def test_author_forms_resolve_to_the_collectors_pseudonyms() -> None:
    vk = pseudonymise("vk:12345", KEY)
    assert author_pseudonym(vk.upper(), KEY) == vk
    assert author_pseudonym("  https://m.vk.com/id12345  ", KEY) == vk
    assert author_pseudonym("https://ok.ru/profile/55", KEY) == pseudonymise("ok:user:55", KEY)
    assert author_pseudonym("tg:777", KEY) == pseudonymise("tg:777", KEY)
    with pytest.raises(ForgetError, match="не понимаю автора"):
        author_pseudonym("12345", KEY)
