"""Справки on request and the weekly analytic note: the content, built from the indicators' data.

Structure (research: the weekly summaries regional ЦУРs publish): header (period, slice, sources); key
numbers with the change against the previous period; channels; top topics with counts, shares, change
and example posts; territories; tone; resonant publications with reach; incidents, deadlines and
overdue; recipients' performance; госпаблики (weekly note); risks and recommendations drawn from the
data. Volumes come from the rollups, everything else from one bounded scan (risk.indicators), so a
справка stays fast on a large store. Citizens' names and contacts are pseudonymised unless the reader
may see them. Rendering: risk.report_md (Markdown), risk.report_docx (DOCX with charts).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from index.models import AlertKind, Incident, Post, Tone, as_utc
from index.profile import Profile
from index.store import AlertQuery, Store
from risk.alerts import count as count_words
from risk.alerts import decimal
from risk.incidents import PRIORITY_NAMES, STATUS_NAMES, open_deadline
from risk.indicators import (
    KIND_NAMES,
    TONE_NAMES,
    ChangeItem,
    Indicators,
    PeriodData,
    RecipientRating,
    ShareItem,
    Slice,
    change_pct,
    collect_period,
    engagement_of,
    indicators_from,
    is_overdue,
    share,
)
from risk.pages import PageHealth, pages_health
from risk.personal import author_label, mask_text

ReportKind = Literal["reference", "weekly"]

#: Rows of the tables.
TOP_TOPICS = 5
TOP_TERRITORIES = 10
TOP_RESONANT = 5
TOP_OVERDUE = 10
EXAMPLES_PER_TOPIC = 2
SUBTOPICS = 3
#: Characters of an example's text.
EXAMPLE_CHARS = 300
#: Alerts read for the risks section.
ALERTS_READ = 200
#: A tension index rise that counts as a risk, in percentage points.
TENSION_RISE_PP = 5.0

SOURCE_NAMES: dict[str, str] = {
    "vk": "ВКонтакте",
    "tg": "Telegram",
    "ok": "Одноклассники",
    "web": "СМИ и сайты",
    "im": "Инцидент Менеджмент",
    "pos": "ПОС",
    "demo": "демо",
}
MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


class ReportExample(BaseModel):
    """A message quoted in a report."""

    post_id: str
    published_at: datetime
    local_time: str
    source: str
    author: str
    text: str
    url: str | None = None
    reach: int = 0
    engagement: int = 0


class TopicRow(BaseModel):
    """A topic (a sector, or a topic within the requested sector) with its change and examples."""

    key: str | None
    title: str
    count: int
    share: float | None
    previous: int
    change_pct: float | None
    subtopics: list[str] = Field(default_factory=list)
    examples: list[ReportExample] = Field(default_factory=list)


class NamedChange(ChangeItem):
    """A count with a human name (a territory's, a channel's)."""

    name: str


class IncidentLine(BaseModel):
    """An incident listed in a report."""

    id: str
    title: str
    recipient: str
    priority: str
    status: str
    deadline: str
    messages: int
    overdue: bool


class KeyNumber(BaseModel):
    """One of the key numbers at the top of a report."""

    label: str
    value: str
    note: str = ""


class Report(BaseModel):
    """A справка or the weekly note, ready to be rendered."""

    kind: ReportKind
    title: str
    subtitle: str
    period_label: str
    since: datetime
    until: datetime
    generated_at: datetime
    timezone: str
    slice_label: str
    sources_label: str
    pseudonymised: bool
    indicators: Indicators
    key_numbers: list[KeyNumber]
    channels: list[NamedChange]
    topics: list[TopicRow]
    territories: list[NamedChange]
    tones: list[ShareItem]
    kinds: list[ShareItem]
    resonant: list[ReportExample]
    incidents_overdue: list[IncidentLine]
    incidents_overdue_total: int
    recipients: list[RecipientRating]
    pages: list[PageHealth] | None = None
    pages_unanswered: int | None = None
    alerts: dict[str, int] = Field(default_factory=dict)
    risks: list[str]
    recommendations: list[str]


# Formatting --------------------------------------------------------------------------------------


def day_label(d: date) -> str:
    """Return «2 ноября 2026 г.»."""
    return f"{d.day} {MONTHS_GENITIVE[d.month - 1]} {d.year} г."


def period_label(since: datetime, until: datetime, tz: tzinfo) -> str:
    """Return the local period «с 2 по 8 ноября 2026 г.» (until is exclusive)."""
    first = since.astimezone(tz)
    last = (until - timedelta(microseconds=1)).astimezone(tz)
    if first.date() == last.date():
        return f"{day_label(first.date())}"
    if (first.year, first.month) == (last.year, last.month):
        return f"с {first.day} по {day_label(last.date())}"
    if first.year == last.year:
        return f"с {first.day} {MONTHS_GENITIVE[first.month - 1]} по {day_label(last.date())}"
    return f"с {day_label(first.date())} по {day_label(last.date())}"


def pct(value: float | None, digits: int = 1) -> str:
    """Return a share 0..1 as «12,5 %», or «—»."""
    return "—" if value is None else f"{decimal(100.0 * value, digits)} %"


def change_label(value: float | None) -> str:
    """Return a change in percent as «+12,5 %» / «−3 %», or «—» (nothing before)."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{decimal(abs(value))} %"


def number(n: int | float) -> str:
    """Return a number with thin-space thousands (12 345)."""
    if isinstance(n, float) and not n.is_integer():
        return decimal(n, 2)
    return f"{int(n):,}".replace(",", "\u00a0")


def _clean(text: str | None) -> str:
    return " ".join((text or "не определён").replace("★", "").split())


def _short(text: str, limit: int = EXAMPLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def example_of(post: Post, tz: tzinfo, reveal: bool) -> ReportExample:
    """Return a quoted message, pseudonymised unless `reveal`."""
    text = _short(post.text)
    return ReportExample(
        post_id=post.id,
        published_at=post.published_at,
        local_time=post.published_at.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
        source=SOURCE_NAMES.get(post.source, post.source),
        author=author_label(post.author_id, post.author_name, reveal=reveal, official=post.is_official),
        text=text if reveal or post.is_official else mask_text(text),
        url=post.url,
        reach=post.metrics.reach(),
        engagement=engagement_of(post),
    )


# Sections ----------------------------------------------------------------------------------------


def _named(
    current: Counter[str | None], previous: Counter[str | None], total: int, names: dict[str, str], limit: int
) -> list[NamedChange]:
    ranked = sorted(current.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))[:limit]
    return [
        NamedChange(
            key=key,
            name=names.get(key, key) if key else "не определено",
            count=n,
            previous=previous.get(key, 0),
            change_pct=change_pct(n, previous.get(key, 0)),
            share=share(n, total),
        )
        for key, n in ranked
        if n
    ]


def _topics(data: PeriodData, tz: tzinfo, reveal: bool) -> list[TopicRow]:
    """Return the top sectors (or, for a sector slice, its topics) with sub-issues and examples."""
    scan, previous = data.scan, data.previous
    rows: list[TopicRow] = []
    if data.flt.slice.sector is None:
        citizen = Counter({k: v for k, v in scan.by_sector.items() if k is not None})
        for sector, n in sorted(citizen.items(), key=lambda kv: (-kv[1], kv[0] or ""))[:TOP_TOPICS]:
            subs = sorted(
                ((t, c) for (s, t), c in scan.by_topic.items() if s == sector and t),
                key=lambda kv: (-kv[1], kv[0] or ""),
            )
            rows.append(
                TopicRow(
                    key=sector,
                    title=_clean(sector),
                    count=n,
                    share=share(n, scan.total),
                    previous=previous.by_sector.get(sector, 0),
                    change_pct=change_pct(n, previous.by_sector.get(sector, 0)),
                    subtopics=[f"{_clean(t)} ({c})" for t, c in subs[:SUBTOPICS]],
                    examples=[example_of(p, tz, reveal) for p in scan.examples(sector)[:EXAMPLES_PER_TOPIC]],
                )
            )
        return rows
    topics = sorted(
        ((key, n) for key, n in scan.by_topic.items() if key[1]), key=lambda kv: (-kv[1], kv[0][1] or "")
    )
    for (topic_sector, topic), n in topics[:TOP_TOPICS]:
        before = previous.by_topic.get((topic_sector, topic), 0)
        rows.append(
            TopicRow(
                key=topic,
                title=_clean(topic),
                count=n,
                share=share(n, scan.total),
                previous=before,
                change_pct=change_pct(n, before),
                examples=[
                    example_of(p, tz, reveal) for p in scan.examples(topic_sector, topic)[:EXAMPLES_PER_TOPIC]
                ],
            )
        )
    return rows


def _incident_line(incident: Incident, profile: Profile, now: datetime, tz: tzinfo) -> IncidentLine:
    deadline = open_deadline(incident)
    return IncidentLine(
        id=incident.id,
        title=incident.title,
        recipient=_recipient_name(profile, incident.recipient),
        priority=PRIORITY_NAMES[incident.priority],
        status=STATUS_NAMES[incident.status],
        deadline=deadline[1].astimezone(tz).strftime("%d.%m.%Y %H:%M") if deadline else "—",
        messages=len(incident.post_ids),
        overdue=is_overdue(incident, now),
    )


def _recipient_name(profile: Profile, recipient_id: str | None) -> str:
    recipient = profile.recipient(recipient_id) if recipient_id else None
    return recipient.name if recipient else (recipient_id or "не назначен")


def _alerts(store: Store, since: datetime, until: datetime) -> dict[str, int]:
    """Return the number of alerts of each kind about events of the period."""
    counts: Counter[str] = Counter()
    for alert in store.query_alerts(AlertQuery(since=since - timedelta(days=1), limit=ALERTS_READ)).items:
        moment = alert.event_at or alert.created_at
        if since <= moment < until:
            counts[alert.kind.value] += 1
    return dict(counts)


def _risks(
    ind: Indicators,
    topics: list[TopicRow],
    territories: list[NamedChange],
    overdue: list[Incident],
    profile: Profile,
    alerts: dict[str, int],
    pages: list[PageHealth] | None,
    unanswered: int | None,
) -> tuple[list[str], list[str]]:
    """Return the risks and the recommendations the data of the period point to."""
    norms = profile.indicators
    risks: list[str] = []
    advice: list[str] = []
    for row in topics:
        if row.count >= norms.rising_min_count and (
            row.change_pct is None or row.change_pct >= norms.rising_change_pct
        ):
            trend = change_label(row.change_pct) if row.change_pct is not None else "новая тема"
            risks.append(f"Рост обращений по теме «{row.title}»: {number(row.count)} ({trend}).")
            advice.append(
                f"Подготовить на официальных страницах разъяснение по теме «{row.title}»: что известно, "
                "кто занимается, сроки."
            )
    tension = ind.tension
    if tension is not None and tension.change_pp is not None and tension.change_pp >= TENSION_RISE_PP:
        risks.append(
            f"Индекс социальной напряжённости вырос до {pct(tension.index)} "
            f"(+{decimal(tension.change_pp)} п. п.)."
        )
        rising = [
            t.name
            for t in territories
            if t.change_pct is not None and t.change_pct >= norms.rising_change_pct
        ]
        where = f": {', '.join(rising[:3])}" if rising else ""
        advice.append(f"Взять на контроль территории с ростом обращений{where}.")
    if overdue:
        by_recipient = Counter(_recipient_name(profile, i.recipient) for i in overdue)
        worst, n = by_recipient.most_common(1)[0]
        risks.append(
            f"Просрочено {count_words(len(overdue), 'инцидент', 'инцидента', 'инцидентов')}; "
            f"больше всего — у исполнителя «{worst}» ({n})."
        )
        advice.append(
            f"Потребовать ответы по просроченным инцидентам от «{worst}» и проверить причины задержек."
        )
    if alerts.get(AlertKind.conflict.value):
        n = alerts[AlertKind.conflict.value]
        risks.append(f"Конфликтные обсуждения: {n}.")
        advice.append(
            "Отработать комментарии в конфликтных обсуждениях под публикациями официальных страниц."
        )
    if alerts.get(AlertKind.spike.value):
        risks.append(f"Всплески сообщений: {alerts[AlertKind.spike.value]}.")
    if pages is not None:
        lagging = [p.name for p in pages if not p.norm_met]
        if lagging:
            risks.append("Ниже нормы публикаций: " + "; ".join(lagging) + ".")
            advice.append("Довести частоту публикаций до нормы: " + "; ".join(lagging) + ".")
    if unanswered:
        risks.append(f"Вопросы и жалобы жителей без ответа в госпабликах: {number(unanswered)}.")
        advice.append("Ответить жителям в комментариях официальных страниц, начиная с самых давних.")
    if not risks:
        risks.append("Существенных рисков по данным периода не выявлено.")
    if not advice:
        advice.append("Продолжить мониторинг в обычном режиме.")
    return risks, advice


def _sources_label(ind: Indicators) -> str:
    names = [SOURCE_NAMES.get(c.key or "", c.key or "не определён") for c in ind.volume.by_source]
    return ", ".join(names) if names else "нет сообщений"


def _key_numbers(ind: Indicators) -> list[KeyNumber]:
    v, inc, tension = ind.volume, ind.incidents, ind.tension
    out = [
        KeyNumber(
            label="Сообщений за период",
            value=number(v.total),
            note=f"{change_label(v.change_pct)} к предыдущему периоду ({number(v.previous_total)})",
        ),
        KeyNumber(
            label="Негативных",
            value=pct(ind.negative_share),
            note=f"{number(next((t.count for t in ind.tones if t.key == Tone.negative.value), 0))} сообщений",
        ),
    ]
    if tension is not None:
        note = "" if tension.change_pp is None else f"{'+' if tension.change_pp >= 0 else '−'}"
        note = f"{note}{decimal(abs(tension.change_pp))} п. п." if tension.change_pp is not None else ""
        out.append(KeyNumber(label="Индекс социальной напряжённости", value=pct(tension.index), note=note))
    out += [
        KeyNumber(label="Инцидентов открыто", value=number(inc.opened)),
        KeyNumber(
            label="Отвечено в срок",
            value=pct(inc.share_answered_on_time),
            note=f"{number(inc.answered_on_time)} из {number(inc.opened)}",
        ),
        KeyNumber(label="Просрочено", value=number(inc.overdue)),
        KeyNumber(
            label="Время до первого ответа",
            value="—"
            if inc.first_answer_avg_hours is None
            else f"{decimal(inc.first_answer_avg_hours)} раб. ч",
            note=""
            if inc.first_answer_median_hours is None
            else f"медиана {decimal(inc.first_answer_median_hours)} раб. ч",
        ),
    ]
    return out


def build_report(
    store: Store,
    profile: Profile,
    kind: ReportKind,
    since: datetime,
    until: datetime,
    now: datetime,
    sl: Slice | None = None,
    *,
    reveal_personal: bool = False,
) -> Report:
    """Return a справка (`reference`) or the weekly note for [since, until) and the slice, at `now`."""
    tz = ZoneInfo(profile.timezone)
    now = as_utc(now)
    data = collect_period(store, profile, since, until, tz, sl)
    ind = indicators_from(data, store, profile, now, tz)
    scan, previous = data.scan, data.previous
    names = {t.id: t.name for t in profile.walk()}
    located: Counter[str | None] = Counter({k: v for k, v in scan.by_territory.items() if k is not None})
    territories = _named(located, previous.by_territory, scan.total, names, TOP_TERRITORIES)
    channels = _named(scan.by_source, previous.by_source, scan.total, SOURCE_NAMES, 20)
    topics = _topics(data, tz, reveal_personal)
    overdue = sorted((i for i in data.incidents if is_overdue(i, now)), key=lambda i: i.created_at)
    pages: list[PageHealth] | None = None
    unanswered: int | None = None
    if kind == "weekly":
        health = pages_health(store, profile, data.since, data.until, now, unanswered_limit=0)
        pages, unanswered = health.pages, health.unanswered_total
    alerts = _alerts(store, data.since, data.until)
    risks, advice = _risks(ind, topics, territories, overdue, profile, alerts, pages, unanswered)
    slice_label = ind.slice.label
    if kind == "weekly":
        title = "Еженедельная аналитическая записка"
        subtitle = f"о состоянии информационного поля: {profile.name}"
    else:
        title = "Справка"
        subtitle = f"{slice_label}: {profile.name}" if slice_label != "все сообщения" else profile.name
    return Report(
        kind=kind,
        title=title,
        subtitle=subtitle,
        period_label=period_label(data.since, data.until, tz),
        since=data.since,
        until=data.until,
        generated_at=now,
        timezone=profile.timezone,
        slice_label=slice_label,
        sources_label=_sources_label(ind),
        pseudonymised=not reveal_personal,
        indicators=ind,
        key_numbers=_key_numbers(ind),
        channels=channels,
        topics=topics,
        territories=territories,
        tones=ind.tones,
        kinds=ind.kinds,
        resonant=[example_of(p, tz, reveal_personal) for p in scan.resonant.posts()[:TOP_RESONANT]],
        incidents_overdue=[_incident_line(i, profile, now, tz) for i in overdue[:TOP_OVERDUE]],
        incidents_overdue_total=len(overdue),
        recipients=ind.recipients,
        pages=pages,
        pages_unanswered=unanswered,
        alerts=alerts,
        risks=risks,
        recommendations=advice,
    )


def last_week(now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """Return the last full local week (Monday 00:00 to Monday 00:00) before `now`."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    end = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    return end - timedelta(days=7), end


__all__ = [
    "KIND_NAMES",
    "TONE_NAMES",
    "Report",
    "ReportKind",
    "build_report",
    "last_week",
    "period_label",
]
