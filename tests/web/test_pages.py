"""The web UI pages without a browser: who may open what, the incident forms, redirects, charts, maps,
threads, pseudonymisation and downloads, on the small API test world."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.chart import HEAT_PALETTE, column_chart, hbar_chart, heat_colour, text_colour
from api.views.common import FormError, parse_period, safe_next
from api.views.heatmap import boundary_paths
from api.views.thread import nest
from index.models import AlertKind, AuditEntry, IncidentStatus, Kind, OfficialPage, Tone
from index.profile import Profile, Territory
from index.sqlite import SqliteStore
from tests.api.conftest import NOW, ROLE_KEYS, Clock, Seeded, build_profile, build_settings, seed
from tests.factories import make_alert, make_incident, make_post

STAFF = ("admin", "head", "analyst", "info_lead", "cur")
RECIPIENTS = ("recipient:uk-dom", "recipient:roads")

#: page → roles that may open it (every other role gets 403).
PAGES: dict[str, set[str]] = {
    "/": set(STAFF) | set(RECIPIENTS),
    "/ui/incidents": set(STAFF) | set(RECIPIENTS),
    "/ui/alerts": {"admin", "head", "analyst", "info_lead"},
    "/ui/spikes": {"admin", "head", "analyst", "info_lead"},
    "/ui/search": set(STAFF),
    "/ui/map": set(STAFF),
    "/ui/indicators": set(STAFF),
    "/ui/pages": set(STAFF),
    "/ui/content-plan": set(STAFF),
    "/ui/reports": set(STAFF),
}


@pytest.fixture
def seeded(sqlite_store: SqliteStore) -> Seeded:
    """Fill the store with the API tests' posts, incidents and alerts."""
    return seed(sqlite_store)


@pytest.fixture
def client(sqlite_store: SqliteStore, seeded: Seeded) -> Iterator[TestClient]:
    """Return a client of the app over the seeded store."""
    application = create_app(build_settings(), sqlite_store, build_profile(), Clock(NOW))
    with TestClient(application, follow_redirects=False) as test_client:
        yield test_client


def login(client: TestClient, role: str) -> None:
    """Log in through the form."""
    client.cookies.clear()
    response = client.post("/login", data={"key": ROLE_KEYS[role]}, follow_redirects=False)
    assert response.status_code == 303


@pytest.mark.parametrize("role", STAFF + RECIPIENTS)
def test_pages_per_role(client: TestClient, role: str) -> None:
    login(client, role)
    for path, allowed in PAGES.items():
        response = client.get(path)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (role, path, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
        if expected == 403:
            assert "Ваша роль не может" in response.text
    menu = re.findall(r'<nav class="menu".*?</nav>', client.get("/").text, re.S)[0]
    for path, allowed in PAGES.items():
        assert (f'href="{path}"' in menu) == (role in allowed), (role, path)


def test_pages_need_a_login_and_come_back_after_it(client: TestClient) -> None:
    response = client.get("/ui/search?q=вода")
    assert response.status_code == 401
    assert "Войдите" in response.text
    assert 'name="next" value="/ui/search?q=%D0%B2%D0%BE%D0%B4%D0%B0"' in response.text
    login_response = client.post(
        "/login", data={"key": ROLE_KEYS["analyst"], "next": "/ui/search?q=вода"}, follow_redirects=False
    )
    assert unquote(login_response.headers["location"]) == "/ui/search?q=вода"
    evil = client.post(
        "/login", data={"key": ROLE_KEYS["analyst"], "next": "//evil.example/x"}, follow_redirects=False
    )
    assert evil.headers["location"] == "/"
    assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/ui/alerts", "/ui/alerts"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def _incident_form(client: TestClient, incident_id: str) -> str:
    page = client.get(f"/ui/incidents/{incident_id}")
    assert page.status_code == 200
    match = re.search(r'name="version" value="(\d+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def test_recipient_answers_and_closes_through_the_forms(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    login(client, "recipient:uk-dom")
    incident_id = seeded.incidents["water"]
    version = _incident_form(client, incident_id)
    url = f"/ui/incidents/{incident_id}/transition"
    empty = client.post(url, data={"version": version, "to": "interim", "comment": " "})
    assert empty.status_code == 422 and "напишите текст ответа" in empty.text
    bad = client.post(url, data={"version": version, "to": "flying"})
    assert bad.status_code == 422 and "неизвестный статус" in bad.text
    wrong = client.post(url, data={"version": version, "to": "closed", "outcome": "решено"})
    assert wrong.status_code == 422 and "недопустим" in wrong.text  # new → closed is not a move
    ok = client.post(url, data={"version": version, "to": "interim", "comment": "Бригада выехала"})
    assert ok.status_code == 303 and ok.headers["location"].endswith("?done=interim")
    stale = client.post(url, data={"version": version, "to": "final", "comment": "Готово"})
    assert stale.status_code == 409 and "уже изменил другой пользователь" in stale.text
    version = _incident_form(client, incident_id)
    assert client.post(url, data={"version": version, "to": "final", "comment": "Готово"}).status_code == 303
    version = _incident_form(client, incident_id)
    no_outcome = client.post(url, data={"version": version, "to": "closed"})
    assert no_outcome.status_code == 422 and "выберите исход" in no_outcome.text
    closed = client.post(url, data={"version": version, "to": "closed", "outcome": "разъяснено"})
    assert closed.status_code == 303
    stored = sqlite_store.get_incident(incident_id)
    assert stored is not None and stored.status == IncidentStatus.closed
    assert [a.detail for a in stored.audit[-3:]] == ["Бригада выехала", "Готово", "исход: разъяснено"]
    page = client.get(f"/ui/incidents/{incident_id}?done=closed").text
    assert "Инцидент закрыт." in page and 'id="reopen-form"' in page


def test_a_folded_stretch_of_attachments_shows_how_many_messages_it_stands_for(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    stored = sqlite_store.get_incident(seeded.incidents["water"])
    assert stored is not None
    folded = AuditEntry(
        at=NOW, actor="система", action="добавлены сообщения", detail="vk:1 … vk:40", count=40
    )
    sqlite_store.save_incident(stored.model_copy(update={"audit": [*stored.audit, folded]}), stored.version)
    login(client, "analyst")
    page = client.get(f"/ui/incidents/{stored.id}").text
    assert "добавлены сообщения (40)" in page and "vk:1 … vk:40" in page


def test_comments_assignment_and_rights(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    road = seeded.incidents["road"]
    login(client, "recipient:uk-dom")
    foreign = client.get(f"/ui/incidents/{road}")
    assert foreign.status_code == 403 and "другому исполнителю" in foreign.text
    assert client.post(f"/ui/incidents/{road}/comment", data={"version": "1", "text": "x"}).status_code == 403
    login(client, "recipient:roads")
    version = _incident_form(client, road)
    page = client.get(f"/ui/incidents/{road}").text
    assert 'id="assign-form"' not in page  # recipients do not reassign
    assert (
        client.post(
            f"/ui/incidents/{road}/assign", data={"version": version, "recipient": "uk-dom"}
        ).status_code
        == 403
    )
    empty = client.post(f"/ui/incidents/{road}/comment", data={"version": version, "text": "  "})
    assert empty.status_code == 422 and "комментарий пуст" in empty.text
    long = client.post(f"/ui/incidents/{road}/comment", data={"version": version, "text": "я" * 4001})
    assert long.status_code == 422 and "длиннее 4000" in long.text
    huge = client.post(f"/ui/incidents/{road}/comment", data={"version": version, "text": "я" * 20_000})
    assert huge.status_code == 422 and "форма слишком большая" in huge.text
    done = client.post(f"/ui/incidents/{road}/comment", data={"version": version, "text": "<b>Выехали</b>"})
    assert done.status_code == 303
    assert "&lt;b&gt;Выехали&lt;/b&gt;" in client.get(f"/ui/incidents/{road}").text
    login(client, "head")
    version = _incident_form(client, road)
    moved = client.post(f"/ui/incidents/{road}/assign", data={"version": version, "recipient": "uk-dom"})
    assert moved.status_code == 303
    stored = sqlite_store.get_incident(road)
    assert stored is not None and stored.recipient == "uk-dom"
    assert [a.action for a in stored.audit[-2:]] == ["комментарий", "назначен исполнитель"]
    unknown = client.post(
        f"/ui/incidents/{road}/assign", data={"version": str(stored.version), "recipient": "nobody"}
    )
    assert unknown.status_code == 422 and "неизвестный исполнитель" in unknown.text
    login(client, "analyst")
    assert client.post(f"/ui/incidents/{road}/comment", data={"version": "9", "text": "x"}).status_code == 403
    client.cookies.clear()
    assert client.post(f"/ui/incidents/{road}/comment", data={"version": "9", "text": "x"}).status_code == 401


def test_incident_list_filters(client: TestClient, seeded: Seeded, sqlite_store: SqliteStore) -> None:
    sqlite_store.save_incident(
        make_incident(title="Срочно: прорыв трубы", priority="critical", recipient="roads")
    )
    login(client, "head")
    overdue = client.get("/ui/incidents?overdue=1").text
    assert "Нет горячей воды, ул. Ленина" in overdue and "Яма на дороге" not in overdue
    critical = client.get("/ui/incidents?priority=critical").text
    assert "Срочно: прорыв трубы" in critical and "Нет горячей воды" not in critical
    closed = client.get("/ui/incidents?status=closed").text
    assert "Закрытый вопрос" in closed and "Яма на дороге" not in closed
    assert client.get("/ui/incidents?status=lost").status_code == 422
    assert client.get("/ui/incidents?offset=-1").status_code == 422
    login(client, "recipient:roads")
    mine = client.get("/ui/incidents?recipient=uk-dom&status=all").text  # the filter cannot widen its view
    assert "Яма на дороге" in mine and "Нет горячей воды" not in mine


def test_search_filters_slices_and_pseudonyms(client: TestClient, sqlite_store: SqliteStore) -> None:
    sqlite_store.upsert_posts(
        [
            make_post(
                text="Звоните +7 (900) 123-45-67, во дворе нет воды",
                lemmas="звонить во двор нет вода",
                author_name="Пётр Иванов",
                author_id="p1",
                published_at=NOW - timedelta(hours=3),
                kind=Kind.complaint,
                tone=Tone.negative,
            )
        ]
    )
    login(client, "analyst")
    page = client.get("/ui/search?q=вода").text
    found = int(re.search(r'id="found-total">(\d+)<', page).group(1))  # type: ignore[union-attr]
    assert found == 3  # the seeded complaint and reply, and the new message (lemma «вода»)
    assert "Пётр Иванов" in page and "+7 (900) 123-45-67" in page
    assert page.count('class="chart hbars"') == 3
    narrowed = client.get("/ui/search?q=вода&tone=negative").text
    assert 'id="found-total">2<' in narrowed
    assert client.get("/ui/search?kind=shouting").status_code == 422
    assert client.get("/ui/search?since=2024-03-07&until=2024-03-01").status_code == 422
    login(client, "cur")  # no access to personal data
    masked = client.get("/ui/search?q=вода").text
    assert "Пётр Иванов" not in masked and "+7 (900) 123-45-67" not in masked
    assert "[телефон]" in masked and "житель #" in masked
    empty = client.get("/ui/search?q=!!!").text
    assert "В запросе нет слов" in empty


def test_post_context_nests_the_thread(client: TestClient, seeded: Seeded, sqlite_store: SqliteStore) -> None:
    root = seeded.posts["water"]
    deep = make_post(
        text="Ответ на ответ",
        parent_id=seeded.posts["reply"],
        thread_id=root,
        published_at=NOW - timedelta(hours=1),
    )
    sqlite_store.upsert_posts([deep])
    login(client, "analyst")
    page = client.get(f"/ui/posts/{deep.id}").text
    order = re.findall(r'<li class="depth-(\d)( current)?', page)
    assert [d for d, _ in order] == ["0", "1", "2"]
    assert order[2][1] == " current"
    assert "Нет горячей воды, ул. Ленина" in client.get(f"/ui/posts/{root}").text  # the root's incident
    assert client.get("/ui/posts/missing:1").status_code == 404


def test_nest_survives_orphans_and_cycles() -> None:
    root = make_post(id="r")
    a = make_post(id="a", parent_id="r", thread_id="r")
    b = make_post(id="b", parent_id="c", thread_id="r")
    c = make_post(id="c", parent_id="b", thread_id="r")  # b and c answer each other
    orphan = make_post(id="o", parent_id="gone", thread_id="r")
    ordered = nest(root, [root, a, b, c, orphan])
    assert [p.id for p, _ in ordered][:2] == ["r", "a"]
    assert sorted(p.id for p, _ in ordered) == ["a", "b", "c", "o", "r"]
    assert dict((p.id, d) for p, d in ordered)["o"] == 1


def test_heat_map_numbers(client: TestClient, seeded: Seeded) -> None:
    login(client, "analyst")
    page = client.get("/ui/map").text
    rows = re.findall(
        r'<tr><td><a href="[^"]*">([^<]+)</a></td><td class="num">(\d+)</td><td class="num">(\d+)</td>\s*'
        r'<td class="num">([^<]+)</td><td class="num">(\d+)</td></tr>',
        page,
    )
    assert rows == [
        ("Центральный район", "3", "1", "33,3 %", "1"),
        ("Заречье", "1", "1", "100,0 %", "1"),
    ]
    negative = client.get("/ui/map?metric=negative").text
    assert HEAT_PALETTE[-1] in negative  # Заречье: all negative → the hottest colour
    assert client.get("/ui/map?metric=joy").status_code == 422


def test_boundaries_draw_a_map_when_every_territory_has_one() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[37.0, 55.0], [37.1, 55.0], [37.1, 55.1], [37.0, 55.1], [37.0, 55.0]]],
    }
    other = {
        "type": "MultiPolygon",
        "coordinates": [[[[37.1, 55.0], [37.3, 55.0], [37.3, 55.1], [37.1, 55.0]]]],
    }
    with_both = [Territory(id="a", name="А", boundary=square), Territory(id="b", name="Б", boundary=other)]
    paths = boundary_paths(with_both)
    assert paths is not None and set(paths) == {"a", "b"}
    assert paths["a"].startswith("M") and paths["a"].endswith("Z")
    numbers = [float(n) for n in re.findall(r"[\d.]+", " ".join(paths.values()))]
    assert min(numbers) >= 0 and max(numbers) <= 760
    assert boundary_paths([*with_both, Territory(id="c", name="В")]) is None
    broken = Territory(id="d", name="Г", boundary={"type": "Polygon", "coordinates": "мусор"})
    assert boundary_paths([broken]) is None


def test_alert_pages_explain_and_survive_bad_details(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    spike = make_alert(
        id="spike-1",
        title="Всплеск: ЖКХ",
        event_at=NOW - timedelta(hours=2),
        details={
            "observed": 14,
            "expected": 2.5,
            "hour": (NOW - timedelta(hours=2)).isoformat(),
            "episode_start": (NOW - timedelta(hours=3)).isoformat(),
            "topics": [["Отсутствие горячей воды", 9], ["мусор"], "строка"],
            "places": [["улица Ленина", 5]],
            "sources": [["vk", 12], ["tg", 2]],
            "examples": [{"id": seeded.posts["water"], "text": "Нет воды третий день"}, {"text": "без id"}],
            "negative_share": 0.8,
        },
    )
    odd = make_alert(
        id="odd-1", kind=AlertKind.source, title="Источник молчит", details={"x": [1, 2], "name": "vk"}
    )
    sqlite_store.add_alert(spike)
    sqlite_store.add_alert(odd)
    login(client, "analyst")
    page = client.get("/ui/alerts/spike-1").text
    assert "Отсутствие горячей воды" in page and "мусор" not in page
    assert "ВКонтакте" in page and "80,0 %" in page and "Нет воды третий день" in page
    assert 'fill="#d62728"' in page  # the spike hours
    assert client.get("/ui/alerts/odd-1").status_code == 200
    assert client.get("/ui/alerts/none").status_code == 404
    spikes = client.get("/ui/spikes").text
    assert "Всплеск: ЖКХ" in spikes
    listed = client.get("/ui/alerts?kind=source").text
    assert "Источник молчит" in listed and "Всплеск: ЖКХ" not in listed
    assert client.get("/ui/alerts?kind=rain").status_code == 422
    ack = client.post("/ui/alerts/spike-1/ack", data={"next": "/ui/alerts/spike-1"}, follow_redirects=False)
    assert ack.headers["location"] == "/ui/alerts/spike-1"
    assert "принято" in client.get("/ui/alerts/spike-1").text


def test_reports_download_and_errors(client: TestClient, seeded: Seeded) -> None:
    login(client, "cur")
    preview = client.get("/ui/reports?kind=reference&sector=жкх&preview=1")
    assert preview.status_code == 200 and 'id="preview"' in preview.text
    md = client.get("/ui/reports/file?kind=reference&sector=жкх&format=md")
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert "attachment" in md.headers["content-disposition"]
    assert "жкх" in md.text.lower()
    docx_file = client.get("/ui/reports/file?kind=weekly&format=docx")
    assert docx_file.status_code == 200 and docx_file.content[:2] == b"PK"
    assert client.get("/ui/reports/file?format=exe").status_code == 422
    assert client.get("/ui/reports/file?sector=" + "я" * 300).status_code == 422


def test_content_plan_decisions_need_rights_and_valid_input(client: TestClient) -> None:
    login(client, "analyst")
    assert (
        client.post("/ui/content-plan/slots/x", data={"week": "2024-03-11", "action": "accept"}).status_code
        == 403
    )
    login(client, "info_lead")
    assert client.get("/ui/content-plan?week=вчера").status_code == 422
    bad = client.post("/ui/content-plan/slots/x", data={"week": "2024-03-11", "action": "burn"})
    assert bad.status_code == 422 and "неизвестное решение" in bad.text
    missing = client.post("/ui/content-plan/slots/x", data={"week": "2024-03-11", "action": "accept"})
    assert missing.status_code == 422 and "нет в плане" in missing.text
    no_time = client.post("/ui/content-plan/slots/x", data={"week": "2024-03-11", "action": "move"})
    assert no_time.status_code == 422 and "новые дату и время" in no_time.text


def test_parse_period_in_local_days() -> None:
    profile = Profile(name="x", timezone="Asia/Yekaterinburg")
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(profile.timezone)
    period = parse_period({"since": "01.03.2024", "until": "2024-03-03"}, NOW, tz)
    assert period.days == 3 and period.label == "01.03.2024 — 03.03.2024"
    assert period.since.isoformat() == "2024-03-01T00:00:00+05:00"
    assert (period.until - period.since) == timedelta(days=3)
    default = parse_period({}, NOW, tz)
    assert default.days == 7 and default.last_day == NOW.astimezone(tz).date()
    for bad in ({"since": "завтра"}, {"since": "2024-03-05", "until": "2024-03-01"}, {"since": "2020-01-01"}):
        with pytest.raises(FormError):
            parse_period(bad, NOW, tz)


def test_chart_shapes() -> None:
    bars = hbar_chart([("ЖКХ", 10), ("Дороги", 5), ("Пусто", 0)], width=500, label_width=200)
    widths = [r.width for r in bars.rows]
    assert widths[0] == 2 * widths[1] and widths[2] == 0 and bars.total == 15
    assert bars.rows[1].y > bars.rows[0].y
    columns = column_chart(["a", "b", "c"], [1, 4, 2], highlight={1})
    assert [b.color for b in columns.bars] == ["#457b9d", "#d62728", "#457b9d"]
    assert columns.bars[1].height > columns.bars[2].height > columns.bars[0].height
    assert heat_colour(-1) == HEAT_PALETTE[0] and heat_colour(2) == HEAT_PALETTE[-1]
    assert text_colour("#ffffff") != text_colour("#000000")


def test_content_plan_page_exports_and_read_only_roles(sqlite_store: SqliteStore, seeded: Seeded) -> None:
    profile = build_profile()
    profile.pages = [
        OfficialPage(id="vk-admin", network="vk", name="Администрация Тестовска", url="https://vk.com/t")
    ]
    application = create_app(build_settings(), sqlite_store, profile, Clock(NOW))
    with TestClient(application, follow_redirects=False) as client:
        login(client, "info_lead")
        page = client.get("/ui/content-plan?week=2024-03-11").text
        assert "Контент-план на неделю 11.03.2024 — 17.03.2024" in page
        assert page.count('class="slot status-proposed"') == 3  # the default norm of an active page
        assert page.count("accept-form") == 3 and page.count("move-form") == 3
        assert 'href="/content-plan/export?week=2024-03-11&amp;format=csv"' in page
        csv = client.get("/content-plan/export?week=2024-03-11&format=csv")
        assert csv.status_code == 200 and csv.content.decode("utf-8-sig").startswith("Неделя;Страница")
        slot_ids = re.findall(r'<article class="slot status-proposed" id="s-([0-9a-f]+)"', page)
        dropped = client.post(
            f"/ui/content-plan/slots/{slot_ids[2]}",
            data={"week": "2024-03-13", "action": "drop", "comment": "совпадает с праздником"},
        )
        assert dropped.status_code == 303
        assert dropped.headers["location"] == f"/ui/content-plan?week=2024-03-11&done=drop#s-{slot_ids[2]}"
        outside = client.post(
            f"/ui/content-plan/slots/{slot_ids[0]}",
            data={"week": "2024-03-11", "action": "move", "moved_to": "2024-03-20T10:00"},
        )
        assert outside.status_code == 422 and "внутри планируемой недели" in outside.text
        [decision] = sqlite_store.list_plan_decisions("2024-03-11")
        assert decision.slot_id == slot_ids[2] and decision.action == "drop"
        assert decision.comment == "совпадает с праздником" and decision.by.startswith("info_lead#")
        after = client.get("/ui/content-plan?week=2024-03-11&done=drop").text
        assert "Слот отменён." in after and 'class="slot status-dropped"' in after
        login(client, "analyst")
        read_only = client.get("/ui/content-plan?week=2024-03-11").text
        assert read_only.count('<article class="slot status-') == 3
        assert "accept-form" not in read_only and "move-form" not in read_only


def test_indicators_page_and_the_recipients_own_rating(
    client: TestClient, seeded: Seeded, sqlite_store: SqliteStore
) -> None:
    login(client, "head")
    page = client.get("/ui/indicators?since=2024-03-01&until=2024-03-06").text
    assert "Показатели за 01.03.2024 — 06.03.2024" in page
    assert re.search(r'<span class="tile-value">4</span><span class="tile-label">сообщений', page)
    assert "индекс социальной напряжённости" in page
    narrowed = client.get("/ui/indicators?since=2024-03-01&until=2024-03-06&territory=zarechye").text
    assert re.search(r'<span class="tile-value">1</span><span class="tile-label">сообщений', narrowed)
    assert client.get("/ui/indicators?since=вчера").status_code == 422
    for n in range(2):  # two answered incidents make uk-dom rated
        sqlite_store.save_incident(
            make_incident(
                recipient="uk-dom",
                created_at=NOW - timedelta(days=2, hours=n),
                first_answer_due=NOW - timedelta(days=1),
                first_answered_at=NOW - timedelta(days=2),
                final_answered_at=NOW - timedelta(days=1, hours=1),
                status=IncidentStatus.final,
            )
        )
    login(client, "recipient:uk-dom")
    main = client.get("/").text
    assert 'id="rating"' in main and "1 из 1" in main
    assert "инцидентов 4, в срок 75,0 %, с окончательным ответом 75,0 %" in main
