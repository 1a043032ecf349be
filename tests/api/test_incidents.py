"""Incidents: lists and filters, detail with posts, transitions, assignment, optimistic concurrency."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.incidents import CONFLICT_MESSAGE
from index.models import Incident, IncidentStatus
from index.sqlite import SqliteStore
from tests.api.conftest import NOW, Clock, Seeded, build_profile, build_settings, headers, seed
from tests.factories import BASE_TIME


def _ids(client: TestClient, role: str = "head", **params: Any) -> list[str]:
    response = client.get("/incidents", params=params, headers=headers(role))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_filters_and_flags(client: TestClient, seeded: Seeded) -> None:
    i = seeded.incidents
    body = client.get("/incidents", headers=headers("analyst")).json()
    assert body["total"] == 3
    assert [x["id"] for x in body["items"]] == [i["road"], i["water"], i["closed"]]  # newest first
    by_id = {x["id"]: x for x in body["items"]}
    assert by_id[i["water"]]["overdue"] is True
    assert by_id[i["road"]]["overdue"] is False
    assert by_id[i["closed"]]["overdue"] is False
    assert by_id[i["road"]]["recipient_name"] == "Отдел дорожного хозяйства"
    assert _ids(client, status=["new", "assigned"]) == [i["road"], i["water"]]
    assert _ids(client, status="closed") == [i["closed"]]
    assert _ids(client, recipient="uk-dom") == [i["water"], i["closed"]]
    assert _ids(client, sector="дороги") == [i["road"]]
    assert _ids(client, territory="centr") == [i["water"], i["closed"]]
    assert _ids(client, overdue=True) == [i["water"]]
    assert _ids(client, since=BASE_TIME.isoformat()) == [i["road"], i["water"]]
    assert _ids(client, until=BASE_TIME.isoformat()) == [i["closed"]]
    page = client.get("/incidents", params={"limit": 2, "offset": 2}, headers=headers("cur")).json()
    assert page["total"] == 3 and [x["id"] for x in page["items"]] == [i["closed"]]
    assert client.get("/incidents", params={"status": "done"}, headers=headers("head")).status_code == 422


def test_overdue_follows_the_clock(client: TestClient, seeded: Seeded, clock: Clock) -> None:
    clock.now = BASE_TIME  # before the water incident's first deadline
    assert _ids(client, overdue=True) == []
    body = client.get(f"/incidents/{seeded.incidents['water']}", headers=headers("head")).json()
    assert body["overdue"] is False


def test_recipient_sees_only_its_incidents(client: TestClient, seeded: Seeded) -> None:
    i = seeded.incidents
    assert _ids(client, role="recipient:roads") == [i["road"]]
    assert _ids(client, role="recipient:uk-dom", status="new") == [i["water"]]
    assert _ids(client, role="recipient:roads", recipient="roads") == [i["road"]]
    response = client.get("/incidents", params={"recipient": "uk-dom"}, headers=headers("recipient:roads"))
    assert response.status_code == 403
    assert client.get(f"/incidents/{i['water']}", headers=headers("recipient:roads")).status_code == 403


def test_detail_has_posts_and_audit(client: TestClient, seeded: Seeded) -> None:
    response = client.get(f"/incidents/{seeded.incidents['water']}", headers=headers("recipient:uk-dom"))
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Нет горячей воды, ул. Ленина"
    assert [p["id"] for p in body["posts"]] == [seeded.posts["water"], seeded.posts["reply"]]
    assert body["posts"][0]["text"] == "Нет горячей воды на улице Ленина"
    assert body["audit"] == []
    assert body["version"] == 1
    missing = client.get("/incidents/nope", headers=headers("head"))
    assert missing.status_code == 404 and missing.json()["detail"] == "инцидент не найден"


def test_transition_saves_a_new_version_with_audit(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    incident_id = seeded.incidents["water"]
    response = client.post(
        f"/incidents/{incident_id}/transition",
        json={"to": "assigned", "comment": "передано в УК", "version": 1},
        headers=headers("head"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "assigned"
    assert body["version"] == 2
    last = body["audit"][-1]
    assert last["actor"].startswith("head#")
    assert last["at"] == NOW.isoformat().replace("+00:00", "Z")
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.status == IncidentStatus.assigned and stored.version == 2


def test_recipient_transitions_its_own_incident(client: TestClient, seeded: Seeded) -> None:
    incident_id = seeded.incidents["water"]
    response = client.post(
        f"/incidents/{incident_id}/transition", json={"to": "assigned"}, headers=headers("recipient:uk-dom")
    )
    assert response.status_code == 200
    assert response.json()["audit"][-1]["actor"].startswith("recipient:uk-dom#")
    other = client.post(
        f"/incidents/{seeded.incidents['road']}/transition",
        json={"to": "interim"},
        headers=headers("recipient:uk-dom"),
    )
    assert other.status_code == 403


def test_illegal_transition_is_409_and_changes_nothing(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    incident_id = seeded.incidents["closed"]
    response = client.post(
        f"/incidents/{incident_id}/transition", json={"to": "new"}, headers=headers("admin")
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert isinstance(detail, str) and any("а" <= ch <= "я" for ch in detail.lower())
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.status == IncidentStatus.closed and stored.version == 1


def test_bad_transition_body_is_422(client: TestClient, seeded: Seeded) -> None:
    path = f"/incidents/{seeded.incidents['water']}/transition"
    assert client.post(path, json={"to": "solved"}, headers=headers("head")).status_code == 422
    assert client.post(path, json={}, headers=headers("head")).status_code == 422
    assert (
        client.post(path, json={"to": "closed", "outcome": "ура"}, headers=headers("head")).status_code == 422
    )
    missing = client.post("/incidents/nope/transition", json={"to": "assigned"}, headers=headers("head"))
    assert missing.status_code == 404


def test_stale_version_from_the_page_is_409(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    incident_id = seeded.incidents["water"]
    response = client.post(
        f"/incidents/{incident_id}/transition", json={"to": "assigned", "version": 0}, headers=headers("head")
    )
    assert response.status_code == 409
    assert response.json()["detail"] == CONFLICT_MESSAGE
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.version == 1


class RacingStore:
    """A store where another writer changes an incident right after the API reads it."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get_incident(self, incident_id: str) -> Incident | None:
        incident = self._store.get_incident(incident_id)
        if incident is not None:
            rival = incident.model_copy(update={"title": incident.title + " (уточнено)"})
            self._store.save_incident(rival, expected_version=incident.version)
        return incident


def test_concurrent_write_is_409(sqlite_store: SqliteStore, clock: Clock) -> None:
    seeded = seed(sqlite_store)
    app = create_app(build_settings(), RacingStore(sqlite_store), build_profile(), clock)
    client = TestClient(app)
    incident_id = seeded.incidents["water"]
    response = client.post(
        f"/incidents/{incident_id}/transition", json={"to": "assigned"}, headers=headers("head")
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "инцидент изменён другим пользователем, обновите страницу"
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.status == IncidentStatus.new and stored.title.endswith("(уточнено)")
    response = client.post(
        f"/incidents/{incident_id}/assign", json={"recipient": "roads"}, headers=headers("head")
    )
    assert response.status_code == 409


def test_assign(client: TestClient, seeded: Seeded, sqlite_store: SqliteStore) -> None:
    incident_id = seeded.incidents["road"]
    response = client.post(
        f"/incidents/{incident_id}/assign", json={"recipient": "uk-dom"}, headers=headers("head")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["recipient"] == "uk-dom" and body["recipient_name"] == "УК «Дом»"
    assert body["audit"][-1]["actor"].startswith("head#")
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.recipient == "uk-dom" and stored.version == 2
    # the road recipient no longer sees it; uk-dom does
    assert client.get(f"/incidents/{incident_id}", headers=headers("recipient:roads")).status_code == 403
    assert client.get(f"/incidents/{incident_id}", headers=headers("recipient:uk-dom")).status_code == 200


def test_assign_unknown_recipient_is_422(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    incident_id = seeded.incidents["road"]
    response = client.post(
        f"/incidents/{incident_id}/assign", json={"recipient": "mars"}, headers=headers("admin")
    )
    assert response.status_code == 422
    assert "mars" in response.json()["detail"]
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.recipient == "roads"
    assert (
        client.post(
            f"/incidents/{incident_id}/assign", json={"recipient": ""}, headers=headers("admin")
        ).status_code
        == 422
    )


def test_answer_and_close_through_the_workflow(client: TestClient, seeded: Seeded, clock: Clock) -> None:
    path = f"/incidents/{seeded.incidents['road']}/transition"
    interim = client.post(path, json={"to": "interim", "comment": "выехала бригада"}, headers=headers("head"))
    assert interim.status_code == 200, interim.text
    body = interim.json()
    assert body["first_answered_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert body["final_answer_due"] > body["first_answered_at"]
    assert body["audit"][-1]["detail"] == "выехала бригада"
    clock.now = NOW + timedelta(days=1)
    final = client.post(path, json={"to": "final", "version": body["version"]}, headers=headers("head"))
    assert final.status_code == 200 and final.json()["final_answered_at"] is not None
    no_outcome = client.post(path, json={"to": "closed"}, headers=headers("head"))
    assert no_outcome.status_code == 409
    assert "исход" in no_outcome.json()["detail"]
    closed = client.post(path, json={"to": "closed", "outcome": "решено"}, headers=headers("head"))
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["outcome"] == "решено"
    assert closed.json()["version"] == 4
    assign = client.post(
        f"/incidents/{seeded.incidents['road']}/assign", json={"recipient": "uk-dom"}, headers=headers("head")
    )
    assert assign.status_code == 409
    assert "закрыт" in assign.json()["detail"]
