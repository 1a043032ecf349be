"""Fixtures for the API tests: a real SqliteStore, a small profile, one key per role, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import API_KEY_HEADER
from index.models import IncidentStatus, Kind, Tone
from index.profile import Profile, Recipient, Territory
from index.sqlite import SqliteStore
from infopole.settings import ApiSettings, Settings
from tests.factories import BASE_TIME, make_alert, make_incident, make_post

#: The fixed "now" of every API test: Wednesday 2024-03-06 10:00 UTC (13:00 in Moscow).
NOW = BASE_TIME + timedelta(days=2)

#: One key per role (long enough for production rules too).
ROLE_KEYS: dict[str, str] = {
    "admin": "key-admin-0123456789",
    "head": "key-head-0123456789",
    "analyst": "key-analyst-0123456789",
    "info_lead": "key-info-lead-0123456789",
    "cur": "key-cur-0123456789",
    "recipient:uk-dom": "key-uk-dom-0123456789",
    "recipient:roads": "key-roads-0123456789",
}
ROLES = tuple(ROLE_KEYS)


def headers(role: str) -> dict[str, str]:
    """Return the request headers that authenticate as `role`."""
    return {API_KEY_HEADER: ROLE_KEYS[role]}


class Clock:
    """A settable clock returning aware UTC datetimes."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_profile() -> Profile:
    """Return a small municipality: two districts, two recipients."""
    return Profile(
        name="Тестовск",
        timezone="Europe/Moscow",
        territories=[
            Territory(
                id="city",
                name="Тестовск",
                level="municipality",
                children=[
                    Territory(id="centr", name="Центральный район"),
                    Territory(id="zarechye", name="Заречье"),
                ],
            )
        ],
        recipients=[
            Recipient(id="uk-dom", name="УК «Дом»"),
            Recipient(id="roads", name="Отдел дорожного хозяйства"),
        ],
        default_recipient="uk-dom",
    )


def build_settings() -> Settings:
    """Return development settings with one key per role."""
    keys = {k: r for r, k in ROLE_KEYS.items()}
    # Indicators are computed on every request: the tests change the store between calls.
    return Settings(env="development", api=ApiSettings(keys=keys, indicators_ttl_s=0))


@dataclass
class Seeded:
    """Ids of the objects `seed` wrote."""

    posts: dict[str, str]
    incidents: dict[str, str]
    alerts: dict[str, str]


def seed(store: SqliteStore) -> Seeded:
    """Write a few posts, incidents and alerts around BASE_TIME and return their ids."""
    posts = {
        "water": make_post(
            text="Нет горячей воды на улице Ленина",
            lemmas="нет горячий вода на улица ленин",
            sector="жкх",
            territory="centr",
            source="vk",
            kind=Kind.complaint,
            tone=Tone.negative,
            published_at=BASE_TIME + timedelta(hours=1),
            page_id="vk-admin",
        ),
        "road": make_post(
            text="Яма на дороге в Заречье",
            lemmas="яма на дорога в заречье",
            sector="дороги",
            territory="zarechye",
            source="tg",
            kind=Kind.complaint,
            tone=Tone.negative,
            published_at=BASE_TIME + timedelta(hours=2),
        ),
        "thanks": make_post(
            text="Спасибо за новую площадку",
            lemmas="спасибо за новый площадка",
            sector="благоустройство",
            territory="centr",
            source="vk",
            kind=Kind.gratitude,
            tone=Tone.positive,
            published_at=BASE_TIME + timedelta(days=1),
        ),
    }
    water_id = posts["water"].id
    posts["reply"] = make_post(
        text="У нас тоже нет горячей воды!",
        lemmas="у мы тоже нет горячий вода",
        sector="жкх",
        territory="centr",
        source="vk",
        kind=Kind.question,
        tone=Tone.neutral,
        published_at=BASE_TIME + timedelta(days=1, hours=1),
        parent_id=water_id,
        thread_id=water_id,
    )
    store.upsert_posts(list(posts.values()))
    incidents = {
        "water": make_incident(
            title="Нет горячей воды, ул. Ленина",
            sector="жкх",
            territory="centr",
            recipient="uk-dom",
            status=IncidentStatus.new,
            created_at=BASE_TIME + timedelta(hours=1),
            first_answer_due=BASE_TIME + timedelta(days=1),  # passed at NOW: overdue
            final_answer_due=BASE_TIME + timedelta(days=10),
            post_ids=[water_id, posts["reply"].id],
        ),
        "road": make_incident(
            title="Яма на дороге, Заречье",
            sector="дороги",
            territory="zarechye",
            recipient="roads",
            status=IncidentStatus.assigned,
            created_at=BASE_TIME + timedelta(hours=2),
            first_answer_due=NOW + timedelta(days=1),
            final_answer_due=NOW + timedelta(days=10),
            post_ids=[posts["road"].id],
        ),
        "closed": make_incident(
            title="Закрытый вопрос",
            sector="жкх",
            territory="centr",
            recipient="uk-dom",
            status=IncidentStatus.closed,
            created_at=BASE_TIME - timedelta(days=1),
            first_answer_due=BASE_TIME - timedelta(hours=20),
            first_answered_at=BASE_TIME - timedelta(hours=22),
            final_answered_at=BASE_TIME - timedelta(hours=21),
            closed_at=BASE_TIME - timedelta(hours=21),
        ),
    }
    for incident in incidents.values():
        store.save_incident(incident)
    alerts = {
        "spike": make_alert(title="Всплеск жалоб на ЖКХ"),
        "conflict": make_alert(kind="conflict", title="Конфликт под постом администрации", severity=8),
        "old": make_alert(title="Давний всплеск"),
    }
    for alert in alerts.values():
        store.add_alert(alert)
    store.acknowledge_alert(alerts["old"].id, by="head#00000000", at=BASE_TIME)
    return Seeded(
        posts={k: v.id for k, v in posts.items()},
        incidents={k: v.id for k, v in incidents.items()},
        alerts={k: v.id for k, v in alerts.items()},
    )


@pytest.fixture
def clock() -> Clock:
    """Return the settable test clock at NOW."""
    return Clock(NOW)


@pytest.fixture
def profile() -> Profile:
    """Return the test profile."""
    return build_profile()


@pytest.fixture
def app(sqlite_store: SqliteStore, profile: Profile, clock: Clock) -> FastAPI:
    """Return the application over an empty store."""
    return create_app(build_settings(), sqlite_store, profile, clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Return a test client without credentials."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def seeded(sqlite_store: SqliteStore) -> Seeded:
    """Fill the store with the standard objects."""
    return seed(sqlite_store)
