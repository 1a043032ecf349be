"""Subscriptions, the delivery log, one alert, and acknowledgement by a signed link (Telegram, e-mail)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from index.models import ChannelKind, Delivery, DeliveryAttempt, DeliveryStatus
from index.sqlite import SqliteStore
from risk.alerts import ack_token
from tests.api.conftest import NOW, Seeded, build_settings, headers

GOOD: dict[str, Any] = {
    "name": "Глава МЦУ",
    "channels": [
        {"kind": "telegram", "address": "100500"},
        {"kind": "email", "address": "head@city.example"},
        {"kind": "webhook", "address": "https://hook.example/x", "secret": "k3y"},
    ],
    "kinds": ["spike", "conflict"],
    "min_severity": 6,
    "sectors": ["ЖКХ"],
    "territories": ["centr"],
    "quiet_from": "22:00:00",
    "quiet_to": "08:00:00",
    "timezone": "Europe/Moscow",
    "max_per_hour": 4,
}


def test_subscriptions_crud_hides_webhook_keys_and_keeps_them(
    client: TestClient, sqlite_store: SqliteStore
) -> None:
    h = headers("head")
    created = client.put("/alerts/subscriptions/head", json=GOOD, headers=h)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["id"] == "head" and body["min_severity"] == 6 and body["quiet_from"] == "22:00:00"
    assert body["channels"][2] == {"kind": "webhook", "address": "https://hook.example/x", "has_secret": True}
    assert "k3y" not in created.text
    assert body["created_at"] == NOW.isoformat().replace("+00:00", "Z")
    stored = sqlite_store.get_subscription("head")
    assert stored is not None and stored.channels[2].secret == "k3y"
    # Changing it without repeating the key keeps the key.
    changed = {
        **GOOD,
        "min_severity": 8,
        "channels": [{"kind": "webhook", "address": "https://hook.example/x"}],
    }
    assert client.put("/alerts/subscriptions/head", json=changed, headers=h).status_code == 200
    stored = sqlite_store.get_subscription("head")
    assert stored is not None and stored.min_severity == 8 and stored.channels[0].secret == "k3y"
    listed = client.get("/alerts/subscriptions", headers=h).json()
    assert [s["id"] for s in listed] == ["head"]
    assert client.delete("/alerts/subscriptions/head", headers=h).status_code == 204
    assert client.delete("/alerts/subscriptions/head", headers=h).status_code == 404
    assert client.get("/alerts/subscriptions", headers=h).json() == []


def test_subscriptions_need_the_right_role(client: TestClient) -> None:
    assert client.get("/alerts/subscriptions").status_code == 401
    for role in ("analyst", "info_lead", "cur", "recipient:uk-dom"):
        assert client.get("/alerts/subscriptions", headers=headers(role)).status_code == 403
        assert client.put("/alerts/subscriptions/x", json=GOOD, headers=headers(role)).status_code == 403
    assert client.get("/alerts/subscriptions", headers=headers("admin")).status_code == 200


def test_bad_subscriptions_are_refused_in_russian(client: TestClient) -> None:
    h = headers("admin")

    def error(**change: Any) -> str:
        response = client.put("/alerts/subscriptions/x", json={**GOOD, **change}, headers=h)
        assert response.status_code == 422, response.text
        return str(response.text)

    assert "неверный адрес почты" in error(channels=[{"kind": "email", "address": "нет-собаки"}])
    assert "http://" in error(channels=[{"kind": "webhook", "address": "ftp://x"}])
    assert "чат Telegram" in error(channels=[{"kind": "telegram", "address": "глава"}])
    assert "только у вебхука" in error(channels=[{"kind": "email", "address": "a@b.example", "secret": "x"}])
    assert "парой" in error(quiet_to=None)
    assert "часовой пояс" in error(timezone="Europe/Atlantis")
    error(channels=[])
    error(min_severity=11)
    response = client.put("/alerts/subscriptions/a:b", json=GOOD, headers=h)
    assert response.status_code == 422 and "двоеточ" in response.json()["detail"]


def _delivery(n: int, alert_id: str, status: DeliveryStatus, **extra: Any) -> Delivery:
    values: dict[str, Any] = {
        "id": f"d{n}",
        "alert_id": alert_id,
        "subscription_id": "head",
        "channel": ChannelKind.telegram,
        "address": "100500",
        "destination": "telegram:100500",
        "seq": n,
        "status": status,
        "created_at": NOW - timedelta(minutes=10 - n),
    }
    values.update(extra)
    return Delivery(**values)


def test_the_delivery_log_shows_failures(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    spike, conflict = seeded.alerts["spike"], seeded.alerts["conflict"]
    attempt = DeliveryAttempt(at=NOW, ok=False, error="Telegram недоступен: ConnectError")
    sqlite_store.add_delivery(_delivery(1, spike, DeliveryStatus.sent, sent_at=NOW))
    sqlite_store.add_delivery(
        _delivery(2, conflict, DeliveryStatus.pending, attempts=[attempt], last_error=attempt.error)
    )
    sqlite_store.add_delivery(
        _delivery(3, conflict, DeliveryStatus.failed, note="канал недоступен, попыток: 60")
    )
    h = headers("analyst")
    page = client.get("/alerts/deliveries", headers=h).json()
    assert page["total"] == 3 and [d["id"] for d in page["items"]] == ["d3", "d2", "d1"]  # newest first
    failed = client.get("/alerts/deliveries", params={"status": "failed"}, headers=h).json()
    assert [d["note"] for d in failed["items"]] == ["канал недоступен, попыток: 60"]
    retrying = client.get("/alerts/deliveries", params={"status": "pending"}, headers=h).json()["items"][0]
    assert retrying["last_error"] == "Telegram недоступен: ConnectError"
    assert retrying["attempts"][0]["ok"] is False
    one = client.get(f"/alerts/{conflict}/deliveries", headers=h).json()
    assert [d["id"] for d in one] == ["d2", "d3"]
    assert client.get("/alerts/nope/deliveries", headers=h).status_code == 404
    assert client.get("/alerts/deliveries", headers=headers("recipient:uk-dom")).status_code == 403


def test_one_alert(client: TestClient, seeded: Seeded) -> None:
    alert_id = seeded.alerts["conflict"]
    body = client.get(f"/alerts/{alert_id}", headers=headers("info_lead")).json()
    assert body["id"] == alert_id and body["title"] == "Конфликт под постом администрации"
    assert client.get("/alerts/nope", headers=headers("head")).status_code == 404


def _link(alert_id: str, subscriber: str = "head") -> str:
    token = ack_token(build_settings().ack_link_secret, alert_id, subscriber)
    return f"/alerts/{alert_id}/ack-link?s={subscriber}&t={token}"


def test_ack_link_shows_the_alert_and_accepts_it_on_the_button(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    client.put("/alerts/subscriptions/head", json=GOOD, headers=headers("head"))
    alert_id = seeded.alerts["conflict"]
    page = client.get(_link(alert_id))  # no API key: the signature is the key
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Конфликт под постом администрации" in page.text and ">Принять</button>" in page.text
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_at is None  # opening the link changes nothing
    token = re.search(r'name="t" value="([0-9a-f]+)"', page.text)
    assert token is not None
    done = client.post(f"/alerts/{alert_id}/ack-link", data={"s": "head", "t": token.group(1)})
    assert done.status_code == 200 and "Принято." in done.text
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_at == NOW
    assert stored.acknowledged_by == "по ссылке: Глава МЦУ"
    again = client.get(_link(alert_id))
    assert "Уже принято." in again.text and "<form" not in again.text


def test_a_wrong_link_accepts_nothing(client: TestClient, seeded: Seeded, sqlite_store: SqliteStore) -> None:
    alert_id = seeded.alerts["spike"]
    other = seeded.alerts["conflict"]
    forged = _link(other).split("&t=")[1]
    for url in (
        f"/alerts/{alert_id}/ack-link?s=head&t={forged}",  # a token of another alert
        f"/alerts/{alert_id}/ack-link?s=head&t=",
        f"/alerts/{alert_id}/ack-link",
        _link("nope"),
    ):
        page = client.get(url)
        assert page.status_code == 404 and "Ссылка недействительна" in page.text
    posted = client.post(f"/alerts/{alert_id}/ack-link", data={"s": "head", "t": forged})
    assert posted.status_code == 404
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_at is None
    # A link of a subscriber that no longer exists still works: it names the subscriber by id.
    posted = client.post(
        f"/alerts/{alert_id}/ack-link", data={"s": "gone", "t": _link(alert_id, "gone").split("&t=")[1]}
    )
    assert posted.status_code == 200
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_by == "по ссылке: gone"
