"""GET /posts and /posts/{id}: full-text search, filters, paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from index.sqlite import SqliteStore
from tests.api.conftest import NOW, Seeded, headers
from tests.factories import BASE_TIME, make_post


def _ids(client: TestClient, **params: object) -> list[str]:
    response = client.get("/posts", params=params, headers=headers("analyst"))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_returns_newest_first_with_total(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/posts", headers=headers("analyst"))
    body = response.json()
    assert response.status_code == 200
    assert body["total"] == 4
    assert body["limit"] == 50 and body["offset"] == 0
    p = seeded.posts
    assert [i["id"] for i in body["items"]] == [p["reply"], p["thanks"], p["road"], p["water"]]
    assert "raw" not in body["items"][0] and "lemmas" not in body["items"][0]


def test_full_text_query_is_lemmatised(client: TestClient, seeded: Seeded) -> None:
    # "горячей воды" must match the lemmas "горячий вода" of both hot-water posts.
    assert sorted(_ids(client, q="горячей воды")) == sorted([seeded.posts["water"], seeded.posts["reply"]])
    assert _ids(client, q="ямы") == [seeded.posts["road"]]
    assert _ids(client, q="трамвай") == []


def test_query_without_words_matches_nothing(client: TestClient, seeded: Seeded) -> None:
    assert _ids(client, q="!!! ???") == []


def test_filters_combine(client: TestClient, seeded: Seeded) -> None:
    p = seeded.posts
    assert sorted(_ids(client, sector="жкх")) == sorted([p["water"], p["reply"]])
    assert _ids(client, territory="zarechye") == [p["road"]]
    assert _ids(client, source="tg") == [p["road"]]
    assert _ids(client, kind="gratitude") == [p["thanks"]]
    assert _ids(client, tone="neutral") == [p["reply"]]
    assert _ids(client, page_id="vk-admin") == [p["water"]]
    assert _ids(client, thread_id=p["water"]) == [p["reply"], p["water"]]
    assert _ids(client, sector="жкх", kind="question") == [p["reply"]]
    since = (BASE_TIME + timedelta(hours=2)).isoformat()
    until = (BASE_TIME + timedelta(days=1)).isoformat()
    assert _ids(client, since=since, until=until) == [p["road"]]


def test_bad_filter_values_are_422(client: TestClient, seeded: Seeded) -> None:
    h = headers("analyst")
    assert client.get("/posts", params={"kind": "жалоба"}, headers=h).status_code == 422
    assert client.get("/posts", params={"limit": 201}, headers=h).status_code == 422
    assert client.get("/posts", params={"limit": 0}, headers=h).status_code == 422
    assert client.get("/posts", params={"offset": -1}, headers=h).status_code == 422
    response = client.get(
        "/posts", params={"since": BASE_TIME.isoformat(), "until": BASE_TIME.isoformat()}, headers=h
    )
    assert response.status_code == 422
    assert "since" in response.json()["detail"]
    assert client.get("/posts", params={"since": "вчера"}, headers=h).json()["message"] == (
        "неверные параметры запроса"
    )


def test_paging(client: TestClient, sqlite_store: SqliteStore) -> None:
    posts = [make_post(published_at=BASE_TIME + timedelta(minutes=i)) for i in range(7)]
    sqlite_store.upsert_posts(posts)
    newest_first = [p.id for p in reversed(posts)]
    seen: list[str] = []
    for offset in (0, 3, 6):
        body = client.get("/posts", params={"limit": 3, "offset": offset}, headers=headers("cur")).json()
        assert body["total"] == 7
        seen += [i["id"] for i in body["items"]]
    assert seen == newest_first
    body = client.get("/posts", params={"limit": 200, "offset": 50}, headers=headers("cur")).json()
    assert body == {"items": [], "total": 7, "total_exact": True, "limit": 200, "offset": 50}


def test_get_one_and_404(client: TestClient, seeded: Seeded) -> None:
    post_id = seeded.posts["road"]
    response = client.get(f"/posts/{post_id}", headers=headers("info_lead"))
    assert response.status_code == 200
    assert response.json()["text"] == "Яма на дороге в Заречье"
    missing = client.get("/posts/vk:nope", headers=headers("info_lead"))
    assert missing.status_code == 404
    assert missing.json()["detail"] == "сообщение не найдено"


def test_full_text_total_is_a_lower_bound_beyond_the_cap(
    client: TestClient, sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.routes.posts.TOTAL_CAP", 3)
    water = [make_post(published_at=BASE_TIME + timedelta(minutes=i), lemmas="вода ремонт") for i in range(5)]
    pits = [make_post(published_at=BASE_TIME + timedelta(minutes=i), lemmas="яма") for i in range(2)]
    sqlite_store.upsert_posts([*water, *pits])
    many = client.get("/posts", params={"q": "вода", "limit": 2}, headers=headers("cur")).json()
    assert (many["total"], many["total_exact"]) == (3, False)
    assert [i["id"] for i in many["items"]] == [p.id for p in reversed(water)][:2]
    few = client.get("/posts", params={"q": "яма"}, headers=headers("cur")).json()
    assert (few["total"], few["total_exact"]) == (2, True)
    plain = client.get("/posts", headers=headers("cur")).json()
    assert (plain["total"], plain["total_exact"]) == (7, True)  # no text: always exact


def test_search_page_says_more_than_the_cap(
    client: TestClient, sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.views.search.TOTAL_CAP", 3)
    now = NOW - timedelta(hours=1)
    sqlite_store.upsert_posts(
        [make_post(published_at=now - timedelta(minutes=i), lemmas="вода") for i in range(5)]
    )
    sqlite_store.upsert_posts(
        [make_post(published_at=now - timedelta(minutes=i), lemmas="яма") for i in range(2)]
    )
    many = client.get("/ui/search", params={"q": "вода"}, headers=headers("analyst"))
    assert many.status_code == 200
    assert 'id="found-total">более 3<' in many.text
    few = client.get("/ui/search", params={"q": "яма"}, headers=headers("analyst")).text
    assert 'id="found-total">2<' in few
