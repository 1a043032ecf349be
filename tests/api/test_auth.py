"""API keys and roles: the key ring, and a route × role matrix of 200/401/403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import AuthConfigError, KeyRing
from index.sqlite import SqliteStore
from infopole.settings import ApiSettings, Settings
from tests.api.conftest import ROLES, Clock, Seeded, build_profile, headers

READ_ALL = {"admin", "head", "analyst", "info_lead"}
RECIPIENTS = {"recipient:uk-dom", "recipient:roads"}

#: route → roles allowed (every other role must get 403). Paths use the seeded ids by name.
MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/posts", READ_ALL | {"cur"}),
    ("GET", "/posts/{post}", READ_ALL | {"cur"}),
    ("GET", "/incidents", READ_ALL | {"cur"} | RECIPIENTS),
    ("GET", "/incidents/{incident}", READ_ALL | {"cur", "recipient:uk-dom"}),
    ("POST", "/incidents/{incident}/transition", {"admin", "head", "recipient:uk-dom"}),
    ("POST", "/incidents/{incident}/assign", {"admin", "head"}),
    ("GET", "/alerts", READ_ALL),
    ("POST", "/alerts/{alert}/ack", {"admin", "head", "analyst"}),
    ("GET", "/indicators", READ_ALL | {"cur"}),
    ("GET", "/openapi.json", READ_ALL | {"cur"} | RECIPIENTS),
]

BODIES = {"transition": {"to": "assigned"}, "assign": {"recipient": "uk-dom"}}


def _path(template: str, seeded: Seeded) -> str:
    return template.format(
        post=seeded.posts["water"], incident=seeded.incidents["water"], alert=seeded.alerts["spike"]
    )


def _body(path: str) -> dict[str, str] | None:
    return next((b for k, b in BODIES.items() if path.endswith(k)), None)


@pytest.mark.parametrize(("method", "template", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_route_role_matrix(
    client: TestClient, seeded: Seeded, method: str, template: str, allowed: set[str], role: str
) -> None:
    path = _path(template, seeded)
    response = client.request(method, path, headers=headers(role), json=_body(path))
    if role in allowed:
        assert response.status_code == 200, (role, path, response.text)
    else:
        assert response.status_code == 403, (role, path, response.text)
        assert response.json()["detail"] in {
            "недостаточно прав для этого действия",
            "инцидент назначен другому исполнителю",
        }


@pytest.mark.parametrize(("method", "template", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
@pytest.mark.parametrize("key", [None, "", "wrong-key-0123456789"])
def test_missing_or_unknown_key_is_401(
    client: TestClient, seeded: Seeded, method: str, template: str, allowed: set[str], key: str | None
) -> None:
    path = _path(template, seeded)
    hdrs = {} if key is None else {"X-API-Key": key}
    response = client.request(method, path, headers=hdrs, json=_body(path))
    assert response.status_code == 401
    assert "API-ключ" in response.json()["detail"]


def test_healthz_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


def test_docs_pages_are_off_and_openapi_is_russian(client: TestClient) -> None:
    assert client.get("/docs").status_code in {401, 404}
    spec = client.get("/openapi.json", headers=headers("analyst")).json()
    summaries = {op["summary"] for item in spec["paths"].values() for op in item.values()}
    assert "Поиск сообщений" in summaries and "Сменить статус инцидента" in summaries
    assert all(any("а" <= ch <= "я" for ch in s.lower()) for s in summaries)
    assert "/" not in spec["paths"] and "/login" not in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert {s["in"] for s in schemes.values()} == {"header", "cookie"}


def test_keyring_hashes_and_resolves_roles() -> None:
    ring = KeyRing({"k1-secret": "head", "k2-secret": "recipient:roads"}, known_recipients=["roads"])
    assert len(ring) == 2
    head = ring.authenticate("k1-secret")
    assert head is not None and head.role == "head" and head.recipient_id is None
    assert head.actor.startswith("head#") and len(head.fingerprint) == 8
    roads = ring.authenticate("k2-secret")
    assert roads is not None and roads.recipient_id == "roads"
    assert ring.authenticate("k1-secre") is None
    assert ring.authenticate(None) is None
    assert ring.authenticate("") is None
    assert all("k1-secret" not in repr(entry) for entry in ring._entries)


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ("superuser", "неизвестная роль"),
        ("recipient:", "без id исполнителя"),
        ("recipient:nobody", "нет в профиле"),
    ],
)
def test_bad_roles_fail_at_start(sqlite_store: SqliteStore, clock: Clock, role: str, message: str) -> None:
    settings = Settings(env="development", api=ApiSettings(keys={"some-key-0123456789": role}))
    with pytest.raises(AuthConfigError, match=message):
        create_app(settings, sqlite_store, build_profile(), clock)
