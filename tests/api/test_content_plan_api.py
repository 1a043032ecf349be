"""/content-plan: the week's plan, the information lead's decisions, exports, roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from index.profile import Profile
from index.sqlite import SqliteStore
from tests.api.conftest import Clock, build_profile, build_settings, headers
from tests.risk.test_content_plan import NOW, _fill, _profile


def _with_recipients() -> Profile:
    """Return the fixture's profile with the recipients the test keys are bound to."""
    return _profile().model_copy(update={"recipients": build_profile().recipients})


@pytest.fixture
def client(sqlite_store: SqliteStore) -> TestClient:
    _fill(sqlite_store)
    return TestClient(create_app(build_settings(), sqlite_store, _with_recipients(), Clock(NOW)))


def test_plan_decide_and_remember(client: TestClient) -> None:
    plan = client.get("/content-plan", headers=headers("info_lead")).json()
    assert plan["week"] == "2024-03-11" and len(plan["slots"]) == 4
    slot = plan["slots"][0]
    body = {
        "week": plan["week"],
        "action": "move",
        "moved_to": "2024-03-12T08:00:00Z",
        "comment": "после планёрки",
    }
    moved = client.post(f"/content-plan/slots/{slot['id']}", json=body, headers=headers("info_lead"))
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "moved" and moved.json()["at"] == "2024-03-12T08:00:00Z"
    again = client.get("/content-plan", params={"week": "2024-03-13"}, headers=headers("head")).json()
    assert next(s for s in again["slots"] if s["id"] == slot["id"])["decided_by"].startswith("info_lead#")
    outside = {**body, "moved_to": "2024-04-01T08:00:00Z"}
    response = client.post(f"/content-plan/slots/{slot['id']}", json=outside, headers=headers("info_lead"))
    assert response.status_code == 422 and "недели" in response.json()["detail"]
    assert client.post("/content-plan/slots/нет", json=body, headers=headers("info_lead")).status_code == 404
    assert (
        client.post(f"/content-plan/slots/{slot['id']}", json=body, headers=headers("analyst")).status_code
        == 403
    )
    bad_week = client.get("/content-plan", params={"week": "завтра"}, headers=headers("info_lead"))
    assert bad_week.status_code == 422 and "ГГГГ-ММ-ДД" in bad_week.json()["detail"]


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [
        ("csv", "text/csv", "\ufeffНеделя".encode()),
        ("xlsx", "application/vnd.openxmlformats", b"PK"),
        ("ics", "text/calendar", b"BEGIN:VCALENDAR"),
    ],
)
def test_exports(client: TestClient, fmt: str, media: str, magic: bytes) -> None:
    response = client.get("/content-plan/export", params={"format": fmt}, headers=headers("cur"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content.startswith(magic)
    assert f'content-plan-2024-03-11.{fmt}"' in response.headers["content-disposition"]
