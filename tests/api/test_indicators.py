"""GET /indicators against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from index.models import IncidentStatus
from index.sqlite import SqliteStore
from tests.api.conftest import NOW, headers
from tests.factories import make_incident, make_post


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def _fill(store: SqliteStore) -> None:
    """Posts and incidents for the period [03-04 00:00Z, 03-06 00:00Z); NOW is 03-06 10:00Z."""
    posts = [
        # current period
        make_post(sector="жкх", territory="centr", published_at=_at(4, 10)),
        make_post(sector="жкх", territory="centr", published_at=_at(4, 11)),
        make_post(sector="жкх", territory="centr", published_at=_at(4, 22, 30)),  # 05.03 01:30 in Moscow
        make_post(sector="дороги", territory="zarechye", published_at=_at(5, 12)),
        make_post(sector=None, territory=None, published_at=_at(5, 13)),
        # previous period [03-02, 03-04)
        make_post(sector="жкх", territory="centr", published_at=_at(3, 9)),
        make_post(sector="дороги", territory="centr", published_at=_at(2, 0, 5)),
        # outside both
        make_post(sector="жкх", territory="centr", published_at=_at(6, 1)),
        make_post(sector="жкх", territory="centr", published_at=_at(1, 12)),
    ]
    store.upsert_posts(posts)
    incidents = [
        # answered on time, interim, final answer not yet due: open, not overdue
        make_incident(
            status=IncidentStatus.interim,
            created_at=_at(4, 10),
            first_answer_due=_at(4, 18),
            first_answered_at=_at(4, 15),
            final_answer_due=_at(12, 18),
        ),
        # answered late, closed
        make_incident(
            status=IncidentStatus.closed,
            created_at=_at(4, 12),
            first_answer_due=_at(4, 16),
            first_answered_at=_at(4, 17),
            final_answered_at=_at(5, 9),
            closed_at=_at(5, 9),
        ),
        # not answered, first deadline passed: overdue
        make_incident(status=IncidentStatus.new, created_at=_at(5, 9), first_answer_due=_at(5, 17)),
        # not answered, deadline after NOW
        make_incident(status=IncidentStatus.assigned, created_at=_at(5, 10), first_answer_due=_at(6, 18)),
        # created in the previous period: not counted
        make_incident(status=IncidentStatus.new, created_at=_at(3, 10), first_answer_due=_at(3, 18)),
    ]
    for incident in incidents:
        store.save_incident(incident)


def test_indicators_for_a_period(client: TestClient, sqlite_store: SqliteStore) -> None:
    _fill(sqlite_store)
    params = {"since": "2024-03-04T00:00:00Z", "until": "2024-03-06T00:00:00Z"}
    response = client.get("/indicators", params=params, headers=headers("cur"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["since"] == "2024-03-04T00:00:00Z"
    assert body["previous_since"] == "2024-03-02T00:00:00Z"
    assert body["timezone"] == "Europe/Moscow"
    volume = body["volume"]
    assert volume["total"] == 5
    assert volume["previous_total"] == 2
    assert volume["change"] == 3
    assert volume["change_pct"] == 150.0
    assert volume["by_sector"] == [
        {"key": "жкх", "count": 3},
        {"key": "дороги", "count": 1},
        {"key": None, "count": 1},
    ]
    assert volume["by_territory"] == [
        {"key": "centr", "count": 3},
        {"key": "zarechye", "count": 1},
        {"key": None, "count": 1},
    ]
    # Local (Moscow) days of [04.03 03:00, 06.03 03:00).
    assert volume["by_day"] == [
        {"day": "2024-03-04", "count": 2},
        {"day": "2024-03-05", "count": 3},
        {"day": "2024-03-06", "count": 0},
    ]
    expected = {
        "opened": 4,
        "answered": 2,
        "answered_on_time": 1,
        "overdue": 1,
        "open": 3,
        "share_answered_on_time": 0.25,
        # Working hours (Moscow, 9-18, lunch 13-14): 13:00→18:00 is 4 h, 15:00→20:00 is 3 h.
        "first_answer_avg_hours": 3.5,
        "first_answer_median_hours": 3.5,
        "final_answered": 1,
        "share_final": 0.25,
    }
    assert {k: body["incidents"][k] for k in expected} == expected


def test_default_period_is_last_seven_days_to_now(client: TestClient, sqlite_store: SqliteStore) -> None:
    _fill(sqlite_store)
    body = client.get("/indicators", headers=headers("head")).json()
    assert body["until"] == "2024-03-06T10:00:00Z"  # NOW from the app clock
    assert body["since"] == "2024-02-28T10:00:00Z"
    assert body["now"] == NOW.isoformat().replace("+00:00", "Z")
    assert body["volume"]["total"] == 9
    assert body["volume"]["previous_total"] == 0
    assert body["volume"]["change_pct"] is None
    assert len(body["volume"]["by_day"]) == 8  # 28.02 13:00 .. 06.03 13:00 Moscow time (2024 has 29.02)
    assert body["incidents"]["opened"] == 5
    assert body["incidents"]["overdue"] == 2


def test_period_is_widened_to_whole_hours(client: TestClient, sqlite_store: SqliteStore) -> None:
    _fill(sqlite_store)
    params = {"since": "2024-03-04T10:30:00+03:00", "until": "2024-03-05T12:10:00Z"}
    body = client.get("/indicators", params=params, headers=headers("analyst")).json()
    assert body["since"] == "2024-03-04T07:00:00Z"
    assert body["until"] == "2024-03-05T13:00:00Z"
    assert body["volume"]["total"] == 4  # the 05.03 13:00Z post is past the end


def test_empty_store_and_bad_period(client: TestClient) -> None:
    body = client.get("/indicators", headers=headers("admin")).json()
    assert body["volume"]["total"] == 0
    assert body["incidents"]["share_answered_on_time"] is None
    bad = client.get(
        "/indicators",
        params={"since": "2024-03-05T00:00:00Z", "until": "2024-03-04T00:00:00Z"},
        headers=headers("admin"),
    )
    assert bad.status_code == 422
