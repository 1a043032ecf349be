"""POST /incidents/{id}/merge and /incidents/{id}/split: every message stays attached and visible."""

from __future__ import annotations

from fastapi.testclient import TestClient

from index.models import IncidentStatus
from index.sqlite import SqliteStore
from tests.api.conftest import Seeded, headers


def test_merge_moves_every_message_and_keeps_history(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    water, road = seeded.incidents["water"], seeded.incidents["road"]
    before = sqlite_store.get_incident(road)
    assert before is not None
    response = client.post(
        f"/incidents/{road}/merge", json={"into": water, "version": before.version}, headers=headers("head")
    )
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["id"] == water
    assert merged["post_ids"] == [seeded.posts["water"], seeded.posts["reply"], seeded.posts["road"]]
    assert {p["id"] for p in merged["posts"]} == set(merged["post_ids"])  # visible with their texts
    assert merged["audit"][-1]["action"] == "объединён" and road in merged["audit"][-1]["detail"]
    emptied = client.get(f"/incidents/{road}", headers=headers("head")).json()
    assert emptied["merged_into"] == water and emptied["post_ids"] == []
    assert emptied["status"] == IncidentStatus.closed.value
    assert seeded.posts["road"] in emptied["audit"][-1]["detail"]
    found = sqlite_store.find_incident_for_post(seeded.posts["road"])
    assert found is not None and found.id == water
    # Merging again, or into itself, is refused in Russian.
    again = client.post(f"/incidents/{road}/merge", json={"into": water}, headers=headers("head"))
    assert again.status_code == 409 and "уже объединён" in again.json()["detail"]
    itself = client.post(f"/incidents/{water}/merge", json={"into": water}, headers=headers("head"))
    assert itself.status_code == 409 and "самим собой" in itself.json()["detail"]


def test_merge_checks_versions_roles_and_existence(client: TestClient, seeded: Seeded) -> None:
    water, road = seeded.incidents["water"], seeded.incidents["road"]
    stale = client.post(
        f"/incidents/{road}/merge", json={"into": water, "into_version": 99}, headers=headers("head")
    )
    assert stale.status_code == 409
    assert (
        client.post(f"/incidents/{road}/merge", json={"into": "nope"}, headers=headers("head")).status_code
        == 404
    )
    assert (
        client.post(f"/incidents/{road}/merge", json={"into": water}, headers=headers("analyst")).status_code
        == 403
    )
    assert (
        client.post(
            f"/incidents/{road}/merge", json={"into": water}, headers=headers("recipient:roads")
        ).status_code
        == 403
    )


def test_split_moves_chosen_messages_into_a_new_incident(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    water = seeded.incidents["water"]
    reply = seeded.posts["reply"]
    response = client.post(f"/incidents/{water}/split", json={"post_ids": [reply]}, headers=headers("admin"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rest"]["id"] == water and body["rest"]["post_ids"] == [seeded.posts["water"]]
    new = body["split"]
    assert new["post_ids"] == [reply] and [p["id"] for p in new["posts"]] == [reply]
    assert new["recipient"] == "uk-dom" and new["status"] == IncidentStatus.assigned.value
    assert new["audit"][0]["action"] == "выделен" and water in new["audit"][0]["detail"]
    assert body["rest"]["audit"][-1]["action"] == "разделён"
    found = sqlite_store.find_incident_for_post(reply)
    assert found is not None and found.id == new["id"]
    # The last message cannot leave; unknown posts are named.
    last = client.post(
        f"/incidents/{water}/split", json={"post_ids": [seeded.posts["water"]]}, headers=headers("admin")
    )
    assert last.status_code == 409 and "хотя бы одно" in last.json()["detail"]
    unknown = client.post(
        f"/incidents/{water}/split", json={"post_ids": ["vk:нет"]}, headers=headers("admin")
    )
    assert unknown.status_code == 422 and "vk:нет" in unknown.json()["detail"]
    foreign = client.post(
        f"/incidents/{water}/split", json={"post_ids": [seeded.posts["road"]]}, headers=headers("admin")
    )
    assert foreign.status_code == 409 and "не относятся" in foreign.json()["detail"]
    assert (
        client.post(f"/incidents/{water}/split", json={"post_ids": []}, headers=headers("admin")).status_code
        == 422
    )
