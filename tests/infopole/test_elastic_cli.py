"""The scale-out commands end to end on osmem-server: elastic setup, migrate, reindex, retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.models import utcnow
from index.sqlite import SqliteStore
from index.store import PostQuery
from infopole.cli import app
from infopole.settings import Settings
from tests.factories import make_post
from tests.index.elastic_target import drop_store, es_target, unique_prefix
from worker.runtime import open_elastic_store, open_store


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    target = es_target()
    monkeypatch.setenv("INFOPOLE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFOPOLE_ENV", "development")
    monkeypatch.setenv("STORE__BACKEND", "elastic")
    monkeypatch.setenv("STORE__ES_URL", target.url)
    monkeypatch.setenv("STORE__ES_PREFIX", unique_prefix())
    monkeypatch.setenv("STORE__ES_PLAIN_JSON", str(not target.real).lower())
    if target.real:
        monkeypatch.setenv("STORE__ES_PASSWORD", target.password)
    settings = Settings()
    yield settings
    drop_store(open_elastic_store(settings, setup=False))


def test_setup_migrate_reindex_retention(env: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["elastic", "setup"])
    assert result.exit_code == 0, result.output
    assert "Elasticsearch готов" in result.output

    now = utcnow()
    embedded = SqliteStore(env.sqlite_path)
    embedded.upsert_posts([make_post(published_at=now - timedelta(days=d)) for d in (1, 2, 400)])
    embedded.close()
    result = runner.invoke(app, ["migrate", "--to", "elastic"])
    assert result.exit_code == 0, result.output
    assert "перенесено: сообщений 3" in result.output

    store = open_store(env)
    assert store.count_posts(PostQuery()) == 3
    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "сообщений: 3" in result.output
    result = runner.invoke(app, ["retention", "--days", "365"])
    assert result.exit_code == 0, result.output
    assert "удалено сообщений старше 365 дн.: 1" in result.output
    assert store.count_posts(PostQuery()) == 2
    store.close()


def test_bad_arguments_give_russian_errors(env: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["migrate", "--to", "mongo"])
    assert result.exit_code == 2 and "перенос возможен только в elastic" in result.output
    result = runner.invoke(app, ["migrate", "--to", "elastic", "--from", "/нет/такого.sqlite3"])
    assert result.exit_code == 2 and "нет файла встроенного хранилища" in result.output
    result = runner.invoke(app, ["elastic", "setup", "--kibana-password-env", "INFOPOLE_NO_SUCH_VARIABLE"])
    assert result.exit_code == 2 and "не задана" in result.output
