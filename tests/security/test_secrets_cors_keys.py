"""Secrets only from the environment, refused when default outside development; CORS closed; keys hashed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import KeyRing
from api.keys import add_key, keys_path
from index.models import utcnow
from index.sqlite import SqliteStore
from infopole.cli import app as cli
from infopole.settings import SettingsError, load_settings
from tests.api.conftest import ROLE_KEYS, build_profile, headers
from tests.security.conftest import AppFactory

GOOD_KEY = "k3y-" + "x" * 28
GOOD_SECRET = "pseudonym-" + "y" * 30
PRODUCTION = {
    "INFOPOLE_ENV": "production",
    "API__KEYS": json.dumps({GOOD_KEY: "admin"}),
    "API__PSEUDONYM_SECRET": GOOD_SECRET,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Clear every Infopole variable, point the data folder at tmp and run outside the repo's .env."""
    import os

    for name in list(os.environ):
        if name.startswith(("INFOPOLE_", "API__", "STORE__", "NOTIFY__")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INFOPOLE_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


UNSAFE = [
    ({"API__KEYS": ""}, "API__KEYS"),
    ({"API__KEYS": "{}"}, "API__KEYS"),
    ({"API__KEYS": json.dumps({"demo-key": "admin"})}, "API__KEYS"),
    ({"API__KEYS": json.dumps({"short-key": "admin"})}, "API__KEYS"),
    ({"API__KEYS": json.dumps({"replace-with-a-long-random-key-1": "admin"})}, "API__KEYS"),
    ({"API__PSEUDONYM_SECRET": ""}, "API__PSEUDONYM_SECRET"),
    ({"API__PSEUDONYM_SECRET": "changeme"}, "API__PSEUDONYM_SECRET"),
    ({"API__PSEUDONYM_SECRET": "replace-with-a-long-random-secret"}, "API__PSEUDONYM_SECRET"),
    ({"STORE__BACKEND": "elastic", "STORE__ES_PASSWORD": ""}, "STORE__ES_PASSWORD"),
    (
        {"STORE__BACKEND": "elastic", "STORE__ES_PASSWORD": "replace-with-a-random-password"},
        "STORE__ES_PASSWORD",
    ),
    ({"NOTIFY__WEBHOOK_URL": "https://hooks.example/x"}, "NOTIFY__WEBHOOK_SECRET"),
]


@pytest.mark.parametrize(("change", "named"), UNSAFE)
def test_production_refuses_default_or_empty_secrets(
    env: pytest.MonkeyPatch, change: dict[str, str], named: str
) -> None:
    for name, value in {**PRODUCTION, **change}.items():
        env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert named in message and "неверные настройки" in message
    assert GOOD_SECRET not in message and GOOD_KEY not in message  # values are never echoed
    with pytest.raises(ValueError, match=named):
        create_app()  # the API refuses to start as well


def test_serve_refuses_to_start_in_production_with_placeholders(env: pytest.MonkeyPatch) -> None:
    for name, value in {**PRODUCTION, "API__PSEUDONYM_SECRET": "secret"}.items():
        env.setenv(name, value)
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "задайте API__PSEUDONYM_SECRET" in result.output
    assert "secret" not in result.output.replace("SECRET", "")


def test_production_starts_with_real_secrets_and_development_key_is_refused(env: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        env.setenv(name, value)
    settings = load_settings()
    assert settings.env == "production" and "demo-key" not in settings.api.keys
    store = SqliteStore(settings.sqlite_path)
    try:
        with TestClient(create_app(settings, store, build_profile())) as client:
            assert client.get("/posts", headers={"X-API-Key": "demo-key"}).status_code == 401
            assert client.get("/posts", headers={"X-API-Key": GOOD_KEY}).status_code == 200
    finally:
        store.close()


def test_secrets_are_masked_in_the_settings_repr(env: pytest.MonkeyPatch) -> None:
    for name, value in {**PRODUCTION, "STORE__ES_PASSWORD": "es-" + "z" * 20}.items():
        env.setenv(name, value)
    shown = repr(load_settings())
    assert GOOD_SECRET not in shown and "zzzzzzzz" not in shown


# CORS


def test_cors_is_closed_by_default(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        answer = client.get("/posts", headers={**headers("admin"), "Origin": "https://evil.example"})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers
        preflight = client.options(
            "/posts",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_configured_origins(make_app: AppFactory) -> None:
    with TestClient(make_app(cors_origins=["https://mcu.example"])) as client:
        ok = client.get("/posts", headers={**headers("admin"), "Origin": "https://mcu.example"})
        assert ok.headers["access-control-allow-origin"] == "https://mcu.example"
        assert "access-control-allow-credentials" not in ok.headers
        other = client.get("/posts", headers={**headers("admin"), "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# Keys


def test_configured_keys_are_held_only_as_digests() -> None:
    ring = KeyRing({k: r for r, k in ROLE_KEYS.items()})
    held = repr(vars(ring))
    assert not any(key in held for key in ROLE_KEYS.values())
    assert ring.authenticate(ROLE_KEYS["head"]) is not None
    assert ring.authenticate(ROLE_KEYS["head"] + " ") is None
    assert ring.authenticate("") is None and ring.authenticate(None) is None


def test_cli_keys_are_stored_as_sha256_only(tmp_path: Path, make_app: AppFactory) -> None:
    path = keys_path(tmp_path / "data")
    _, key = add_key(path, "analyst", utcnow(), name="Аналитик")
    stored = path.read_text(encoding="utf-8")
    assert key not in stored and key[4:20] not in stored
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with TestClient(make_app()) as client:  # the app reads the same data folder
        assert client.get("/posts", headers={"X-API-Key": key}).status_code == 200


def test_the_login_cookie_is_httponly_and_strict(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        answer = client.post("/login", data={"key": ROLE_KEYS["head"]}, follow_redirects=False)
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
