"""GET /alerts and POST /alerts/{id}/ack."""

from __future__ import annotations

from fastapi.testclient import TestClient

from index.sqlite import SqliteStore
from tests.api.conftest import NOW, Clock, Seeded, headers


def test_list_and_filters(client: TestClient, seeded: Seeded) -> None:
    h = headers("head")
    body = client.get("/alerts", headers=h).json()
    assert body["total"] == 3
    open_ids = {
        i["id"] for i in client.get("/alerts", params={"acknowledged": False}, headers=h).json()["items"]
    }
    assert open_ids == {seeded.alerts["spike"], seeded.alerts["conflict"]}
    acked = client.get("/alerts", params={"acknowledged": True}, headers=h).json()["items"]
    assert [a["id"] for a in acked] == [seeded.alerts["old"]]
    conflicts = client.get("/alerts", params={"kind": "conflict"}, headers=h).json()
    assert [a["id"] for a in conflicts["items"]] == [seeded.alerts["conflict"]]
    both = client.get("/alerts", params=[("kind", "conflict"), ("kind", "spike")], headers=h).json()
    assert both["total"] == 3
    page = client.get("/alerts", params={"limit": 1, "offset": 1}, headers=h).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    assert client.get("/alerts", params={"kind": "пожар"}, headers=h).status_code == 422


def test_ack_records_who_and_when_and_first_wins(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore, clock: Clock
) -> None:
    alert_id = seeded.alerts["spike"]
    response = client.post(f"/alerts/{alert_id}/ack", headers=headers("analyst"))
    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged_by"].startswith("analyst#")
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_at == NOW
    clock.now = NOW.replace(hour=12)
    again = client.post(f"/alerts/{alert_id}/ack", headers=headers("head")).json()
    assert again["acknowledged_by"] == body["acknowledged_by"]
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_at == NOW.replace(hour=10)
    open_ids = [
        a["id"]
        for a in client.get("/alerts", params={"acknowledged": False}, headers=headers("head")).json()[
            "items"
        ]
    ]
    assert open_ids == [seeded.alerts["conflict"]]


def test_ack_unknown_is_404(client: TestClient, seeded: Seeded) -> None:
    response = client.post("/alerts/nope/ack", headers=headers("admin"))
    assert response.status_code == 404
    assert response.json()["detail"] == "уведомление не найдено"
