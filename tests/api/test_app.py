"""create_app defaults: the store and profile it opens itself, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import AppContext
from index.sqlite import SqliteStore
from index.store import PostQuery, StoreUnavailable
from infopole.settings import ApiSettings, Settings
from tests.api.conftest import build_profile, headers
from tests.factories import make_post


def _settings(tmp_path: Path, profile: Path | None = None) -> Settings:
    return Settings(
        env="development",
        data_dir=tmp_path / "data",
        profile=profile,
        api=ApiSettings(keys={"key-head-0123456789": "head"}),
    )


def test_opens_and_closes_its_own_store(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = create_app(settings, profile=build_profile())
    ctx: AppContext = app.state.ctx
    assert isinstance(ctx.store, SqliteStore)
    assert settings.sqlite_path.exists()
    ctx.store.upsert_posts([make_post()])
    with TestClient(app) as client:
        assert client.get("/posts", headers=headers("head")).json()["total"] == 1
    with pytest.raises(StoreUnavailable):
        ctx.store.count_posts(PostQuery())


def test_a_store_passed_in_stays_open(sqlite_store: SqliteStore, tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), sqlite_store, build_profile())
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    assert sqlite_store.count_posts(PostQuery()) == 0


def test_loads_the_configured_profile(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(
        'name: "Тестовск"\ntimezone: "Asia/Yekaterinburg"\nrecipients:\n  - {id: roads, name: "Дороги"}\n',
        encoding="utf-8",
    )
    app = create_app(_settings(tmp_path, profile=path), sqlite_store)
    ctx: AppContext = app.state.ctx
    assert ctx.profile.name == "Тестовск"
    assert str(ctx.timezone) == "Asia/Yekaterinburg"


def test_falls_back_to_the_demo_profile(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    app = create_app(_settings(tmp_path), sqlite_store)
    ctx: AppContext = app.state.ctx
    assert ctx.profile.name == "городской округ Заречинск"
    assert ctx.profile.recipients


def test_unknown_timezone_is_refused(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    profile = build_profile().model_copy(update={"timezone": "Europe/Atlantis"})
    with pytest.raises(ValueError, match="часовой пояс"):
        create_app(_settings(tmp_path), sqlite_store, profile)


def test_default_clock_is_wall_time(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    app = create_app(_settings(tmp_path), sqlite_store, build_profile())
    body = TestClient(app).get("/indicators", headers=headers("head")).json()
    assert body["now"][:4] >= "2025"


def test_cors_only_for_configured_origins(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    settings = _settings(tmp_path)
    settings.api.cors_origins = ["https://mcu.example"]
    client = TestClient(create_app(settings, sqlite_store, build_profile()))
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-API-Key"}
    allowed = client.options("/posts", headers={"Origin": "https://mcu.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://mcu.example"
    other = client.options("/posts", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    plain = TestClient(create_app(_settings(tmp_path), sqlite_store, build_profile()))
    response = plain.get("/healthz", headers={"Origin": "https://mcu.example"})
    assert "access-control-allow-origin" not in response.headers
