"""GET /healthz and the 503 answer when the store is unavailable."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import STORE_UNAVAILABLE_MESSAGE
from index.sqlite import SqliteStore
from index.store import StoreUnavailable
from tests.api.conftest import Clock, build_profile, build_settings, headers


class DownStore:
    """A store whose every method raises StoreUnavailable, as a locked or missing database does."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "close":
            return self._store.close

        def fail(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable("база данных заблокирована")

        return fail


def test_healthz_ok_without_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def down_client(sqlite_store: SqliteStore, clock: Clock) -> TestClient:
    app = create_app(build_settings(), DownStore(sqlite_store), build_profile(), clock)
    return TestClient(app)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/posts"),
        ("GET", "/posts/x"),
        ("GET", "/incidents"),
        ("GET", "/incidents/x"),
        ("GET", "/alerts"),
        ("POST", "/alerts/x/ack"),
        ("GET", "/indicators"),
    ],
)
def test_store_unavailable_is_503_with_russian_message(
    down_client: TestClient, method: str, path: str
) -> None:
    response = down_client.request(method, path, headers=headers("admin"))
    assert response.status_code == 503
    assert response.json() == {"detail": STORE_UNAVAILABLE_MESSAGE}
    assert response.headers["retry-after"] == "5"


def test_main_page_when_store_is_down(down_client: TestClient) -> None:
    down_client.cookies.set("infopole_key", "key-head-0123456789")
    response = down_client.get("/")
    assert response.status_code == 503
    assert "Хранилище недоступно" in response.text
