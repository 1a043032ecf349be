"""The web UI in a real browser: headless Chromium against uvicorn over the demo world.

Each role logs in with a CLI-managed key and does its job through the pages: the head acknowledges
alerts and reopens and reassigns incidents, a recipient answers and closes one, the analyst searches and
reads spikes, threads and the map, the information lead decides content-plan slots, the ЦУР orders and
downloads a справка. Hostile message text is shown as text and never runs. Every page is screenshotted
under test-artifacts/web/.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from index.models import AlertKind, IncidentStatus, Outcome
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery
from tests.web.conftest import Session
from tests.web.demo_data import BROKEN_HTML, SCRIPT_TEXT, DemoWorld

SessionFactory = Callable[[str], Session]


@pytest.fixture(scope="module")
def store(world: DemoWorld, server: str) -> Iterator[SqliteStore]:
    """Open a second connection to the server's store, to check what the pages wrote."""
    reader = SqliteStore(world.store_path)
    yield reader
    reader.close()


def logged_in(session_for: SessionFactory, world: DemoWorld, role: str) -> Session:
    """Return a browser session logged in as `role` with its CLI-managed key."""
    session = session_for(role)
    session.login(world.keys[role])
    assert session.page.locator("nav.menu").is_visible(), session.page.content()[:500]
    return session


def key_id(world: DemoWorld, role: str) -> str:
    """Return the id (digest prefix) of a role's key, as audit trails show it."""
    from api.keys import digest_hex

    return digest_hex(world.keys[role])[:8]


def test_login_form_refuses_a_wrong_key_and_opens_the_head_page(
    session_for: SessionFactory, world: DemoWorld
) -> None:
    s = session_for("guest")
    s.open("/")
    s.shot("login")
    s.page.fill("#key", "не-тот-ключ")
    s.page.click("button[type=submit]")
    assert "Неверный ключ доступа." in s.page.inner_text("p.error")
    s.page.fill("#key", world.keys["head"])
    s.page.click("button[type=submit]")
    s.page.wait_for_selector("#figures")
    header = s.page.inner_text("header.top")
    local_now = world.now.astimezone(ZoneInfo(world.profile.timezone))
    assert "руководитель МЦУ" in header and f"Сейчас: {local_now:%d.%m.%Y %H:%M}" in header
    menu = s.page.inner_text("nav.menu")
    for item in ("Обстановка", "Инциденты", "Уведомления", "Всплески", "Поиск", "Карта", "Справки"):
        assert item in menu
    tension = s.page.inner_text("#tension")
    assert re.search(r"\d+,\d %", tension) and "напряжённости" in tension
    assert s.page.locator("#volume svg rect").count() > 14  # the stacked 14-day chart
    assert s.page.locator("#incidents tbody tr").count() > 0
    s.shot("head")
    s.page.click("#tension")
    s.page.wait_for_selector("#key-figures")
    assert "индекс социальной напряжённости" in s.page.inner_text("#key-figures")
    assert s.page.locator("#by-day svg rect").count() >= 2
    assert s.page.locator("#rating tbody tr").count() >= 1
    s.shot("indicators")
    assert s.dialogs == []


def test_head_acknowledges_alerts_from_the_main_page_and_from_an_alert(
    session_for: SessionFactory, world: DemoWorld, store: SqliteStore
) -> None:
    s = logged_in(session_for, world, "head")
    first = s.page.locator("#alerts li.alert").first
    href = first.locator(".alert-title a").get_attribute("href")
    assert href is not None and href.startswith("/ui/alerts/")
    alert_id = href.rsplit("/", 1)[1]
    before = store.query_alerts(AlertQuery(acknowledged=False, limit=1)).total
    first.locator("button", has_text="Принято").click()
    s.page.wait_for_load_state()
    assert s.page.url.rstrip("/") == s.base
    acked = store.get_alert(alert_id)
    assert acked is not None and acked.acknowledged_by == f"head#{key_id(world, 'head')}"
    assert store.query_alerts(AlertQuery(acknowledged=False, limit=1)).total == before - 1
    assert s.page.locator(f'#alerts a[href="{href}"]').count() == 0

    spike = store.query_alerts(AlertQuery(kind=[AlertKind.spike], acknowledged=False, limit=1)).items[0]
    s.open(f"/ui/alerts/{spike.id}")
    assert s.page.locator("#explanation svg.chart").count() >= 1
    s.shot("alert")
    s.page.click("#alert button:has-text('Принято')")
    s.page.wait_for_load_state()
    assert s.page.url.endswith(f"/ui/alerts/{spike.id}")
    assert "принято" in s.page.inner_text("#alert .alert-head")
    stored = store.get_alert(spike.id)
    assert stored is not None and stored.acknowledged_at is not None
    s.open("/ui/alerts?state=all")
    s.shot("alerts")
    assert s.dialogs == []


def _recipients_assigned(store: SqliteStore, recipient: str) -> list[Any]:
    page = store.query_incidents(
        IncidentQuery(status=[IncidentStatus.assigned], recipient=recipient, limit=50)
    )
    return page.items


def test_recipient_answers_comments_and_closes_an_incident(
    session_for: SessionFactory, world: DemoWorld, store: SqliteStore
) -> None:
    s = logged_in(session_for, world, "recipient")
    name = world.profile.recipient(world.recipient)
    assert name is not None
    cells = s.page.locator("#incidents tbody tr td:nth-child(3)").all_inner_texts()
    assert cells and set(cells) == {name.name}  # only its own incidents
    assert "Поиск" not in s.page.inner_text("nav.menu")
    s.shot("recipient")
    denied = s.open("/ui/search")
    assert denied is not None and denied.status == 403

    incident = _recipients_assigned(store, world.recipient)[0]
    s.open(f"/ui/incidents/{incident.id}")
    assert s.page.inner_text("#status") == "назначен"
    s.shot("incident")
    s.page.fill("#answer-text", "Аварийная бригада выехала, проверяем давление в сети.")
    s.page.click("#answer-form button[value=interim]")
    assert "Промежуточный ответ записан" in s.page.inner_text("p.notice")
    assert s.page.inner_text("#status") == "промежуточный ответ"

    s.page.fill("#comment-text", "Созвонились с УК, работы до вечера.")
    s.page.click("#comment-form button")
    assert "Комментарий добавлен" in s.page.inner_text("p.notice")
    assert "Созвонились с УК, работы до вечера." in s.page.inner_text("#journal")

    s.page.fill("#answer-text", "Давление восстановлено, вода есть во всех квартирах.")
    s.page.click("#answer-form button[value=final]")
    assert s.page.inner_text("#status") == "окончательный ответ"

    s.page.select_option("#outcome", Outcome.solved.value)
    s.page.fill("#close-comment", "жители подтвердили")
    s.page.click("#close-form button")
    assert "Инцидент закрыт" in s.page.inner_text("p.notice")
    assert s.page.inner_text("#status") == "закрыт"

    stored = store.get_incident(incident.id)
    assert stored is not None
    assert stored.status == IncidentStatus.closed and stored.outcome == Outcome.solved
    assert stored.version == incident.version + 4
    assert stored.first_answered_at is not None and stored.final_answered_at is not None
    actor = f"recipient:{world.recipient}#{key_id(world, 'recipient')}"
    mine = [a for a in stored.audit if a.actor == actor]
    assert [a.action for a in mine] == [
        "статус: назначен → промежуточный ответ",
        "комментарий",
        "статус: промежуточный ответ → окончательный ответ",
        "статус: окончательный ответ → закрыт",
    ]
    assert mine[0].detail == "Аварийная бригада выехала, проверяем давление в сети."
    assert mine[-1].detail == "исход: решено; жители подтвердили"

    other = store.query_incidents(IncidentQuery(limit=200)).items
    foreign = next(i for i in other if i.recipient not in (None, world.recipient))
    response = s.open(f"/ui/incidents/{foreign.id}")
    assert response is not None and response.status == 403
    assert "другому исполнителю" in s.page.inner_text("main")
    assert s.dialogs == []


def test_head_reopens_reassigns_and_meets_a_concurrent_change(
    session_for: SessionFactory, world: DemoWorld, store: SqliteStore
) -> None:
    head = logged_in(session_for, world, "head")
    target = _recipients_assigned(store, world.recipient)[1]
    head.open(f"/ui/incidents/{target.id}")
    recipient = logged_in(session_for, world, "recipient")
    recipient.open(f"/ui/incidents/{target.id}")
    recipient.page.fill("#answer-text", "Ответили жителям в комментариях.")
    recipient.page.click("#answer-form button[value=final]")
    assert recipient.page.inner_text("#status") == "окончательный ответ"

    head.page.fill("#comment-text", "Прошу ускорить.")  # the head's page still shows the old version
    head.page.click("#comment-form button")
    assert "уже изменил другой пользователь" in head.page.inner_text("main")

    head.open(f"/ui/incidents/{target.id}")
    head.page.select_option("#outcome", Outcome.explained.value)
    head.page.click("#close-form button")
    assert head.page.inner_text("#status") == "закрыт"
    head.page.fill("#reopen-comment", "Жители пишут, что проблема осталась.")
    head.page.click("#reopen-form button")
    assert "Инцидент переоткрыт" in head.page.inner_text("p.notice")
    assert head.page.inner_text("#status") == "назначен"

    new_owner = next(r for r in world.profile.recipients if r.id != world.recipient)
    head.page.select_option("#recipient", new_owner.id)
    head.page.click("#assign-form button")
    assert "Исполнитель назначен" in head.page.inner_text("p.notice")
    stored = store.get_incident(target.id)
    assert stored is not None and stored.recipient == new_owner.id
    assert stored.status == IncidentStatus.assigned
    head.open("/ui/incidents?overdue=1")
    head.shot("incidents")
    assert head.page.locator("#incident-list tbody tr.overdue").count() > 0
    assert head.dialogs == [] and recipient.dialogs == []


def test_analyst_searches_reads_a_thread_spikes_and_the_map(
    session_for: SessionFactory, world: DemoWorld, store: SqliteStore
) -> None:
    s = logged_in(session_for, world, "analyst")
    s.open("/ui/search")
    s.page.fill("input[name=q]", "отопление")
    s.page.click("#search button[type=submit]")
    found = int(s.page.inner_text("#found-total"))
    assert found > 0
    assert s.page.locator("#results .post").count() == min(found, 50)
    texts = " ".join(s.page.locator("#results .post-text").all_inner_texts()).lower()
    assert "отоплен" in texts
    assert s.page.locator("#slices svg.hbars").count() == 3
    s.shot("search")

    conflict = store.query_alerts(AlertQuery(kind=[AlertKind.conflict], limit=100)).items
    thread_id = next(a.thread_id for a in conflict if a.thread_id and a.id != world.hostile_alert_id)
    s.open(f"/ui/posts/{thread_id}")
    lines = s.page.locator("#thread ol.thread > li")
    assert lines.count() >= 8  # the root post and the comments of a conflict
    assert s.page.locator("#thread li.current").count() == 1
    s.shot("post")

    s.open("/ui/spikes")
    assert s.page.locator("section.spike").count() >= 1
    assert s.page.locator('section.spike svg rect[fill="#d62728"]').count() >= 1  # the spike hours in red
    assert "Темы" in s.page.inner_text("section.spike >> nth=0")
    s.shot("spikes")

    s.open("/ui/map")
    tiles = s.page.locator("svg.heatmap a")
    assert tiles.count() == len([t for t in world.profile.walk() if t.level in {"district", "settlement"}])
    s.shot("map")
    s.page.select_option("select[name=metric]", "negative")
    s.page.click("#map button[type=submit]")
    assert "доля негатива" in s.page.inner_text("h1")
    first = s.page.locator("#territory-table tbody tr a").first
    territory = first.inner_text()
    first.click()
    s.page.wait_for_load_state()
    assert "/ui/search?" in s.page.url and "territory=" in s.page.url
    selected = s.page.locator("select[name=territory] option:checked").inner_text()
    assert selected == territory

    incident = store.query_incidents(IncidentQuery(limit=1)).items[0]
    s.open(f"/ui/incidents/{incident.id}")
    assert s.page.locator("#actions").count() == 0  # the analyst reads incidents, does not move them
    assert s.dialogs == []


def test_hostile_text_is_shown_as_text_and_never_runs(session_for: SessionFactory, world: DemoWorld) -> None:
    s = logged_in(session_for, world, "admin")
    s.open(f"/ui/posts/{world.hostile_post_id}")
    shown = s.page.inner_text("#post .post-text")
    assert SCRIPT_TEXT in shown and BROKEN_HTML in shown
    assert "<b>Тролль</b>" in s.page.inner_text("#post dl")
    assert s.page.locator("main img").count() == 0
    assert s.page.locator("main script").count() == 0
    assert s.page.locator('a[href^="javascript:"]').count() == 0
    s.shot("hostile-post")

    s.open("/ui/search?q=двор+ленин+свет")
    assert SCRIPT_TEXT in s.page.inner_text("#results")
    s.open(f"/ui/incidents/{world.hostile_incident_id}")
    assert SCRIPT_TEXT in s.page.inner_text("h1")
    assert BROKEN_HTML in s.page.inner_text("#incident")
    s.open(f"/ui/alerts/{world.hostile_alert_id}")
    assert SCRIPT_TEXT in s.page.inner_text("h1") and BROKEN_HTML in s.page.inner_text("#alert")
    s.open("/ui/alerts?state=all")
    assert SCRIPT_TEXT in s.page.inner_text("#alert-list")
    s.open("/ui/incidents?status=all")
    assert s.page.locator("main img").count() == 0
    assert s.dialogs == []
    assert not [e for e in s.console_errors if "Content Security Policy" in e]


def test_info_lead_sees_pages_and_decides_the_content_plan(
    session_for: SessionFactory, world: DemoWorld, store: SqliteStore
) -> None:
    s = logged_in(session_for, world, "info_lead")
    s.open("/ui/pages")
    assert s.page.locator("#pages-table tbody tr").count() == len(world.profile.pages)
    assert s.page.locator("#pages-health svg.hbars").count() >= 1
    assert "Неотвеченные вопросы" in s.page.inner_text("#unanswered")
    s.shot("pages")

    s.open("/ui/content-plan")
    assert s.page.locator("#plan-grid tbody tr").count() == len(world.profile.pages)
    slots = s.page.locator("#slots article.slot")
    assert slots.count() >= len(world.profile.pages)
    s.shot("content-plan")
    week = s.page.locator("#slots input[name=week]").first.get_attribute("value")
    assert week is not None

    accept_id = (slots.nth(0).get_attribute("id") or "")[2:]
    slots.nth(0).locator(".accept-form button").click()
    assert s.page.inner_text("p.notice") == "Слот принят."
    assert s.page.inner_text(f"#s-{accept_id} .tag >> nth=0") == "принят"

    move = s.page.locator("#slots article.slot").nth(1)
    move_id = (move.get_attribute("id") or "")[2:]
    move.locator(".more-actions summary").click()
    move.locator("input[name=moved_to]").fill(f"{week}T18:30")
    move.locator(".move-form button").click()
    assert s.page.inner_text("p.notice") == "Слот перенесён."
    moved = s.page.inner_text(f"#s-{move_id}")
    assert "18:30" in moved and "перенесён" in moved

    decisions = {d.slot_id: d for d in store.list_plan_decisions(week)}
    assert decisions[accept_id].action == "accept"
    assert decisions[move_id].action == "move" and decisions[move_id].moved_to is not None
    assert decisions[move_id].by == f"info_lead#{key_id(world, 'info_lead')}"

    s.shot("content-plan-decided")
    assert s.dialogs == []


def test_cur_orders_and_downloads_a_reference_note(session_for: SessionFactory, world: DemoWorld) -> None:
    import docx

    s = logged_in(session_for, world, "cur")
    menu = s.page.inner_text("nav.menu")
    assert "Справки" in menu and "Уведомления" not in menu
    s.open("/ui/reports")
    s.page.select_option("select[name=sector]", "ЖКХ")
    s.page.fill("input[name=since]", "2026-10-25")
    s.page.fill("input[name=until]", "2026-10-27")
    s.page.click("button[name=preview]")
    s.page.wait_for_selector("#preview")
    total = s.page.locator("#preview .tile-value").first.inner_text()
    assert re.fullmatch(r"[\d  ]+", total), total
    s.shot("reports")
    with s.page.expect_download() as download:
        s.page.click("#download-link")
    assert download.value.suggested_filename.endswith(".docx")
    document = docx.Document(io.BytesIO(download.value.path().read_bytes()))
    text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        c.text for t in document.tables for r in t.rows for c in r.cells
    )
    assert "ЖКХ" in text and total in text
    denied = s.open("/ui/alerts")
    assert denied is not None and denied.status == 403
    assert s.dialogs == []
