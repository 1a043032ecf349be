"""Russian alert texts for the head of the centre: what, where, how big against normal — in one line.

Every alert has a deterministic id, so the same episode (spike episode, thread, incident, escalation
step) is one alert however often it is detected. `now` sets `created_at`; without it the model's default
(the current time) is used. Times in texts are local to `tz`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
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


# Overdue digests --------------------------------------------------------------------------------

#: Who an overdue digest is for (details["audience"]): the responsible recipient (and its head at
#: step 2) or the head of the centre (steps 3 and 4).
AUDIENCE_RECIPIENT = "recipient"
AUDIENCE_HEAD = "head"
#: Escalation levels the responsible recipient is told of (warning, deadline passed).
RECIPIENT_LEVELS = frozenset({1, 2})
#: Escalation levels the head of the centre is told of in the digest (head of the МЦУ, ЦУР).
HEAD_LEVELS = frozenset({3, 4})
#: Incidents a digest names one by one; the rest are counted (a message keeps 8 text lines).
DIGEST_LINES = 7
#: A digest's severity stays below the usual urgent threshold, so quiet hours still hold it.
DIGEST_MAX_SEVERITY = 8

#: One escalation step: incident id, stage, deadline (ISO, UTC), level.
StepKey = tuple[str, str, str, int]


def step_key(incident_id: str, escalation: Escalation) -> StepKey:
    """Return the key of one escalation step of an incident."""
    return incident_id, escalation.stage, as_utc(escalation.deadline).isoformat(), escalation.level


def told_steps(alert: Alert) -> list[StepKey]:
    """Return the escalation steps an overdue alert tells of (one for a single alert, all of a digest)."""
    if alert.kind != AlertKind.overdue:
        return []
    listed = alert.details.get("steps")
    if isinstance(listed, list):
        out: list[StepKey] = []
        for row in listed:
            if isinstance(row, list | tuple) and len(row) == 4:
                out.append((str(row[0]), str(row[1]), str(row[2]), int(row[3])))
        return out
    level, stage, deadline = (alert.details.get(k) for k in ("level", "stage", "deadline"))
    if alert.incident_id and isinstance(level, int) and isinstance(stage, str) and isinstance(deadline, str):
        return [(alert.incident_id, stage, deadline, level)]
    return []


@dataclass(frozen=True)
class OverdueItem:
    """An incident and the escalation steps one run applies to it (lowest level first)."""

    incident: Incident
    steps: tuple[Escalation, ...]

    def step_keys(self) -> list[StepKey]:
        """Return the keys of the steps."""
        return [step_key(self.incident.id, s) for s in self.steps]


def _digest_line(incident: Incident, step: Escalation, tz: str, recipient_name: str | None) -> str:
    """Return one incident's line in a digest: what, which deadline, whose, what step."""
    stage = STAGE_NAMES.get(step.stage, step.stage)
    when = local(step.deadline, tz)
    if step.level == 1:
        line = f"— {incident.title}: {stage} до {when}"
    else:
        line = f"— {incident.title}: {stage} нужен был до {when}"
    if recipient_name:
        line += f"; исполнитель: {recipient_name}"
    if step.level >= 2:
        line += f"; эскалация: {step.target}"
    return line


def _digest_lines(
    rows: Sequence[tuple[Incident, Escalation]], tz: str, names: Mapping[str, str] | None
) -> list[str]:
    """Return the digest's incident lines, the most escalated and oldest deadline first, then a count."""
    ordered = sorted(rows, key=lambda r: (-r[1].level, r[1].deadline, r[0].id))
    lines = []
    for incident, step in ordered[:DIGEST_LINES]:
        name = (
            None
            if names is None
            else names.get(incident.recipient or "", incident.recipient or "не назначен")
        )
        lines.append(_digest_line(incident, step, tz, name))
    rest = len(ordered) - DIGEST_LINES
    if rest > 0:
        lines.append(
            f"…и ещё {count(rest, 'инцидент', 'инцидента', 'инцидентов')} (список — в разделе «Инциденты»)."
        )
    return lines


def _digest_details(items: Sequence[OverdueItem], audience: str) -> dict[str, Any]:
    """Return the machine-readable part of a digest: every step it tells of and its incidents."""
    return {
        "audience": audience,
        "steps": [list(key) for item in items for key in item.step_keys()],
        "incidents": [
            {
                "id": item.incident.id,
                "level": item.steps[-1].level,
                "stage": item.steps[-1].stage,
                "deadline": as_utc(item.steps[-1].deadline).isoformat(),
                "recipient": item.incident.recipient,
                "priority": item.incident.priority.value,
            }
            for item in items
        ],
    }


def recipient_overdue_alert(
    recipient_id: str,
    recipient_name: str | None,
    items: Sequence[OverdueItem],
    *,
    tz: str = "Europe/Moscow",
    now: datetime | None = None,
) -> Alert:
    """Return one recipient's alert of a run: its incidents newly warned (step 1) or overdue (step 2).

    Routed to the recipient, and to the recipient's head when an incident is past its deadline
    (details "level" 2). One item reads like a single incident's alert; several make a digest.
    """
    rows = [
        (item.incident, max((s for s in item.steps if s.level in RECIPIENT_LEVELS), key=lambda s: s.level))
        for item in items
    ]
    level = max(step.level for _, step in rows)
    late = sum(1 for _, step in rows if step.level >= 2)
    if len(rows) == 1:
        incident, step = rows[0]
        single = overdue_alert(incident, step, tz=tz, now=now)
        title, lines = single.title, single.text.splitlines()
    else:
        parts = []
        if late:
            parts.append(f"просрочено: {late}")
        if len(rows) - late:
            parts.append(f"срок истекает: {len(rows) - late}")
        n = count(len(rows), "инцидент", "инцидента", "инцидентов")
        title = f"Сроки ответа: {n} — {', '.join(parts)}"
        lines = _digest_lines(rows, tz, None)
    details = _digest_details(items, AUDIENCE_RECIPIENT)
    details.update({"recipient": recipient_id, "recipient_name": recipient_name, "level": level})
    incidents = [item.incident for item in items]
    return Alert(
        id=stable_id(
            "overdue-recipient", recipient_id, *sorted("|".join(map(str, k)) for k in told_keys(items))
        ),
        kind=AlertKind.overdue,
        severity=min(DIGEST_MAX_SEVERITY, OVERDUE_SEVERITY[level]),
        title=title,
        text="\n".join(lines),
        event_at=max(step.due_at for _, step in rows),
        sector=_common(i.sector for i in incidents),
        territory=_common(i.territory for i in incidents),
        incident_id=incidents[0].id if len(incidents) == 1 else None,
        post_ids=[p for i in incidents for p in i.post_ids[:3]][:MAX_ALERT_POSTS],
        details=details,
        **_created(now),
    )


def head_overdue_digest(
    items: Sequence[OverdueItem],
    recipient_names: Mapping[str, str],
    *,
    tz: str = "Europe/Moscow",
    now: datetime | None = None,
) -> Alert:
    """Return the head of the centre's one digest of a run: incidents newly at step 3 or 4."""
    rows = [(item.incident, item.steps[-1]) for item in items]
    at_cur = sum(1 for _, step in rows if step.level >= 4)
    n = count(len(rows), "инцидент", "инцидента", "инцидентов")
    parts = []
    if len(rows) - at_cur:
        parts.append(f"главе МЦУ: {len(rows) - at_cur}")
    if at_cur:
        parts.append(f"для ЦУР: {at_cur}")
    title = f"Просрочены ответы: {n} ({', '.join(parts)})"
    lines = _digest_lines(rows, tz, recipient_names)
    incidents = [item.incident for item in items]
    return Alert(
        id=stable_id("overdue-digest", *sorted("|".join(map(str, k)) for k in told_keys(items))),
        kind=AlertKind.overdue,
        severity=min(DIGEST_MAX_SEVERITY, 7 + (1 if at_cur else 0)),
        title=title,
        text="\n".join(lines),
        event_at=max(step.due_at for _, step in rows),
        sector=_common(i.sector for i in incidents),
        territory=_common(i.territory for i in incidents),
        incident_id=incidents[0].id if len(incidents) == 1 else None,
        post_ids=[p for i in incidents for p in i.post_ids[:3]][:MAX_ALERT_POSTS],
        details=_digest_details(items, AUDIENCE_HEAD),
        **_created(now),
    )


def told_keys(items: Sequence[OverdueItem]) -> list[StepKey]:
    """Return the keys of every step of `items`."""
    return [key for item in items for key in item.step_keys()]


def _common(values: Any) -> str | None:
    """Return the one value all items share, else None (a mixed digest passes every filter)."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def escalation_alerts(
    items: Sequence[OverdueItem],
    recipient_names: Mapping[str, str],
    *,
    told: frozenset[StepKey] | set[StepKey] = frozenset(),
    tz: str = "Europe/Moscow",
    now: datetime | None = None,
) -> list[Alert]:
    """Return the alerts of one escalation run — no noise however many incidents fall due at once.

    - a critical incident: its own alert at its highest new step (to the head, and at steps 1–2 to its
      recipient, at step 2 to the recipient's head);
    - every other incident newly at step 1 or 2: one alert per recipient listing them all;
    - every other incident newly at step 3 or 4: one digest for the head of the centre.
    Steps in `told` (already in a stored alert) are not told again.
    """
    fresh: list[OverdueItem] = []
    for item in items:
        steps = tuple(s for s in item.steps if step_key(item.incident.id, s) not in told)
        if steps:
            fresh.append(OverdueItem(item.incident, steps))
    alerts: list[Alert] = []
    by_recipient: dict[str, list[OverdueItem]] = {}
    to_head: list[OverdueItem] = []
    for item in fresh:
        if item.incident.priority == Priority.critical:
            single = overdue_alert(item.incident, item.steps[-1], tz=tz, now=now)
            single.details["steps"] = [list(k) for k in item.step_keys()]
            alerts.append(single)
            continue
        if any(s.level in RECIPIENT_LEVELS for s in item.steps):
            by_recipient.setdefault(item.incident.recipient or "", []).append(item)
        if item.steps[-1].level in HEAD_LEVELS:
            to_head.append(item)
    for recipient_id, group in sorted(by_recipient.items()):
        name = recipient_names.get(recipient_id)
        alerts.append(recipient_overdue_alert(recipient_id, name, group, tz=tz, now=now))
    if to_head:
        alerts.append(head_overdue_digest(to_head, recipient_names, tz=tz, now=now))
    return alerts


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
