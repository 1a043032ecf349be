"""CLI-managed API keys: hashed storage, the key ring, `infopole keys add|list|revoke`, the API with them."""

from __future__ import annotations

import hashlib
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import API_KEY_HEADER, AuthConfigError
from api.keys import (
    KEY_PREFIX,
    KeyStoreError,
    StoredKeyRing,
    add_key,
    keys_path,
    load_keys,
    revoke_key,
)
from index.sqlite import SqliteStore
from infopole.cli import app as cli
from infopole.settings import ApiSettings, Settings
from tests.api.conftest import NOW, Clock, build_profile

runner = CliRunner()
RECIPIENTS = ["uk-dom", "roads"]


def test_add_stores_only_the_digest(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    entry, key = add_key(path, "head", NOW, name="  Иванов   И.И. ")
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    raw = path.read_text(encoding="utf-8")
    assert key not in raw
    assert entry.sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert entry.id == entry.sha256[:8]
    assert entry.name == "Иванов И.И."
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(raw)["keys"]
    assert stored == [
        {
            "id": entry.id,
            "name": "Иванов И.И.",
            "role": "head",
            "sha256": entry.sha256,
            "created_at": "2024-03-06T10:00:00Z",
            "revoked_at": None,
        }
    ]


def test_add_refuses_bad_roles(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    with pytest.raises(AuthConfigError, match="неизвестная роль"):
        add_key(path, "boss", NOW)
    with pytest.raises(AuthConfigError, match="нет в профиле"):
        add_key(path, "recipient:nobody", NOW, known_recipients=RECIPIENTS)
    with pytest.raises(KeyStoreError, match="длиннее"):
        add_key(path, "head", NOW, name="я" * 300)
    assert not path.exists()


def test_concurrent_adds_keep_every_key(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: add_key(path, "analyst", NOW, name=f"k{i}"), range(24)))
    stored = load_keys(path)
    assert sorted(k.name for k in stored) == sorted(f"k{i}" for i in range(24))
    assert len({k.id for k in stored}) == 24
    assert {e.sha256 for e, _ in results} == {k.sha256 for k in stored}


def test_ring_accepts_stored_and_settings_keys_and_sees_revocation(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    ring = StoredKeyRing({"env-key-0123456789": "analyst"}, RECIPIENTS, path)
    assert ring.authenticate("env-key-0123456789") is not None
    entry, key = add_key(path, "recipient:roads", NOW, name="дорожники")
    principal = ring.authenticate(key)
    assert principal is not None
    assert principal.role == "recipient:roads" and principal.recipient_id == "roads"
    assert principal.actor == f"recipient:roads#{entry.id}"
    assert len(ring) == 2
    assert ring.authenticate(key + "x") is None
    assert ring.authenticate("") is None and ring.authenticate(None) is None
    revoked = revoke_key(path, entry.id, NOW)
    assert revoked.revoked_at == NOW
    assert ring.authenticate(key) is None  # the same ring, no restart
    assert len(ring) == 1
    again = revoke_key(path, "дорожники", NOW.replace(year=2025))
    assert again.revoked_at == NOW  # the first revocation time is kept


def test_ring_skips_bad_entries_and_a_corrupt_file(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    _, good = add_key(path, "head", NOW)
    _, gone = add_key(path, "recipient:roads", NOW)
    ring = StoredKeyRing({}, ["uk-dom"], path)  # "roads" was removed from the profile since
    assert ring.authenticate(good) is not None
    assert ring.authenticate(gone) is None
    path.write_text("{не json", encoding="utf-8")
    assert ring.authenticate(good) is None
    with pytest.raises(KeyStoreError, match="повреждён"):
        load_keys(path)


def test_find_by_name_must_be_unique(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    add_key(path, "head", NOW, name="дежурный")
    add_key(path, "analyst", NOW, name="дежурный")
    with pytest.raises(KeyStoreError, match="несколько ключей"):
        revoke_key(path, "дежурный", NOW)
    with pytest.raises(KeyStoreError, match="не найден"):
        revoke_key(path, "ffffffff", NOW)
    assert all(k.active for k in load_keys(path))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI's settings at a temporary data directory in development mode."""
    monkeypatch.setenv("INFOPOLE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFOPOLE_ENV", "development")
    monkeypatch.delenv("INFOPOLE_PROFILE", raising=False)
    monkeypatch.delenv("API__KEYS", raising=False)
    return tmp_path


def test_cli_add_list_revoke(data_dir: Path) -> None:
    added = runner.invoke(cli, ["keys", "add", "--role", "recipient:roads", "--name", "Дорожный отдел"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "\n" not in key
    assert "показан один раз" in added.stderr
    [entry] = load_keys(keys_path(data_dir))
    assert entry.role == "recipient:roads" and entry.name == "Дорожный отдел"

    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert key not in listed.output and entry.sha256 not in listed.output
    assert f"{entry.id}\trecipient:roads\tДорожный отдел\t" in listed.stdout
    assert "действует" in listed.stdout

    revoked = runner.invoke(cli, ["keys", "revoke", entry.id])
    assert revoked.exit_code == 0, revoked.output
    assert "отозван" in revoked.stdout
    assert "отозван " in runner.invoke(cli, ["keys", "list"]).stdout


def test_cli_errors_are_russian_and_exit_1(data_dir: Path) -> None:
    bad_role = runner.invoke(cli, ["keys", "add", "--role", "boss"])
    assert bad_role.exit_code == 1
    assert "неизвестная роль" in bad_role.stderr
    bad_recipient = runner.invoke(cli, ["keys", "add", "--role", "recipient:nobody"])
    assert bad_recipient.exit_code == 1 and "нет в профиле" in bad_recipient.stderr
    missing = runner.invoke(cli, ["keys", "revoke", "abc"])
    assert missing.exit_code == 1 and "не найден" in missing.stderr
    assert not keys_path(data_dir).exists()
    empty = runner.invoke(cli, ["keys", "list"])
    assert empty.exit_code == 0 and "ключей в" in empty.stdout


def test_api_and_login_accept_stored_keys_until_revoked(tmp_path: Path, sqlite_store: SqliteStore) -> None:
    settings = Settings(
        env="development",
        INFOPOLE_DATA_DIR=tmp_path,
        api=ApiSettings(keys={"env-analyst-0123456789": "analyst"}),
    )
    application = create_app(settings, sqlite_store, build_profile(), Clock(NOW))
    entry, key = add_key(keys_path(tmp_path), "head", NOW, name="руководитель")
    with TestClient(application) as client:
        assert client.get("/posts", headers={API_KEY_HEADER: key}).status_code == 200
        assert client.get("/posts", headers={API_KEY_HEADER: "env-analyst-0123456789"}).status_code == 200
        login = client.post("/login", data={"key": key}, follow_redirects=False)
        assert login.status_code == 303
        assert "руководитель МЦУ" in client.get("/").text
        revoke_key(keys_path(tmp_path), entry.id, NOW)
        assert client.get("/posts", headers={API_KEY_HEADER: key}).status_code == 401
        assert "Ключ доступа" in client.get("/").text  # the cookie no longer logs in
        assert client.post("/login", data={"key": key}, follow_redirects=False).status_code == 401
