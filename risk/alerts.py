"""Russian alert texts for the head of the centre: what, where, how big against normal — in one line.

Every alert has a deterministic id, so the same episode (spike episode, thread, incident, escalation
step) is one alert however often it is detected. `now` sets `created_at`; without it the model's default
(the current time) is used. Times in texts are local to `tz`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from index.models import Alert, AlertKind, Incident, Post, Priority, as_utc, stable_id
from risk.conflicts import ConflictAssessment
from risk.incidents import PRIORITY_NAMES, Escalation
from risk.spikes import SpikeAssessment, severity
from risk.stories import StoryAssessment

#: Alerts list at most this many posts.
MAX_ALERT_POSTS = 50
#: Expected counts below this read as "almost never".
NEAR_ZERO = 0.05
#: Marker → Russian phrase, in the order they are named (the most alarming first).
MARKER_PHRASES: dict[str, str] = {
    "violence": "угрозы насилием",
    "threat_escalation": "угрозы жалоб в прокуратуру и выше",
    "collective_action": "призывы к коллективным действиям",
    "insult": "оскорбления",
    "obscenity": "мат",
}
#: How many marker phrases a title names.
TITLE_MARKERS = 2
#: Incident priority → alert severity.
INCIDENT_SEVERITY = {Priority.normal: 4, Priority.high: 6, Priority.critical: 8}
#: Escalation level → overdue alert severity (one more for a critical incident).
OVERDUE_SEVERITY = {1: 4, 2: 6, 3: 8, 4: 9}
#: Russian names of the two deadlines.
STAGE_NAMES = {"first": "первый ответ", "final": "окончательный ответ"}


def plural(n: int, one: str, few: str, many: str) -> str:
    """Return the Russian form of a noun for the number n (1 сообщение, 2 сообщения, 5 сообщений)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def count(n: int, one: str, few: str, many: str) -> str:
    """Return "n noun" with the right Russian form."""
    return f"{n} {plural(n, one, few, many)}"


def decimal(value: float, digits: int = 1) -> str:
    """Return a number with a decimal comma and no trailing zeros (2,1; 3; 0,5)."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def times_higher(ratio: float) -> str:
    """Return "в 22 раза выше", "в 5 раз выше", "в 1,5 раза выше"."""
    if ratio >= 10 or abs(ratio - round(ratio)) < 0.05:
        n = round(ratio)
        return f"в {n} {plural(n, 'раз', 'раза', 'раз')} выше"
    return f"в {decimal(ratio)} раза выше"


def big_number(n: int) -> str:
    """Return a count for a head: 950, 12 тыс., 1,2 млн."""
    if n >= 1_000_000:
        return f"{decimal(n / 1_000_000)} млн"
    if n >= 1_000:
        return f"{decimal(n / 1_000) if n < 10_000 else round(n / 1_000)} тыс."
    return str(n)


def local(moment: datetime, tz: str) -> str:
    """Return "19.01 18:00" in time zone `tz`."""
    return as_utc(moment).astimezone(ZoneInfo(tz)).strftime("%d.%m %H:%M")


def _created(now: datetime | None) -> dict[str, datetime]:
    """Return the created_at argument when `now` is given."""
    return {} if now is None else {"created_at": now}


def _sentence(text: str) -> str:
    """Return `text` capitalised and ending with one full stop."""
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith(".") else f"{text}."


def _named(items: Any, limit: int = 3) -> str:
    """Return "a (5), b (3)" from [(name, count), ...] or plain names."""
    out: list[str] = []
    for item in list(items or [])[:limit]:
        if isinstance(item, list | tuple) and len(item) == 2:
            out.append(f"{item[0]} ({item[1]})")
        else:
            out.append(str(item))
    return ", ".join(out)


# Spikes -----------------------------------------------------------------------------------------


def spike_title(sector: str | None, where: str | None, assessment: SpikeAssessment) -> str:
    """Return «Всплеск: ЖКХ, Центральный район — 46 сообщений за час при норме 2,1 (в 22 раза выше)»."""
    subject = ", ".join(p for p in (sector, where) if p) or "все сообщения"
    n = assessment.observed
    head = f"Всплеск: {subject} — {count(n, 'сообщение', 'сообщения', 'сообщений')} за час"
    if assessment.expected < NEAR_ZERO:
        return f"{head}, обычно в этот час сообщений почти нет"
    ratio = n / assessment.expected
    return f"{head} при норме {decimal(assessment.expected)} ({times_higher(ratio)})"


def rarity(p_value: float) -> str:
    """Return how rare an hour like this is by chance: «случайно — реже раза в 100 лет»."""
    hours = 1.0 / max(p_value, 1e-300)
    years = hours / (24 * 365)
    if years >= 1000:
        return "случайно так почти не бывает"
    if years >= 1:
        n = round(years)
        return f"случайно — реже раза в {n} {plural(n, 'год', 'года', 'лет')}"
    days = max(1, round(hours / 24))
    return f"случайно — примерно раз в {days} {plural(days, 'день', 'дня', 'дней')}"


def spike_alert(
    series_key: Mapping[str, str | None],
    assessment: SpikeAssessment,
    episode_start: datetime,
    post_ids: Sequence[str],
    territory_name: str | None,
    explanation: Mapping[str, Any],
    *,
    now: datetime | None = None,
    tz: str = "Europe/Moscow",
) -> Alert:
    """Return the alert of one spike episode (one id per sector, territory and episode start).

    `series_key` has sector, territory and source (None = all); the source names the network whose own
    series fired, but the id does not depend on it: a place's series and its per-source series are one
    episode. `explanation` may carry topics, places, sources, sectors, stories (lists of [name, count]),
    story_id, authors, threads, examples ([{id, text, url}]), negative_share and reach.
    """
    sector, territory, source = (
        series_key.get("sector"),
        series_key.get("territory"),
        series_key.get("source"),
    )
    where = territory_name or (territory if territory else None)
    if source:
        where = ", ".join(p for p in (where, source.upper()) if p)
    negative = float(explanation.get("negative_share") or 0.0)
    reach = int(explanation.get("reach") or 0)
    sev = max(
        assessment.severity,
        severity(assessment.observed, assessment.expected, reach=reach, negative_share=negative),
    )
    start = as_utc(episode_start)
    lines = [f"С {local(start, tz)}; {rarity(assessment.p_value)}."]
    for label, key in (
        ("Сектора", "sectors"),
        ("Темы", "topics"),
        ("Места", "places"),
        ("Источники", "sources"),
    ):
        named = _named(explanation.get(key))
        if named:
            lines.append(f"{label}: {named}.")
    extra = []
    authors = int(explanation.get("authors") or 0)
    if authors:
        extra.append(count(authors, "автор", "автора", "авторов"))
    if negative:
        extra.append(f"негатив {round(negative * 100)}%")
    if reach:
        extra.append(f"охват {big_number(reach)}")
    if extra:
        lines.append(_sentence(", ".join(extra)))
    in_one_thread = int(explanation.get("one_thread_discounted") or 0)
    if in_one_thread:
        lines.append(
            f"Из них {count(in_one_thread, 'сообщение', 'сообщения', 'сообщений')} — в одном обсуждении "
            "(оно учтено как одно)."
        )
    if explanation.get("story_id"):
        lines.append("Большинство сообщений — об одном событии (сюжет).")
    examples = list(explanation.get("examples") or [])[:3]
    for example in examples:
        text = str(example.get("text", "") if isinstance(example, Mapping) else example)
        url = example.get("url") if isinstance(example, Mapping) else None
        if text:
            lines.append(f"— {' '.join(text.split())[:200]}" + (f" ({url})" if url else ""))
    details: dict[str, Any] = {
        "observed": assessment.observed,
        "expected": round(assessment.expected, 3),
        "p_value": assessment.p_value,
        "episode_start": start.isoformat(),
        "hour": assessment.hour.isoformat(),
        **{k: v for k, v in explanation.items()},
    }
    return Alert(
        id=stable_id("spike", sector, territory, start.isoformat()),
        kind=AlertKind.spike,
        severity=sev,
        title=spike_title(sector, where, assessment),
        text="\n".join(lines),
        event_at=assessment.hour,
        sector=sector,
        territory=territory,
        source=source,
        post_ids=list(post_ids)[:MAX_ALERT_POSTS],
        details=details,
        **_created(now),
    )


# Conflicts --------------------------------------------------------------------------------------


def _marker_phrases(markers: Mapping[str, int]) -> list[str]:
    """Return the Russian phrases of the markers present, the most alarming first."""
    return [phrase for key, phrase in MARKER_PHRASES.items() if markers.get(key, 0) > 0]


def conflict_title(assessment: ConflictAssessment, page_name: str | None) -> str:
    """Return «Конфликт в комментариях: «Администрация Заречного» — 31 комментарий, 12 авторов, …»."""
    where = f"«{page_name}»" if page_name else "пост"
    parts = [
        count(assessment.comments, "комментарий", "комментария", "комментариев"),
        count(assessment.authors, "автор", "автора", "авторов"),
        f"{round(assessment.negative_share * 100)}% негатив",
    ]
    if assessment.aggressive_share >= 0.1:
        parts.append(f"{round(assessment.aggressive_share * 100)}% агрессия")
    parts += _marker_phrases(assessment.markers)[:TITLE_MARKERS]
    return f"Конфликт в комментариях: {where} — {', '.join(parts)}"


def conflict_alert(
    assessment: ConflictAssessment,
    root: Post | None,
    page_name: str | None,
    *,
    now: datetime | None = None,
    worst: Sequence[Post] = (),
) -> Alert:
    """Return the alert of a conflict thread (one id per thread): the link and the worst comments."""
    lines: list[str] = []
    if root is not None:
        snippet = " ".join(root.text.split())[:200]
        lines.append(f"Пост: {snippet}" + (f" ({root.url})" if root.url else ""))
    if assessment.rising:
        lines.append(
            "Напряжение растёт: доля негатива и агрессии "
            f"{round(assessment.first_third_hostile * 100)}% → {round(assessment.last_third_hostile * 100)}%."
        )
    if assessment.contested_replies:
        lines.append(
            "Спорят с ответом страницы: "
            + count(assessment.contested_replies, "комментарий", "комментария", "комментариев")
            + "."
        )
    phrases = _marker_phrases(assessment.markers)
    if phrases:
        lines.append(f"Признаки: {', '.join(phrases)}.")
    by_id = {p.id: p for p in worst}
    quoted = [by_id[i] for i in assessment.worst_post_ids if i in by_id][:3]
    if quoted:
        lines.append("Худшие комментарии:")
        for post in quoted:
            text = " ".join(post.text.split())[:200]
            lines.append(f"— {text}" + (f" ({post.url})" if post.url else ""))
    details = asdict(assessment)
    for key in ("first_at", "last_at"):
        value = details.get(key)
        details[key] = value.isoformat() if isinstance(value, datetime) else value
    if root is not None and root.url:
        details["url"] = root.url
    return Alert(
        id=stable_id("conflict", assessment.thread_id),
        kind=AlertKind.conflict,
        severity=assessment.severity,
        title=conflict_title(assessment, page_name),
        text="\n".join(lines),
        event_at=assessment.last_at,
        sector=root.sector if root else None,
        territory=root.territory if root else None,
        source=root.source if root else None,
        thread_id=assessment.thread_id,
        post_ids=list(assessment.worst_post_ids),
        details=details,
        **_created(now),
    )


# Stories ----------------------------------------------------------------------------------------


def story_alert(
    assessment: StoryAssessment, *, now: datetime | None = None, tz: str = "Europe/Moscow"
) -> Alert:
    """Return the резонанс alert of a fast-growing story (one id per story)."""
    n = assessment.window_posts
    head = " ".join(assessment.headline.split())[:90]
    title = (
        f"Резонанс: «{head}» — {count(n, 'сообщение', 'сообщения', 'сообщений')} за 3 часа"
        f" ({times_higher(assessment.growth).replace(' выше', '')} больше, чем до того)"
    )
    lines = [
        f"Авторов: {assessment.authors}; обсуждений: {assessment.threads}; всего в сюжете: "
        f"{count(assessment.total_posts, 'сообщение', 'сообщения', 'сообщений')}.",
    ]
    if assessment.first_at is not None:
        lines.append(f"Сюжет появился {local(assessment.first_at, tz)}.")
    named = _named(assessment.sources)
    if named:
        lines.append(f"Источники: {named}.")
    extra = []
    if assessment.negative_share:
        extra.append(f"негатив {round(assessment.negative_share * 100)}%")
    if assessment.reach:
        extra.append(f"охват {big_number(assessment.reach)}")
    if extra:
        lines.append(_sentence(", ".join(extra)))
    details = asdict(assessment)
    for key in ("first_at", "last_at"):
        value = details.get(key)
        details[key] = value.isoformat() if isinstance(value, datetime) else value
    details["growth"] = round(assessment.growth, 2)
    return Alert(
        id=stable_id("story", assessment.story_id),
        kind=AlertKind.story,
        severity=assessment.severity,
        title=title,
        text="\n".join(lines),
        event_at=assessment.last_at,
        sector=assessment.sector,
        territory=assessment.territory,
        post_ids=list(assessment.example_ids),
        details=details,
        **_created(now),
    )


# Incidents --------------------------------------------------------------------------------------


def incident_alert(incident: Incident, *, tz: str = "Europe/Moscow", now: datetime | None = None) -> Alert:
    """Return the alert of a newly opened (critical) incident (one id per incident)."""
    lines = [
        f"Сообщений: {len(incident.post_ids)}. Приоритет: {PRIORITY_NAMES[incident.priority]}.",
        f"Исполнитель: {incident.recipient or 'не назначен'}.",
    ]
    if incident.first_answer_due:
        lines.append(f"Первый ответ до {local(incident.first_answer_due, tz)}.")
    label = "Критический инцидент" if incident.priority == Priority.critical else "Инцидент"
    return Alert(
        id=stable_id("incident", incident.id),
        kind=AlertKind.incident,
        severity=INCIDENT_SEVERITY[incident.priority],
        title=f"{label}: {incident.title}",
        text="\n".join(lines),
        event_at=incident.created_at,
        sector=incident.sector,
        territory=incident.territory,
        incident_id=incident.id,
        post_ids=incident.post_ids[:MAX_ALERT_POSTS],
        details={"priority": incident.priority.value, "recipient": incident.recipient},
        **_created(now),
    )


def overdue_alert(
    incident: Incident, escalation: Escalation, *, tz: str = "Europe/Moscow", now: datetime | None = None
) -> Alert:
    """Return the alert of one escalation step (one id per incident, deadline and step)."""
    stage = STAGE_NAMES.get(escalation.stage, escalation.stage)
    when = local(escalation.deadline, tz)
    if escalation.level == 1:
        title = f"Истекает срок: {incident.title} — {stage} до {when}"
    else:
        title = f"Просрочка: {incident.title} — {stage} нужен был до {when} (эскалация: {escalation.target})"
    lines = [
        f"Исполнитель: {incident.recipient or 'не назначен'}.",
        f"Приоритет: {PRIORITY_NAMES[incident.priority]}. Сообщений: {len(incident.post_ids)}.",
    ]
    sev = OVERDUE_SEVERITY[escalation.level] + (1 if incident.priority == Priority.critical else 0)
    return Alert(
        id=stable_id(
            "overdue", incident.id, escalation.stage, escalation.deadline.isoformat(), escalation.level
        ),
        kind=AlertKind.overdue,
        severity=min(10, sev),
        title=title,
        text="\n".join(lines),
        event_at=escalation.due_at,
        sector=incident.sector,
        territory=incident.territory,
        incident_id=incident.id,
        post_ids=incident.post_ids[:MAX_ALERT_POSTS],
        details={
            "level": escalation.level,
            "stage": escalation.stage,
            "deadline": as_utc(escalation.deadline).isoformat(),
            "target": escalation.target,
            "recipient": incident.recipient,
            "priority": incident.priority.value,
        },
        **_created(now),
    )


# Acknowledgement links --------------------------------------------------------------------------


def ack_token(secret: str, alert_id: str, subscriber: str) -> str:
    """Return the signature of an acknowledgement link: hex HMAC-SHA256 of "alert id:subscriber"."""
    message = f"{alert_id}:{subscriber}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_ack_token(secret: str, alert_id: str, subscriber: str, token: str) -> bool:
    """Return whether `token` signs the acknowledgement of `alert_id` by `subscriber` (constant time)."""
    expected = ack_token(secret, alert_id, subscriber).encode("ascii")
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str (a forged link is not a crash).
    return bool(secret) and hmac.compare_digest(expected, (token or "").encode("utf-8", "replace"))
