"""Personal data: names and contacts leave the system only to roles that may see them; raw account ids
never leave at all; retention removes old posts (with their names) on the embedded backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Permission
from crawlers.vk.mapping import map_vk_item
from index.retention import apply_retention
from index.sqlite import SqliteStore
from index.store import PostQuery
from infopole.settings import ApiSettings, Settings
from tests.api.conftest import NOW, ROLES, Seeded, headers
from tests.factories import BASE_TIME
from tests.security.conftest import AppFactory

KEY = Settings(env="development").pseudonym_key
RAW_ACCOUNT = 918273645
NAME = "Мария Сидорова"
PHONE = "+7 900 123-45-67"


def _citizen_post(store: SqliteStore, seeded: Seeded) -> str:
    raw: dict[str, Any] = {
        "owner_id": -100,
        "id": 42,
        "from_id": RAW_ACCOUNT,
        "date": int((BASE_TIME + timedelta(hours=5)).timestamp()),
        "text": f"Звоните {PHONE}, у нас нет воды",
    }
    post = map_vk_item(raw, KEY).model_copy(
        update={"author_name": NAME, "sector": "жкх", "territory": "centr", "lemmas": "звонить нет вода"}
    )
    store.upsert_posts([post])
    water = store.get_incident(seeded.incidents["water"])
    assert water is not None
    store.save_incident(water.model_copy(update={"post_ids": [*water.post_ids, post.id]}), water.version)
    return post.id


@pytest.fixture
def world(make_app: AppFactory, seeded: Seeded, sqlite_store: SqliteStore) -> tuple[TestClient, str, Seeded]:
    post_id = _citizen_post(sqlite_store, seeded)
    client = TestClient(make_app(rate_limit_per_key="", rate_limit_per_ip=""))
    return client, post_id, seeded


def _reveals(role: str, app_client: TestClient) -> bool:
    principal = app_client.app.state.ctx.keys.authenticate(headers(role)["X-API-Key"])  # type: ignore[attr-defined]
    return bool(principal.can(Permission.personal_read))


READS = [
    "/posts?limit=200",
    "/posts/{post}",
    "/incidents/{incident}",
    "/reports/reference?since=2024-03-01T00:00:00Z",
    "/reports/weekly?since=2024-03-01T00:00:00Z&until=2024-03-11T00:00:00Z",
    "/content-plan",
    "/pages",
    "/alerts",
]


@pytest.mark.parametrize("role", ROLES)
def test_names_and_contacts_only_for_roles_that_may_see_them(
    world: tuple[TestClient, str, Seeded], role: str
) -> None:
    client, post_id, seeded = world
    reveal = _reveals(role, client)
    seen: list[str] = []
    for url in READS:
        answer = client.get(
            url.format(post=post_id, incident=seeded.incidents["water"]), headers=headers(role)
        )
        assert answer.status_code in (200, 403), (url, answer.status_code)
        if answer.status_code == 200:
            seen.append(answer.text)
    body = "\n".join(seen)
    assert str(RAW_ACCOUNT) not in body  # the raw account never leaves, whoever asks
    if role in ("admin", "head", "analyst", "info_lead"):
        assert reveal and NAME in body and "123-45-67" in body
    else:
        assert not reveal
        assert NAME not in body and "123-45-67" not in body
    if role in ("cur", "recipient:uk-dom"):
        assert "житель #" in body  # the post is there, pseudonymised


def test_api_post_view_keeps_the_keyed_pseudonym_not_the_account(
    world: tuple[TestClient, str, Seeded],
) -> None:
    client, post_id, _ = world
    shown = client.get(f"/posts/{post_id}", headers=headers("cur")).json()
    assert shown["author_id"] and str(RAW_ACCOUNT) not in shown["author_id"]
    assert "raw" not in shown
    other_key = Settings(
        env="development", api=ApiSettings(pseudonym_secret="another-secret-0123456789")
    ).pseudonym_key
    assert other_key != KEY
    assert (
        map_vk_item({"owner_id": -1, "id": 1, "from_id": RAW_ACCOUNT, "date": 1}, other_key).author_id
        != shown["author_id"]
    )  # keyed: another deployment's key gives another pseudonym


def test_retention_deletes_old_posts_with_their_personal_fields(sqlite_store: SqliteStore) -> None:
    raw: dict[str, Any] = {"owner_id": -100, "id": 1, "from_id": RAW_ACCOUNT, "text": f"{NAME} {PHONE}"}
    old = map_vk_item({**raw, "date": int((NOW - timedelta(days=400)).timestamp())}, KEY)
    new = map_vk_item({**raw, "id": 2, "date": int((NOW - timedelta(days=10)).timestamp())}, KEY)
    sqlite_store.upsert_posts([old, new])
    assert apply_retention(sqlite_store, 365, NOW) == 1
    assert sqlite_store.get_post(old.id) is None and sqlite_store.get_post(new.id) is not None
    assert sqlite_store.count_posts(PostQuery(until=NOW - timedelta(days=365))) == 0
    conn = sqlite_store._conn()  # nothing of the old post is left in any table
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        if table.startswith("posts_fts_"):
            continue
        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
        assert not any(old.id in str(row) for row in rows), table
    with pytest.raises(ValueError, match="срок хранения"):
        apply_retention(sqlite_store, 0, NOW)
