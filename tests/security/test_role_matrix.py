"""Route × role: every route of the API and the web UI enforces roles on the server.

The expected rights are declared here, independently of the code: a role either may call a route
(any answer but 401/403) or gets 403; without a key every protected route answers 401. A route missing
from the table fails the test, so a new route cannot ship without a declared rule. Writes refused
leave the store unchanged; writes done are recorded with the caller's role and key fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.auth import Principal
from index.sqlite import SqliteStore
from tests.api.conftest import ROLES, Seeded, headers
from tests.security.conftest import AppFactory

Rule = Callable[[Principal], bool]
PUBLIC = "public"
ANY_KEY = "any key"


def _perm(name: str, staff_only: bool = False) -> Rule:
    def rule(p: Principal) -> bool:
        return name in {str(x) for x in p.permissions} and not (staff_only and p.recipient_id is not None)

    rule.__name__ = f"{'staff ' if staff_only else ''}{name}"
    return rule


@dataclass(frozen=True)
class Case:
    """One route: how to call it and who may."""

    method: str
    path: str  # as registered
    rule: Rule | str
    url: str = ""  # concrete URL ({ids} filled); default: path
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    own_incident: bool = False  # the route acts on the water incident (routed to recipient uk-dom)
    write: bool = False


MATRIX: list[Case] = [
    Case("GET", "/healthz", PUBLIC),
    Case("GET", "/openapi.json", ANY_KEY),
    Case("GET", "/posts", _perm("posts:read")),
    Case("GET", "/posts/{post_id}", _perm("posts:read"), url="/posts/{post}"),
    Case("GET", "/incidents", _perm("incidents:read")),
    Case(
        "GET",
        "/incidents/{incident_id}",
        _perm("incidents:read"),
        url="/incidents/{incident}",
        own_incident=True,
    ),
    Case(
        "POST",
        "/incidents/{incident_id}/transition",
        _perm("incidents:transition"),
        url="/incidents/{incident}/transition",
        body={"to": "assigned", "comment": "взято в работу"},
        own_incident=True,
        write=True,
    ),
    Case(
        "POST",
        "/incidents/{incident_id}/assign",
        _perm("incidents:assign"),
        url="/incidents/{incident}/assign",
        body={"recipient": "roads"},
        own_incident=True,
        write=True,
    ),
    Case("GET", "/alerts", _perm("alerts:read")),
    Case("POST", "/alerts/{alert_id}/ack", _perm("alerts:ack"), url="/alerts/{alert}/ack", write=True),
    Case("GET", "/alerts/{alert_id}", _perm("alerts:read"), url="/alerts/{alert}"),
    Case("GET", "/alerts/{alert_id}/deliveries", _perm("alerts:read"), url="/alerts/{alert}/deliveries"),
    Case("GET", "/alerts/deliveries", _perm("alerts:read")),
    # The signed link in a delivered alert acknowledges without a key; the token is the credential.
    Case("GET", "/alerts/{alert_id}/ack-link", PUBLIC, url="/alerts/{alert}/ack-link?s=x&t=forged"),
    Case(
        "POST",
        "/alerts/{alert_id}/ack-link",
        PUBLIC,
        url="/alerts/{alert}/ack-link",
        form={"s": "x", "t": "f"},
    ),
    Case("GET", "/alerts/subscriptions", _perm("alerts:subscriptions")),
    Case(
        "PUT",
        "/alerts/subscriptions/{subscription_id}",
        _perm("alerts:subscriptions"),
        url="/alerts/subscriptions/s1",
        body={"name": "Иванов", "channels": []},
        write=True,
    ),
    Case(
        "DELETE",
        "/alerts/subscriptions/{subscription_id}",
        _perm("alerts:subscriptions"),
        url="/alerts/subscriptions/s1",
        write=True,
    ),
    Case(
        "POST",
        "/incidents/{incident_id}/merge",
        _perm("incidents:assign"),
        url="/incidents/{incident}/merge",
        body={"into": "нет-такого"},
        own_incident=True,
        write=True,
    ),
    Case(
        "POST",
        "/incidents/{incident_id}/split",
        _perm("incidents:assign"),
        url="/incidents/{incident}/split",
        body={"post_ids": ["нет-такого"]},
        own_incident=True,
        write=True,
    ),
    Case("GET", "/indicators", _perm("indicators:read")),
    Case("GET", "/pages", _perm("indicators:read")),
    Case("GET", "/pages/{page_id}", _perm("indicators:read"), url="/pages/vk-admin"),
    Case("GET", "/content-plan", _perm("indicators:read")),
    Case(
        "POST",
        "/content-plan/slots/{slot_id}",
        _perm("content-plan:write"),
        url="/content-plan/slots/no-such-slot",
        body={"week": "2024-03-11", "action": "drop"},
        write=True,
    ),
    Case("GET", "/content-plan/export", _perm("indicators:read")),
    Case("GET", "/reports/reference", _perm("indicators:read")),
    Case("GET", "/reports/reference/file", _perm("indicators:read"), url="/reports/reference/file?format=md"),
    Case("GET", "/reports/weekly", _perm("indicators:read")),
    Case("GET", "/reports/weekly/file", _perm("indicators:read"), url="/reports/weekly/file?format=md"),
    Case("GET", "/sources", _perm("sources:read")),
    # Web UI
    Case("GET", "/favicon.ico", PUBLIC),
    Case("GET", "/", PUBLIC),  # the login form without a key, the main page with one
    Case("POST", "/login", PUBLIC, form={"key": "wrong"}),
    Case("POST", "/logout", PUBLIC),
    Case(
        "POST",
        "/ui/alerts/{alert_id}/ack",
        _perm("alerts:ack"),
        url="/ui/alerts/{alert}/ack",
        form={},
        write=True,
    ),
    Case("GET", "/ui/incidents", _perm("incidents:read")),
    Case(
        "GET",
        "/ui/incidents/{incident_id}",
        _perm("incidents:read"),
        url="/ui/incidents/{incident}",
        own_incident=True,
    ),
    Case(
        "POST",
        "/ui/incidents/{incident_id}/transition",
        _perm("incidents:transition"),
        url="/ui/incidents/{incident}/transition",
        form={"to": "assigned", "version": "1"},
        own_incident=True,
        write=True,
    ),
    Case(
        "POST",
        "/ui/incidents/{incident_id}/assign",
        _perm("incidents:assign"),
        url="/ui/incidents/{incident}/assign",
        form={"recipient": "roads", "version": "1"},
        own_incident=True,
        write=True,
    ),
    Case(
        "POST",
        "/ui/incidents/{incident_id}/comment",
        _perm("incidents:transition"),
        url="/ui/incidents/{incident}/comment",
        form={"text": "позвонили в УК", "version": "1"},
        own_incident=True,
        write=True,
    ),
    Case("GET", "/ui/search", _perm("posts:read", staff_only=True)),
    Case("GET", "/ui/posts/{post_id:path}", _perm("posts:read", staff_only=True), url="/ui/posts/{post}"),
    Case("GET", "/ui/alerts", _perm("alerts:read", staff_only=True)),
    Case("GET", "/ui/alerts/{alert_id}", _perm("alerts:read", staff_only=True), url="/ui/alerts/{alert}"),
    Case("GET", "/ui/spikes", _perm("alerts:read", staff_only=True)),
    Case("GET", "/ui/map", _perm("indicators:read", staff_only=True)),
    Case("GET", "/ui/indicators", _perm("indicators:read", staff_only=True)),
    Case("GET", "/ui/pages", _perm("indicators:read", staff_only=True)),
    Case("GET", "/ui/content-plan", _perm("indicators:read", staff_only=True)),
    Case(
        "POST",
        "/ui/content-plan/slots/{slot_id}",
        _perm("content-plan:write", staff_only=True),
        url="/ui/content-plan/slots/no-such-slot",
        form={"week": "2024-03-11", "action": "drop"},
        write=True,
    ),
    Case("GET", "/ui/reports", _perm("indicators:read", staff_only=True)),
    Case(
        "GET", "/ui/reports/file", _perm("indicators:read", staff_only=True), url="/ui/reports/file?format=md"
    ),
]


def registered_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Return (method, path) of every route the app serves (static files aside)."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((m, route.path) for m in route.methods or ())
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes)

    walk(list(app.routes))
    return found


def principal_of(app: FastAPI, role: str) -> Principal:
    """Return the principal behind the test key of `role`."""
    found = app.state.ctx.keys.authenticate(headers(role)["X-API-Key"])
    assert isinstance(found, Principal)
    return found


def test_every_route_has_a_declared_rule(make_app: AppFactory) -> None:
    declared = {(c.method, c.path) for c in MATRIX}
    served = registered_routes(make_app())
    assert served - declared == set(), "declare the rights of new routes in MATRIX"
    assert declared - served == set(), "MATRIX names routes that no longer exist"


@pytest.fixture
def world(make_app: AppFactory, seeded: Seeded) -> Iterator[tuple[FastAPI, TestClient, Seeded]]:
    app = make_app(rate_limit_per_key="", rate_limit_per_ip="")
    with TestClient(app) as client:
        yield app, client, seeded


def _call(client: TestClient, case: Case, url: str, role: str | None) -> Any:
    hdrs = headers(role) if role else {}
    if case.method == "GET":
        return client.get(url, headers=hdrs, follow_redirects=False)
    if case.method == "DELETE":
        return client.delete(url, headers=hdrs, follow_redirects=False)
    if case.method == "PUT":
        return client.put(url, headers=hdrs, json=case.body, follow_redirects=False)
    if case.form is not None:
        return client.post(url, headers=hdrs, data=case.form, follow_redirects=False)
    return client.post(url, headers=hdrs, json=case.body, follow_redirects=False)


def _snapshot(store: SqliteStore, seeded: Seeded) -> tuple[Any, ...]:
    incident = store.get_incident(seeded.incidents["water"])
    alert = store.get_alert(seeded.alerts["spike"])
    assert incident is not None and alert is not None
    decisions = store.list_plan_decisions("2024-03-11")
    return incident.version, alert.acknowledged_at, len(decisions)


@pytest.mark.parametrize("case", MATRIX, ids=[f"{c.method} {c.path}" for c in MATRIX])
def test_route_enforces_roles(world: tuple[FastAPI, TestClient, Seeded], case: Case) -> None:
    app, client, seeded = world
    store: SqliteStore = app.state.ctx.store
    url = (case.url or case.path).format(
        post=seeded.posts["water"], incident=seeded.incidents["water"], alert=seeded.alerts["spike"]
    )
    # Without a key.
    before = _snapshot(store, seeded)
    anonymous = _call(client, case, url, None)
    if case.rule == PUBLIC:
        assert anonymous.status_code < 500
    else:
        assert anonymous.status_code == 401, anonymous.text
        assert _snapshot(store, seeded) == before
    # With each role's key: refused roles first, so the store is still as seeded when they try.
    outcomes: dict[str, bool] = {}
    for role in ROLES:
        p = principal_of(app, role)
        if case.rule in (PUBLIC, ANY_KEY):
            allowed = True
        else:
            assert callable(case.rule)
            allowed = case.rule(p) and (not case.own_incident or p.may_see_recipient("uk-dom"))
        outcomes[role] = allowed
    for role in sorted(ROLES, key=lambda r: outcomes[r]):
        before = _snapshot(store, seeded)
        answer = _call(client, case, url, role)
        assert answer.status_code < 500, f"{role}: {answer.status_code} {answer.text[:300]}"
        if case.rule == PUBLIC:
            continue
        if outcomes[role]:
            assert answer.status_code not in (401, 403), f"{role} must be allowed: {answer.text[:300]}"
        else:
            assert answer.status_code == 403, f"{role} must be refused, got {answer.status_code}"
            assert _snapshot(store, seeded) == before, f"{role}: a refused write changed the store"


def test_writes_are_recorded_with_the_caller(world: tuple[FastAPI, TestClient, Seeded]) -> None:
    app, client, seeded = world
    store: SqliteStore = app.state.ctx.store
    water = seeded.incidents["water"]
    head = principal_of(app, "head")
    recipient = principal_of(app, "recipient:uk-dom")
    assert client.post(
        f"/incidents/{water}/assign", headers=headers("head"), json={"recipient": "uk-dom"}
    ).is_success
    moved = client.post(
        f"/incidents/{water}/transition", headers=headers("recipient:uk-dom"), json={"to": "interim"}
    )
    assert moved.is_success, moved.text
    incident = store.get_incident(water)
    assert incident is not None
    actors = [(e.actor, e.action) for e in incident.audit]
    assert any(actor == head.actor for actor, _ in actors)
    assert any(actor == recipient.actor for actor, _ in actors)
    alert_id = seeded.alerts["spike"]
    assert client.post(f"/alerts/{alert_id}/ack", headers=headers("analyst")).is_success
    alert = store.get_alert(alert_id)
    assert alert is not None and alert.acknowledged_by == principal_of(app, "analyst").actor
