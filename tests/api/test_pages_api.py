"""GET /pages: the pages' health and unanswered comments, names hidden from roles without personal data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from index.profile import Profile
from index.sqlite import SqliteStore
from tests.api.conftest import Clock, build_profile, build_settings, headers
from tests.risk.test_pages import NOW, _fill, _profile

PERIOD = {"since": "2024-03-04T00:00:00Z", "until": "2024-03-11T00:00:00Z"}


def _with_recipients() -> Profile:
    """Return the fixture's profile with the recipients the test keys are bound to."""
    return _profile().model_copy(update={"recipients": build_profile().recipients})


@pytest.fixture
def client(sqlite_store: SqliteStore) -> TestClient:
    _fill(sqlite_store)
    return TestClient(create_app(build_settings(), sqlite_store, _with_recipients(), Clock(NOW)))


def test_pages_health_and_unanswered(client: TestClient) -> None:
    body = client.get("/pages", params=PERIOD, headers=headers("info_lead")).json()
    admin = next(p for p in body["pages"] if p["page_id"] == "vk-admin")
    assert (admin["posts"], admin["norm_per_week"], admin["answered_share"]) == (2, 5, 0.5)
    assert [r["key"] for r in admin["requirements"]][:3] == ["gosmetka", "description", "contacts"]
    assert body["unanswered_total"] == 1 and body["unanswered"][0]["post_id"] == "vk:1:c2"
    one = client.get("/pages/vk-admin", params=PERIOD, headers=headers("cur")).json()
    assert one["posts_per_week"] == 2.0 and one["status"] == "problem"
    missing = client.get("/pages/нет-такой", headers=headers("cur"))
    assert missing.status_code == 404 and missing.json()["detail"] == "официальная страница не найдена"


def test_names_are_hidden_from_the_cur(client: TestClient, sqlite_store: SqliteStore) -> None:
    named = client.get("/pages", params=PERIOD, headers=headers("analyst")).json()["unanswered"][0]
    hidden = client.get("/pages", params=PERIOD, headers=headers("cur")).json()["unanswered"][0]
    assert named["author"] == "Иван Петров"
    assert hidden["author"].startswith("житель #")
    assert client.get("/pages", headers=headers("recipient:uk-dom")).status_code == 403
    assert client.get("/pages").status_code == 401
