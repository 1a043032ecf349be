"""Factories for domain objects with sensible Russian defaults and unique ids (a counter per kind)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from index.models import Alert, AlertKind, Incident, Kind, Post, Tone

#: A fixed moment the defaults are built around (a Monday, 10:00 UTC), so tests are reproducible.
BASE_TIME = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)

_post_counter = itertools.count(1)
_incident_counter = itertools.count(1)
_alert_counter = itertools.count(1)

#: (text, lemmas, sector, kind, tone) cycled through by make_post.
_SAMPLES: tuple[tuple[str, str, str, Kind, Tone], ...] = (
    (
        "Третий день нет горячей воды на улице Ленина, дом 5. Когда починят?",
        "третий день нет горячий вода на улица ленин дом 5 когда починить",
        "жкх",
        Kind.complaint,
        Tone.negative,
    ),
    (
        "На Советской улице огромная яма на дороге, машины объезжают по тротуару.",
        "на советский улица огромный яма на дорога машина объезжать по тротуар",
        "дороги",
        Kind.complaint,
        Tone.negative,
    ),
    (
        "Спасибо администрации за новую детскую площадку во дворе!",
        "спасибо администрация за новый детский площадка во двор",
        "благоустройство",
        Kind.gratitude,
        Tone.positive,
    ),
    (
        "Подскажите, когда начнётся запись в первый класс?",
        "подсказать когда начаться запись в первый класс",
        "образование",
        Kind.question,
        Tone.neutral,
    ),
)


def make_post(**overrides: Any) -> Post:
    """Return a post with a unique id ("test:000001", ...) and Russian text; `overrides` win."""
    n = next(_post_counter)
    text, lemmas, sector, kind, tone = _SAMPLES[(n - 1) % len(_SAMPLES)]
    post_id = overrides.pop("id", f"test:{n:06d}")
    values: dict[str, Any] = {
        "id": post_id,
        "source": "vk",
        "source_id": post_id.split(":", 1)[-1],
        "url": f"https://vk.com/wall-1_{n}",
        "author_id": f"author{n % 7}",
        "author_name": "Иван Петров",
        "published_at": BASE_TIME + timedelta(minutes=n),
        "collected_at": BASE_TIME + timedelta(minutes=n, seconds=30),
        "text": text,
        "lemmas": lemmas,
        "sector": sector,
        "sector_confidence": 0.9,
        "kind": kind,
        "tone": tone,
        "territory": "centr",
        "thread_id": post_id,
    }
    values.update(overrides)
    return Post(**values)


def make_incident(**overrides: Any) -> Incident:
    """Return a new incident with a unique id ("inc-0001", ...) due in 1 and 30 days; `overrides` win."""
    n = next(_incident_counter)
    values: dict[str, Any] = {
        "id": f"inc-{n:04d}",
        "title": "Нет горячей воды, ул. Ленина, 5",
        "sector": "жкх",
        "topic": "Отсутствие горячей воды",
        "territory": "centr",
        "place": "улица Ленина",
        "recipient": "uk-dom",
        "created_at": BASE_TIME + timedelta(minutes=n),
        "first_answer_due": BASE_TIME + timedelta(days=1, minutes=n),
        "final_answer_due": BASE_TIME + timedelta(days=30, minutes=n),
        "updated_at": BASE_TIME + timedelta(minutes=n),
    }
    values.update(overrides)
    return Incident(**values)


def make_alert(**overrides: Any) -> Alert:
    """Return an unacknowledged spike alert with a unique id ("alert-0001", ...); `overrides` win."""
    n = next(_alert_counter)
    values: dict[str, Any] = {
        "id": f"alert-{n:04d}",
        "kind": AlertKind.spike,
        "severity": 5,
        "title": "Всплеск жалоб: ЖКХ, Центральный район",
        "text": "За час 14 сообщений при обычных 3.",
        "created_at": BASE_TIME + timedelta(minutes=n),
        "event_at": BASE_TIME + timedelta(minutes=n - 1),
        "sector": "жкх",
        "territory": "centr",
    }
    values.update(overrides)
    return Alert(**values)
