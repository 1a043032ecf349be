"""`infopole crawl SOURCE --once`: switched-off and unknown sources, and a real run against loopback OK."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from index.sqlite import SqliteStore
from index.store import PostQuery
from infopole.cli import app
from tests.crawlers.ok.fake_ok import APP_KEY, APP_SECRET, GROUP, TOKEN, FakeOkServer, standard_world

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFOPOLE_DATA_DIR", str(tmp_path / "data"))
    for name in ("VK__TOKEN", "OK__APPLICATION_KEY", "OK__SESSION_KEY", "REDIS__URL", "INFOPOLE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def test_source_without_token_is_switched_off_loudly(data_dir: Path) -> None:
    result = runner.invoke(app, ["crawl", "vk", "--once"])
    assert result.exit_code == 1
    assert "vk отключён: VK__TOKEN не задан" in result.output


def test_unknown_source_is_an_error(data_dir: Path) -> None:
    result = runner.invoke(app, ["crawl", "facebook", "--once"])
    assert result.exit_code == 2
    assert "неизвестный источник 'facebook'" in result.output


def test_ok_run_ingests_into_the_store_and_a_second_run_adds_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = standard_world()
    now_ms = int(time.time() * 1000)
    for age, topic in enumerate(world.topics[GROUP]):
        topic["created_ms"] = now_ms - (age + 1) * 3_600_000  # 1, 2 and 3 hours ago
    profile = {
        "name": "город Тестовск",
        "pages": [
            {
                "id": "ok-adm",
                "network": "ok",
                "name": "Администрация",
                "url": "https://ok.ru/",
                "owner_id": GROUP,
            }
        ],
    }
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    with FakeOkServer(world) as server:
        monkeypatch.setenv("INFOPOLE_PROFILE", str(path))
        monkeypatch.setenv("OK__APPLICATION_KEY", APP_KEY)
        monkeypatch.setenv("OK__SESSION_KEY", TOKEN)
        monkeypatch.setenv("OK__APPLICATION_SECRET_KEY", APP_SECRET)
        monkeypatch.setenv("OK__API_URL", server.url)
        monkeypatch.setenv("OK__REQUESTS_PER_SECOND", "100")
        first = runner.invoke(app, ["crawl", "ok", "--once"])
        second = runner.invoke(app, ["crawl", "ok", "--once"])
    assert first.exit_code == 0, first.output
    assert "ok: собрано 7 за" in first.output  # 3 topics and 4 comments
    assert "официальных страниц обновлено: 1" in first.output
    assert "ok: собрано 0 за" in second.output
    store = SqliteStore(data_dir / "infopole.sqlite3")
    try:
        posts = store.query_posts(PostQuery(limit=100)).items
        assert len(posts) == 7 and all(p.source == "ok" for p in posts)
        assert any(p.sector for p in posts)  # understood on the way in
        assert store.get_source_state("ok") is not None
    finally:
        store.close()
