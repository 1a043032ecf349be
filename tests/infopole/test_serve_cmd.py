"""`infopole serve`: one process gets the app, several get the factory; bad settings stop it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn

from infopole.serve_cmd import APP_FACTORY, serve_api


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[Any, dict[str, Any]]]:
    """Record uvicorn.run calls instead of serving; settings from a clean environment."""
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    monkeypatch.setenv("INFOPOLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("API__KEYS", '{"serve-key-0123456789": "admin"}')
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    return calls


def test_several_workers_import_the_app_factory(runs: list[tuple[Any, dict[str, Any]]]) -> None:
    serve_api("127.0.0.1", 8123, 3)
    assert runs == [(APP_FACTORY, {"factory": True, "host": "127.0.0.1", "port": 8123, "workers": 3})]
    module, name = APP_FACTORY.split(":")
    assert callable(getattr(__import__(module, fromlist=[name]), name))


def test_workers_default_to_the_setting(
    runs: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_api("127.0.0.1", 8123, None)
    assert runs[-1][1]["workers"] == 2  # API__WORKERS default
    monkeypatch.setenv("API__WORKERS", "1")
    serve_api("127.0.0.1", 8123, None)
    app, kwargs = runs[-1]
    assert not isinstance(app, str) and "workers" not in kwargs  # one process: the app itself


def test_bad_settings_or_count_stop_with_a_message(
    runs: list[tuple[Any, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit):
        serve_api("127.0.0.1", 8123, 0)
    assert "не меньше 1" in capsys.readouterr().err
    monkeypatch.setenv("API__KEYS", '{"serve-key-0123456789": "nobody"}')
    with pytest.raises(typer.Exit):
        serve_api("127.0.0.1", 8123, 2)
    assert "ошибка" in capsys.readouterr().err
    assert runs == []
