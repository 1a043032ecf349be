"""The Russian web UI: login, main page sections per role, escaping, «Принято», logout."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from api.auth import API_KEY_COOKIE
from index.models import AlertKind
from index.sqlite import SqliteStore
from tests.api.conftest import NOW, ROLE_KEYS, Seeded
from tests.factories import make_alert, make_incident, make_post

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _login(client: TestClient, role: str) -> None:
    response = client.post("/login", data={"key": ROLE_KEYS[role]}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_login_form_without_cookie(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'action="http://testserver/login"' in response.text
    assert "Ключ доступа" in response.text
    assert 'http-equiv="refresh"' not in response.text


def test_wrong_key_is_refused(client: TestClient) -> None:
    response = client.post("/login", data={"key": "не тот ключ"}, follow_redirects=False)
    assert response.status_code == 401
    assert "Неверный ключ доступа." in response.text
    assert API_KEY_COOKIE not in client.cookies


def test_login_sets_a_strict_httponly_cookie(client: TestClient) -> None:
    response = client.post("/login", data={"key": ROLE_KEYS["head"]}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{API_KEY_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    # the cookie also authenticates the JSON API
    assert client.get("/posts").status_code == 200


def test_main_page_shows_alerts_incidents_and_chart(client: TestClient, seeded: Seeded) -> None:
    _login(client, "head")
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<meta http-equiv="refresh" content="10">' in html
    assert "Сейчас: 06.03.2024 13:00 (Europe/Moscow)" in html  # the app clock in the profile's zone
    assert "Всплеск жалоб на ЖКХ" in html and "Конфликт под постом администрации" in html
    assert "Давний всплеск" not in html  # acknowledged alerts are not listed
    assert html.count(">Принято</button>") == 2
    assert "Нет горячей воды, ул. Ленина" in html and "Яма на дороге, Заречье" in html
    assert "Закрытый вопрос" not in html
    assert "05.03.2024 13:00" in html  # the water incident's first deadline, 10:00 UTC → Moscow
    assert "07.03.2024 13:00" in html  # the road incident's first deadline
    assert html.count('<tr class="overdue') == 1
    assert "просрочено: 1" in html
    assert "УК «Дом»" in html and "Отдел дорожного хозяйства" in html
    assert "<svg" in html
    # 14 day labels, the last one today
    labels = re.findall(r'class="tick">(\d\d\.\d\d)</text>', html)
    assert len(labels) == 14 and labels[0] == "22.02" and labels[-1] == "06.03"


def test_chart_counts_posts_by_sector(client: TestClient, sqlite_store: SqliteStore) -> None:
    sqlite_store.upsert_posts(
        [make_post(sector="жкх", published_at=NOW - timedelta(hours=h)) for h in range(1, 4)]
        + [make_post(sector="дороги", published_at=NOW - timedelta(days=3))]
        + [make_post(sector="жкх", published_at=NOW - timedelta(days=30))]  # outside 14 days
    )
    _login(client, "analyst")
    html = client.get("/").text
    assert "06.03: жкх — 3" in html
    assert "03.03: дороги — 1" in html
    assert re.search(r"за 14 дней <span class=\"count\">4</span>", html)


def test_user_text_is_escaped(client: TestClient, sqlite_store: SqliteStore) -> None:
    sqlite_store.upsert_posts([make_post(sector=XSS, published_at=NOW - timedelta(hours=1))])
    sqlite_store.save_incident(make_incident(title=XSS, place=XSS, recipient=None))
    sqlite_store.add_alert(make_alert(title=XSS, text=XSS))
    _login(client, "admin")
    html = client.get("/").text
    assert XSS not in html
    assert html.count(XSS_ESCAPED) >= 5  # incident title and place, alert title and text, chart legend


def test_ack_button_acknowledges(client: TestClient, seeded: Seeded, sqlite_store: SqliteStore) -> None:
    _login(client, "analyst")
    alert_id = seeded.alerts["spike"]
    response = client.post(f"/ui/alerts/{alert_id}/ack", follow_redirects=False)
    assert response.status_code == 303
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_by is not None
    assert stored.acknowledged_by.startswith("analyst#")
    html = client.get("/").text
    assert "Всплеск жалоб на ЖКХ" not in html
    assert client.post("/ui/alerts/nope/ack").status_code == 404


def test_ack_button_needs_rights(client: TestClient, seeded: Seeded, sqlite_store: SqliteStore) -> None:
    _login(client, "info_lead")
    html = client.get("/").text
    assert "Всплеск жалоб на ЖКХ" in html  # info_lead reads alerts
    assert ">Принято</button>" not in html  # but may not acknowledge them
    alert_id = seeded.alerts["spike"]
    assert client.post(f"/ui/alerts/{alert_id}/ack").status_code == 403
    stored = sqlite_store.get_alert(alert_id)
    assert stored is not None and stored.acknowledged_at is None
    client.cookies.clear()
    assert client.post(f"/ui/alerts/{alert_id}/ack").status_code == 401


def test_recipient_sees_only_own_incidents(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    sqlite_store.add_alert(make_alert(kind=AlertKind.overdue, title="Просрочка у дорожников"))
    _login(client, "recipient:roads")
    html = client.get("/").text
    assert "Яма на дороге, Заречье" in html
    assert "Нет горячей воды" not in html
    assert 'id="alerts"' not in html and "Просрочка у дорожников" not in html
    assert "<svg" not in html


def test_logout_clears_the_cookie(client: TestClient, seeded: Seeded) -> None:
    _login(client, "head")
    response = client.post("/logout", follow_redirects=False)
    assert response.status_code == 303
    assert f'{API_KEY_COOKIE}=""' in response.headers["set-cookie"]
    client.cookies.clear()
    assert "Ключ доступа" in client.get("/").text


def test_stale_cookie_shows_login_and_is_dropped(client: TestClient) -> None:
    client.cookies.set(API_KEY_COOKIE, "old-key-that-was-revoked")
    response = client.get("/")
    assert response.status_code == 200 and "Ключ доступа" in response.text
    assert f'{API_KEY_COOKIE}=""' in response.headers["set-cookie"]


def test_static_files_need_no_key(client: TestClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]


def test_security_headers_forbid_scripts_and_framing(client: TestClient, seeded: Seeded) -> None:
    _login(client, "head")
    for path in ("/", "/posts", "/static/style.css"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "style=" not in client.get("/").text  # nothing the CSP would block
