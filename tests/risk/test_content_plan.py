"""The content plan: audience hours, slots by the norm, suggestions with evidence, decisions, exports."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from openpyxl import load_workbook

from index.models import IncidentStatus, Kind, OfficialPage, PlanAction, Priority, Tone
from index.profile import PlannedEvent, Profile, Recipient
from index.sqlite import SqliteStore
from risk.content_plan import (
    PlanError,
    best_hours,
    build_plan,
    decide,
    plan_csv,
    plan_ics,
    plan_xlsx,
    slot_days,
)
from tests.factories import make_incident, make_post

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2024, 3, 8, 12, tzinfo=MSK)  # Friday; the coming week starts Monday 11.03
WEEK = date(2024, 3, 11)


def _profile() -> Profile:
    return Profile(
        name="Тестовск",
        pages=[
            OfficialPage(id="vk-admin", network="vk", name="Администрация", url="https://vk.com/adm"),
            OfficialPage(
                id="ok-admin",
                network="ok",
                name="Администрация в ОК",
                url="https://ok.ru/adm",
                norm_per_week=1,
            ),
        ],
        recipients=[Recipient(id="uk-dom", name="УК «Дом»")],
        events=[
            PlannedEvent(title="Субботник в парке", start=datetime(2024, 3, 16, 10, 0), pages=["vk-admin"])
        ],
    )


def _fill(store: SqliteStore) -> None:
    posts = []
    # 24 citizens' comments on the page at 19:xx Moscow, 4 at 10:xx: the audience reacts at 19.
    for i in range(24):
        posts.append(
            make_post(
                page_id="vk-admin",
                parent_id="vk:root",
                thread_id="vk:root",
                sector=None,
                published_at=datetime(2024, 3, 1 + i % 6, 19, i, tzinfo=MSK),
            )
        )
    for i in range(4):
        posts.append(
            make_post(
                page_id="vk-admin",
                parent_id="vk:root",
                thread_id="vk:root",
                sector=None,
                published_at=datetime(2024, 3, 2, 10, i, tzinfo=MSK),
            )
        )
    # Heating complaints: 12 in the last 7 days, 2 in the 7 days before (+500 %).
    for i in range(12):
        posts.append(
            make_post(
                sector="ЖКХ",
                topic="отопление",
                kind=Kind.complaint,
                tone=Tone.negative,
                text=f"Холодные батареи, дом {i}",
                published_at=NOW - timedelta(days=1, hours=i),
            )
        )
    for i in range(2):
        posts.append(
            make_post(
                sector="ЖКХ",
                topic="отопление",
                kind=Kind.complaint,
                tone=Tone.negative,
                published_at=NOW - timedelta(days=10, hours=i),
            )
        )
    store.upsert_posts(posts)
    store.save_incident(
        make_incident(
            id="inc-crit",
            title="ЖКХ: нет воды — ул. Ленина",
            sector="ЖКХ",
            recipient="uk-dom",
            priority=Priority.critical,
            status=IncidentStatus.assigned,
            created_at=NOW - timedelta(days=2),
            first_answer_due=NOW - timedelta(days=1),
            post_ids=["x1", "x2", "x3"],
        )
    )


@pytest.fixture
def filled(sqlite_store: SqliteStore) -> SqliteStore:
    _fill(sqlite_store)
    return sqlite_store


def test_slot_days_follow_the_norm() -> None:
    assert slot_days(1) == [(2, 0)]
    assert slot_days(3) == [(0, 0), (2, 0), (4, 0)]
    assert [d for d, _ in slot_days(5)] == [0, 1, 2, 3, 4]
    assert len(slot_days(9)) == 9 and slot_days(9).count((0, 1)) == 1
    assert best_hours(Counter({19: 24, 10: 4, 3: 50})) == [19, 10]  # night hours are never offered


def test_plan_places_slots_at_the_audience_hour_and_ranks_topics(filled: SqliteStore) -> None:
    plan = build_plan(filled, _profile(), NOW)
    assert plan.week == "2024-03-11"
    pages = {p.page_id: p for p in plan.pages}
    assert pages["vk-admin"].hours_source == "history" and pages["vk-admin"].best_hours[0] == 19
    assert pages["ok-admin"].hours_source == "citizens"
    admin = [s for s in plan.slots if s.page_id == "vk-admin"]
    assert [s.at.astimezone(MSK).strftime("%a %H") for s in admin] == ["Mon 19", "Wed 19", "Fri 19"]
    assert len([s for s in plan.slots if s.page_id == "ok-admin"]) == 1
    kinds = {s.kind: s for s in plan.suggestions}
    concern = kinds["concern"]
    assert concern.evidence["messages_7d"] == 12 and concern.evidence["messages_prev_7d"] == 2
    assert concern.evidence["change_pct"] == 500.0 and concern.examples
    assert "12 сообщений" in concern.reason and concern.key_points
    assert kinds["incident"].evidence["incident_id"] == "inc-crit"
    assert "срок ответа истёк" in kinds["incident"].reason
    events = {s.title: s for s in plan.suggestions if s.kind == "event"}
    assert set(events) == {"Анонс: Субботник в парке", "Итоги: Субботник в парке"}
    assert events["Анонс: Субботник в парке"].page_ids == ["vk-admin"]
    # The event is announced on its page before it starts (its results need a slot after it); every slot
    # of the page got a topic.
    titles = [s.title for s in admin]
    assert titles[0] == "Анонс: Субботник в парке"
    assert all(s.suggestion is not None for s in admin) and len(set(titles)) == 3


def test_decisions_are_remembered(filled: SqliteStore) -> None:
    profile = _profile()
    plan = build_plan(filled, profile, NOW)
    first, second, third = [s for s in plan.slots if s.page_id == "vk-admin"]
    new_time = datetime(2024, 3, 12, 11, 30, tzinfo=MSK)
    decide(filled, profile, plan, first.id, PlanAction.accept, by="info_lead#1")
    decide(filled, profile, plan, second.id, PlanAction.move, by="info_lead#1", moved_to=new_time)
    decide(filled, profile, plan, third.id, PlanAction.drop, by="info_lead#1", comment="неактуально")
    again = {s.id: s for s in build_plan(filled, profile, NOW + timedelta(hours=5), WEEK).slots}
    assert again[first.id].status == "accepted" and again[first.id].title == first.title
    assert again[second.id].status == "moved" and again[second.id].at == new_time
    assert again[third.id].status == "dropped" and again[third.id].comment == "неактуально"
    with pytest.raises(PlanError, match="внутри планируемой недели"):
        decide(
            filled, profile, plan, first.id, PlanAction.move, by="x", moved_to=new_time + timedelta(days=9)
        )
    with pytest.raises(PlanError, match="нет в плане"):
        decide(filled, profile, plan, "нет-такого", PlanAction.drop, by="x")


def test_exports_csv_xlsx_ics(filled: SqliteStore) -> None:
    profile = _profile()
    plan = build_plan(filled, profile, NOW)
    dropped = plan.slots[0]
    decide(filled, profile, plan, dropped.id, PlanAction.drop, by="info_lead#1")
    plan = build_plan(filled, profile, NOW)
    rows = list(csv.reader(io.StringIO(plan_csv(plan)), delimiter=";"))
    assert rows[0][:3] == ["Неделя", "Страница", "Сеть"] and len(rows) == len(plan.slots) + 1
    sheet = load_workbook(io.BytesIO(plan_xlsx(plan))).active
    assert sheet.max_row == len(plan.slots) + 1 and sheet["F2"].value == plan.slots[0].title
    events = [c for c in Calendar.from_ical(plan_ics(plan)).walk() if c.name == "VEVENT"]
    assert len(events) == len(plan.slots) - 1  # the dropped slot is not in the calendar
    starts = sorted(e.decoded("dtstart").astimezone(UTC) for e in events)
    assert starts == sorted(s.at for s in plan.slots if s.id != dropped.id)
