"""Tests for the Russian alert texts and their deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from index.models import AlertKind, IncidentStatus, Priority, stable_id
from risk.alerts import (
    big_number,
    conflict_alert,
    count,
    decimal,
    incident_alert,
    overdue_alert,
    plural,
    rarity,
    spike_alert,
    story_alert,
    times_higher,
)
from risk.conflicts import ConflictAssessment
from risk.incidents import Escalation
from risk.spikes import SpikeAssessment
from risk.stories import StoryAssessment
from tests.factories import make_incident, make_post

HOUR = datetime(2026, 1, 19, 12, tzinfo=UTC)
NOW = datetime(2026, 1, 19, 12, 20, tzinfo=UTC)


def spike(observed: int = 46, expected: float = 2.1, sev: int = 7) -> SpikeAssessment:
    """Return a spike assessment of one hour."""
    return SpikeAssessment(
        hour=HOUR, observed=observed, expected=expected, p_value=1e-20, is_spike=True, severity=sev
    )


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "сообщение"),
        (2, "сообщения"),
        (5, "сообщений"),
        (11, "сообщений"),
        (21, "сообщение"),
        (22, "сообщения"),
    ],
)
def test_plural(n: int, word: str) -> None:
    assert plural(n, "сообщение", "сообщения", "сообщений") == word
    assert count(n, "сообщение", "сообщения", "сообщений") == f"{n} {word}"


def test_number_helpers() -> None:
    assert decimal(2.1) == "2,1" and decimal(3.0) == "3" and decimal(0.46) == "0,5"
    assert times_higher(21.9) == "в 22 раза выше"
    assert times_higher(5.0) == "в 5 раз выше"
    assert times_higher(21.0) == "в 21 раз выше"
    assert times_higher(1.5) == "в 1,5 раза выше"
    assert big_number(950) == "950" and big_number(1234) == "1,2 тыс." and big_number(12_345) == "12 тыс."
    assert big_number(1_250_000) == "1,2 млн"


def test_spike_alert_title_text_and_id() -> None:
    key: dict[str, str | None] = {"sector": "ЖКХ", "territory": "centr", "source": None}
    start = HOUR - timedelta(hours=1)
    explanation = {
        "topics": [["Отсутствие горячей воды", 30], ["Отопление", 9]],
        "places": [["Ленина", 12]],
        "sources": [["vk", 40], ["tg", 6]],
        "examples": [
            {"id": "vk:1", "text": "Третий день нет горячей воды на Ленина!"},
            {"id": "vk:2", "text": "И у нас   тоже", "url": "https://vk.com/wall-1_2"},
        ],
        "negative_share": 0.8,
        "reach": 12_345,
    }
    alert = spike_alert(key, spike(), start, ["vk:1", "vk:2"], "Центральный район", explanation, now=NOW)
    assert (
        alert.title == "Всплеск: ЖКХ, Центральный район — 46 сообщений за час при норме 2,1 (в 22 раза выше)"
    )
    assert alert.kind == AlertKind.spike
    assert alert.id == stable_id("spike", "ЖКХ", "centr", start.isoformat())
    assert alert.created_at == NOW and alert.event_at == HOUR
    assert alert.sector == "ЖКХ" and alert.territory == "centr" and alert.post_ids == ["vk:1", "vk:2"]
    # Severity: size 7 (ratio 47/3.1 ≈ 15) + 1 for reach (log10 12 345 − 3) + 1.43 for 80% negative → 9.
    assert alert.severity == 9
    assert alert.text.splitlines() == [
        "С 19.01 14:00; случайно так почти не бывает.",  # 11:00 UTC in Moscow, p = 1e-20
        "Темы: Отсутствие горячей воды (30), Отопление (9).",
        "Места: Ленина (12).",
        "Источники: vk (40), tg (6).",
        "Негатив 80%, охват 12 тыс.",
        "— Третий день нет горячей воды на Ленина!",
        "— И у нас тоже (https://vk.com/wall-1_2)",
    ]
    assert alert.details["observed"] == 46 and alert.details["episode_start"] == start.isoformat()
    # The same episode an hour later is the same alert.
    later = SpikeAssessment(
        hour=HOUR + timedelta(hours=1), observed=60, expected=2.0, p_value=1e-30, is_spike=True, severity=8
    )
    assert spike_alert(key, later, start, [], "Центральный район", {}).id == alert.id
    # The place's per-source series fired: the same episode, the same alert.
    by_source = {**key, "source": "tg"}
    assert spike_alert(by_source, later, start, [], "Центральный район", {}).id == alert.id


def test_spike_alert_whole_sector_and_near_zero_norm() -> None:
    key: dict[str, str | None] = {"sector": "Дороги", "territory": None, "source": "vk"}
    alert = spike_alert(key, spike(observed=6, expected=0.01, sev=5), HOUR, [], None, {}, now=NOW)
    assert alert.title == "Всплеск: Дороги, VK — 6 сообщений за час, обычно в этот час сообщений почти нет"
    assert alert.text == "С 19.01 15:00; случайно так почти не бывает."
    assert alert.source == "vk" and alert.territory is None


def test_spike_alert_overall_with_sectors_authors_and_one_thread() -> None:
    key: dict[str, str | None] = {"sector": None, "territory": None, "source": None}
    explanation = {
        "sectors": [["ЖКХ", 20], ["Дороги", 5]],
        "authors": 23,
        "one_thread_discounted": 12,
        "story_id": "vk:1",
    }
    assessment = SpikeAssessment(
        hour=HOUR, observed=30, expected=6.0, p_value=2e-6, is_spike=True, severity=4
    )
    alert = spike_alert(key, assessment, HOUR, [], None, explanation, now=NOW, tz="Asia/Yekaterinburg")
    assert alert.title == "Всплеск: все сообщения — 30 сообщений за час при норме 6 (в 5 раз выше)"
    assert alert.text.splitlines() == [
        "С 19.01 17:00; случайно — реже раза в 57 лет.",  # 1 / 2e-6 hours ≈ 57 years
        "Сектора: ЖКХ (20), Дороги (5).",
        "23 автора.",
        "Из них 12 сообщений — в одном обсуждении (оно учтено как одно).",
        "Большинство сообщений — об одном событии (сюжет).",
    ]
    assert alert.sector is None and alert.territory is None


@pytest.mark.parametrize(
    ("p_value", "text"),
    [
        (1e-9, "случайно так почти не бывает"),
        (1e-5, "случайно — реже раза в 11 лет"),
        (1e-3, "случайно — примерно раз в 42 дня"),
    ],
)
def test_rarity(p_value: float, text: str) -> None:
    assert rarity(p_value) == text


def conflict(**overrides: object) -> ConflictAssessment:
    """Return a conflict assessment like the brief's example."""
    values: dict[str, object] = {
        "thread_id": "vk:-1_100",
        "is_conflict": True,
        "score": 0.55,
        "severity": 7,
        "comments": 31,
        "authors": 12,
        "negative_share": 0.58,
        "aggressive_share": 0.05,
        "markers": {"threat_escalation": 3, "official_mention": 4},
        "escalating": 3,
        "contested_replies": 2,
        "first_third_hostile": 0.2,
        "last_third_hostile": 0.8,
        "rising": True,
        "worst_post_ids": ["vk:-1_100:c5", "vk:-1_100:c9"],
        "first_at": HOUR - timedelta(hours=2),
        "last_at": HOUR,
    }
    values.update(overrides)
    return ConflictAssessment(**values)  # type: ignore[arg-type]


def test_conflict_alert() -> None:
    root = make_post(
        id="vk:-1_100", text="Ремонт дороги на Ленина начнётся в мае.", url="https://vk.com/wall-1_100"
    )
    alert = conflict_alert(conflict(), root, "Администрация Заречного", now=NOW)
    assert alert.title == (
        "Конфликт в комментариях: «Администрация Заречного» — 31 комментарий, 12 авторов, 58% негатив, "
        "угрозы жалоб в прокуратуру и выше"
    )
    assert alert.id == stable_id("conflict", "vk:-1_100")
    assert alert.kind == AlertKind.conflict and alert.severity == 7
    assert alert.thread_id == "vk:-1_100" and alert.post_ids == ["vk:-1_100:c5", "vk:-1_100:c9"]
    assert alert.event_at == HOUR
    lines = alert.text.splitlines()
    assert lines[0] == "Пост: Ремонт дороги на Ленина начнётся в мае. (https://vk.com/wall-1_100)"
    assert "Напряжение растёт: доля негатива и агрессии 20% → 80%." in lines
    assert "Спорят с ответом страницы: 2 комментария." in lines
    assert alert.details["first_at"] == (HOUR - timedelta(hours=2)).isoformat()
    plain = conflict_alert(
        conflict(aggressive_share=0.3, markers={"insult": 2, "violence": 1, "collective_action": 1}),
        None,
        None,
    )
    assert plain.title == (
        "Конфликт в комментариях: пост — 31 комментарий, 12 авторов, 58% негатив, 30% агрессия, "
        "угрозы насилием, призывы к коллективным действиям"
    )
    assert "оскорбления" in plain.text


def test_incident_alert() -> None:
    incident = make_incident(
        id="inc-1",
        title="ЖКХ: нет горячей воды — ул. Ленина",
        priority=Priority.critical,
        post_ids=["vk:1", "vk:2", "vk:3"],
        recipient="zhkh",
        first_answer_due=datetime(2026, 1, 19, 15, tzinfo=UTC),
    )
    alert = incident_alert(incident, now=NOW)
    assert alert.title == "Критический инцидент: ЖКХ: нет горячей воды — ул. Ленина"
    assert alert.id == stable_id("incident", "inc-1")
    assert alert.severity == 8 and alert.incident_id == "inc-1" and alert.kind == AlertKind.incident
    assert alert.text.splitlines() == [
        "Сообщений: 3. Приоритет: критический.",
        "Исполнитель: zhkh.",
        "Первый ответ до 19.01 18:00.",
    ]
    assert "19.01 20:00" in incident_alert(incident, tz="Asia/Yekaterinburg").text


def test_overdue_alert() -> None:
    deadline = datetime(2026, 1, 19, 15, tzinfo=UTC)
    incident = make_incident(
        id="inc-2",
        title="Дороги: яма — ул. Советская",
        status=IncidentStatus.assigned,
        priority=Priority.high,
    )
    warn = Escalation(level=1, due_at=deadline - timedelta(hours=2), deadline=deadline, stage="first")
    step3 = Escalation(level=3, due_at=deadline + timedelta(hours=4), deadline=deadline, stage="first")
    a1 = overdue_alert(incident, warn, now=NOW)
    a3 = overdue_alert(incident, step3, now=NOW)
    assert a1.title == "Истекает срок: Дороги: яма — ул. Советская — первый ответ до 19.01 18:00"
    assert a3.title == (
        "Просрочка: Дороги: яма — ул. Советская — первый ответ нужен был до 19.01 18:00 "
        "(эскалация: глава МЦУ)"
    )
    assert (a1.severity, a3.severity) == (4, 8)
    assert a1.id != a3.id
    assert a3.id == overdue_alert(incident, step3).id  # one alert per incident and step
    assert a3.kind == AlertKind.overdue and a3.incident_id == "inc-2" and a3.event_at == step3.due_at
    assert a3.details == {
        "level": 3,
        "stage": "first",
        "deadline": deadline.isoformat(),
        "target": "глава МЦУ",
        "recipient": incident.recipient,
        "priority": incident.priority.value,
    }
    final = Escalation(level=4, due_at=deadline + timedelta(days=1), deadline=deadline, stage="final")
    critical = incident.model_copy(update={"priority": Priority.critical})
    a4 = overdue_alert(critical, final)
    assert a4.severity == 10
    assert "окончательный ответ нужен был до 19.01 18:00 (эскалация: ЦУР)" in a4.title


def test_conflict_alert_quotes_the_worst_comments_with_links() -> None:
    root = make_post(id="vk:-1_100", text="Тарифы вырастут.", url="https://vk.com/wall-1_100")
    worst = [
        make_post(
            id="vk:-1_100:c9", text="Ворьё!   Совсем обнаглели", url="https://vk.com/wall-1_100?reply=9"
        ),
        make_post(id="vk:-1_100:c5", text="Пойдём в прокуратуру всем домом", url=None),
        make_post(id="vk:-1_100:c1", text="не худший", url=None),
    ]
    alert = conflict_alert(conflict(), root, "Администрация", now=NOW, worst=worst)
    lines = alert.text.splitlines()
    at = lines.index("Худшие комментарии:")
    # In the assessment's order (c5 first), whitespace collapsed, with the comment's link when known.
    assert lines[at + 1 :] == [
        "— Пойдём в прокуратуру всем домом",
        "— Ворьё! Совсем обнаглели (https://vk.com/wall-1_100?reply=9)",
    ]
    assert alert.thread_id == "vk:-1_100" and alert.details["url"] == "https://vk.com/wall-1_100"
    assert alert.post_ids == ["vk:-1_100:c5", "vk:-1_100:c9"]


def test_story_alert() -> None:
    assessment = StoryAssessment(
        story_id="tg:-100:5",
        is_resonance=True,
        window_posts=24,
        previous_posts=3,
        authors=19,
        threads=7,
        total_posts=30,
        reach=15_000,
        negative_share=0.5,
        first_at=HOUR - timedelta(hours=5),
        last_at=HOUR,
        severity=6,
        sector="ЖКХ",
        territory="centr",
        sources=[("vk", 20), ("tg", 4)],
        example_ids=["vk:1", "vk:2"],
        headline="На Ленина прорвало трубу, вода хлещет на дорогу",
    )
    alert = story_alert(assessment, now=NOW)
    assert alert.id == stable_id("story", "tg:-100:5") and alert.kind == AlertKind.story
    assert alert.title == (
        "Резонанс: «На Ленина прорвало трубу, вода хлещет на дорогу» — 24 сообщения за 3 часа "
        "(в 6 раз больше, чем до того)"
    )
    assert alert.text.splitlines() == [
        "Авторов: 19; обсуждений: 7; всего в сюжете: 30 сообщений.",
        "Сюжет появился 19.01 10:00.",
        "Источники: vk (20), tg (4).",
        "Негатив 50%, охват 15 тыс.",
    ]
    assert (alert.sector, alert.territory, alert.severity) == ("ЖКХ", "centr", 6)
    assert alert.details["growth"] == 6.0 and alert.post_ids == ["vk:1", "vk:2"]
