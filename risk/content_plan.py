"""The content plan of the official pages for a week: slots at the audience's hours, topics ranked by need.

- Slots: each page gets `norm` slots (its posts-per-week norm) spread over the week (5: Mon–Fri, 3: Mon,
  Wed, Fri, 2: Tue, Thu, 1: Wed; more than 5: every day, then a second hour), at the local hours when
  its audience reacts most: citizens' comments on the page by local hour over the history window
  (`plan_history_days`), between 08:00 and 21:00; with fewer than MIN_PAGE_REACTIONS comments, the
  citizens' messages on every source by hour (rollups); with none, DEFAULT_HOURS.
- Suggestions, each with a reason, evidence (counts, example posts) and key points, ranked by score:
  rising concerns (a sector's topic with ≥ `rising_min_count` citizen messages in the last 7 days and a
  change ≥ `rising_change_pct` against the 7 days before, or new): score = count × (1 + min(change, 300)
  / 100); stories (near-duplicate clusters with ≥ STORY_MIN messages): 1.5 × count; open incidents of
  high or critical priority, or overdue: messages × (3 critical, 2 high, 1) × (1.5 if overdue); silent
  sectors (≥ `plan_silent_min_count` citizen messages, no page post in 7 days): count; planned events of
  the profile (announcement before, results after): EVENT_SCORE.
- The list is ranked by need: the best suggestion of each kind in turn (events, incidents, concerns,
  silent sectors, stories), each kind by its score.
- Pages fit topics: a page whose own posts are ≥ 60 % one sector (or one territory) takes only that
  sector's (territory's) topics; the others take any. Each slot gets the best fitting suggestion not yet
  on that page, preferring suggestions fewer pages carry.
- The information lead's decisions (accept / move / drop) are stored per slot and applied on top.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from index.models import (
    Incident,
    IncidentStatus,
    OfficialPage,
    PlanAction,
    PlanDecision,
    Post,
    Priority,
    stable_id,
    utcnow,
)
from index.profile import PlannedEvent, Profile
from index.store import IncidentQuery, PostQuery, Store
from risk.alerts import count as count_words
from risk.incidents import OPEN_STATUSES, PRIORITY_NAMES
from risk.indicators import change_pct, engagement_of, is_overdue, iter_incidents, iter_posts
from risk.pages import official_pages, page_norm
from risk.spreadsheet import append_xlsx_row, csv_rows

#: Local hours a slot may take.
FIRST_HOUR, LAST_HOUR = 8, 21
#: Hours used when nothing tells when the audience is active.
DEFAULT_HOURS = (10, 13, 19)
#: Citizens' comments a page needs in its history for its own hours to be used.
MIN_PAGE_REACTIONS = 20
#: A page is specialised in a sector or territory when this share of its own posts is about it.
SPECIALISED_SHARE = 0.6
#: Messages a story needs to become a suggestion.
STORY_MIN = 5
#: Messages of an incident that count in its score (a flood of copies should not crowd out the rest).
INCIDENT_MESSAGES_CAP = 50
#: Score of a planned event.
EVENT_SCORE = 60.0
#: Suggestions listed with the plan.
SUGGESTIONS_LISTED = 30
#: Weekdays (0 = Monday) of the slots for each norm up to 5.
DAY_PATTERNS: dict[int, tuple[int, ...]] = {
    1: (2,),
    2: (1, 3),
    3: (0, 2, 4),
    4: (0, 1, 3, 4),
    5: (0, 1, 2, 3, 4),
}

SuggestionKind = Literal["concern", "story", "incident", "silent_sector", "event"]
SlotStatus = Literal["proposed", "accepted", "moved", "dropped"]
KIND_TITLES: dict[str, str] = {
    "concern": "растущая тема",
    "story": "сюжет",
    "incident": "инцидент",
    "silent_sector": "молчание страниц",
    "event": "мероприятие",
}
STATUS_TITLES: dict[str, str] = {
    "proposed": "предложен",
    "accepted": "принят",
    "moved": "перенесён",
    "dropped": "отменён",
}


class PlanError(ValueError):
    """A decision the plan cannot take (message in Russian)."""


class PlanExample(BaseModel):
    """A message that shows what citizens say."""

    post_id: str
    published_at: datetime
    text: str
    url: str | None = None
    reach: int = 0


class PlanSuggestion(BaseModel):
    """A topic to cover, why, the evidence and what to say."""

    id: str
    kind: SuggestionKind
    title: str
    reason: str
    evidence: dict[str, int | float | str | None] = Field(default_factory=dict)
    examples: list[PlanExample] = Field(default_factory=list)
    key_points: list[str] = Field(default_factory=list)
    score: float
    sector: str | None = None
    territory: str | None = None
    page_ids: list[str] = Field(default_factory=list, description="Для каких страниц (пусто — любых)")
    not_before: datetime | None = None
    not_after: datetime | None = None


class PlanSlot(BaseModel):
    """One planned publication on one page."""

    id: str
    page_id: str
    page_name: str
    network: str
    at: datetime
    local_time: str
    planned_at: datetime = Field(description="Время, предложенное системой")
    status: SlotStatus = "proposed"
    suggestion: PlanSuggestion | None = None
    title: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str = ""


class PagePlan(BaseModel):
    """How a page's slots were placed."""

    page_id: str
    name: str
    norm_per_week: int
    best_hours: list[int]
    hours_source: Literal["history", "citizens", "default"]
    sector: str | None = Field(default=None, description="Профиль страницы по её публикациям")
    territory: str | None = None


class ContentPlan(BaseModel):
    """The content plan of one week."""

    week: str
    week_start: datetime
    week_end: datetime
    timezone: str
    generated_at: datetime
    pages: list[PagePlan]
    slots: list[PlanSlot]
    suggestions: list[PlanSuggestion]


def week_of(moment: datetime, tz: tzinfo) -> date:
    """Return the Monday of the local week holding `moment`."""
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def next_week(now: datetime, tz: tzinfo) -> date:
    """Return the Monday of the week after the one holding `now` (the coming week)."""
    return week_of(now, tz) + timedelta(days=7)


def parse_week(value: str) -> date:
    """Return the Monday of the week holding the ISO date `value`; raise PlanError for a bad date."""
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise PlanError(f"неделя задаётся датой ГГГГ-ММ-ДД, получено «{value}»") from exc
    return day - timedelta(days=day.weekday())


# History -----------------------------------------------------------------------------------------


class _History:
    """What the plan needs from the last weeks: per-page activity, citizens' and pages' topics."""

    def __init__(self) -> None:
        self.page_hours: dict[str, Counter[int]] = {}
        self.page_sectors: dict[str, Counter[str | None]] = {}
        self.page_territories: dict[str, Counter[str | None]] = {}
        self.page_posts: Counter[str] = Counter()
        self.citizen_hours: Counter[int] = Counter()
        self.week: Counter[tuple[str, str | None]] = Counter()  # (sector, topic) of citizens, last 7 days
        self.previous: Counter[tuple[str, str | None]] = Counter()  # the 7 days before
        self.sector_week: Counter[str] = Counter()
        self.official_sector_week: Counter[str] = Counter()
        self.territory_week: dict[tuple[str, str | None], Counter[str | None]] = {}
        self.stories: Counter[str] = Counter()
        self.story_sector: dict[str, str | None] = {}
        self.examples: dict[object, list[Post]] = {}

    def keep_example(self, key: object, post: Post, k: int = 3) -> None:
        items = self.examples.setdefault(key, [])
        items.append(post)
        if len(items) > 4 * k:
            items.sort(key=lambda p: (-(p.metrics.reach() + engagement_of(p)), p.published_at))
            del items[k:]

    def top_examples(self, key: object, k: int = 2) -> list[PlanExample]:
        items = sorted(
            self.examples.get(key, []),
            key=lambda p: (-(p.metrics.reach() + engagement_of(p)), p.published_at),
        )
        return [
            PlanExample(
                post_id=p.id,
                published_at=p.published_at,
                text=p.text[:400],
                url=p.url,
                reach=p.metrics.reach(),
            )
            for p in items[:k]
        ]


def _read_history(store: Store, since: datetime, until: datetime, tz: tzinfo) -> _History:
    """Read the posts of [since, until) once and tally what the plan needs."""
    h = _History()
    week_start = until - timedelta(days=7)
    previous_start = until - timedelta(days=14)
    for post in iter_posts(store, PostQuery(since=since, until=until, newest_first=False)):
        hour = post.published_at.astimezone(tz).hour
        page = post.page_id
        if post.is_official:
            if page and post.parent_id is None:
                h.page_posts[page] += 1
                h.page_sectors.setdefault(page, Counter())[post.sector] += 1
                h.page_territories.setdefault(page, Counter())[post.territory] += 1
                if post.sector and post.published_at >= week_start:
                    h.official_sector_week[post.sector] += 1
            continue
        h.citizen_hours[hour] += 1
        if page and post.parent_id is not None:
            h.page_hours.setdefault(page, Counter())[hour] += 1
        if not post.sector:
            continue
        key = (post.sector, post.topic)
        if post.published_at >= week_start:
            h.week[key] += 1
            h.sector_week[post.sector] += 1
            h.territory_week.setdefault(key, Counter())[post.territory] += 1
            if post.text.strip():
                h.keep_example(key, post)
                h.keep_example(post.sector, post)
            if post.story_id:
                h.stories[post.story_id] += 1
                h.story_sector[post.story_id] = post.sector
                h.keep_example(("story", post.story_id), post)
        elif post.published_at >= previous_start:
            h.previous[key] += 1
    return h


def best_hours(reactions: Counter[int], limit: int = 3) -> list[int]:
    """Return the local hours between FIRST_HOUR and LAST_HOUR with the most reactions (ties: earlier)."""
    hours = [h for h in range(FIRST_HOUR, LAST_HOUR + 1) if reactions.get(h, 0) > 0]
    return sorted(hours, key=lambda h: (-reactions[h], h))[:limit]


def _page_hours(
    page: OfficialPage, history: _History
) -> tuple[list[int], Literal["history", "citizens", "default"]]:
    own = history.page_hours.get(page.id, Counter())
    if sum(own.values()) >= MIN_PAGE_REACTIONS:
        return best_hours(own), "history"
    if history.citizen_hours:
        return best_hours(history.citizen_hours), "citizens"
    return list(DEFAULT_HOURS), "default"


def _specialisation(counter: Counter[str | None] | None) -> str | None:
    if not counter:
        return None
    total = sum(counter.values())
    key, n = max(counter.items(), key=lambda kv: (kv[1], kv[0] or ""))
    return key if key is not None and n / total >= SPECIALISED_SHARE else None


# Suggestions -------------------------------------------------------------------------------------


def _top_territory(
    history: _History, key: tuple[str, str | None], profile: Profile
) -> tuple[str | None, str]:
    counter = history.territory_week.get(key, Counter())
    known = [(t, n) for t, n in counter.items() if t]
    if not known:
        return None, ""
    territory, _ = max(known, key=lambda kv: (kv[1], kv[0] or ""))
    node = profile.territory(territory) if territory else None
    return territory, node.name if node else (territory or "")


def _concerns(history: _History, profile: Profile) -> list[PlanSuggestion]:
    norms = profile.indicators
    out: list[PlanSuggestion] = []
    for (sector, topic), n in history.week.items():
        if n < norms.rising_min_count:
            continue
        before = history.previous.get((sector, topic), 0)
        change = change_pct(n, before)
        if change is not None and change < norms.rising_change_pct:
            continue
        growth = min(change, 300.0) if change is not None else 100.0
        territory, where = _top_territory(history, (sector, topic), profile)
        subject = topic or sector
        trend = f"+{change:g} % к предыдущим 7 дням" if change is not None else "раньше почти не писали"
        out.append(
            PlanSuggestion(
                id=stable_id("concern", sector, topic),
                kind="concern",
                title=f"{_clean(subject)}: что происходит и что делается",
                reason=f"Жители пишут чаще: {count_words(n, 'сообщение', 'сообщения', 'сообщений')} "
                f"за 7 дней ({trend})" + (f", больше всего — {where}" if where else ""),
                evidence={
                    "messages_7d": n,
                    "messages_prev_7d": before,
                    "change_pct": change,
                    "territory": where,
                },
                examples=history.top_examples((sector, topic)),
                key_points=[
                    "что известно о проблеме и где она",
                    "какие службы занимаются и в какие сроки",
                    "куда обращаться жителям и как следить за ходом работ",
                ],
                score=round(n * (1.0 + growth / 100.0), 2),
                sector=sector,
                territory=territory,
            )
        )
    return out


def _stories(history: _History) -> list[PlanSuggestion]:
    out: list[PlanSuggestion] = []
    for story_id, n in history.stories.items():
        if n < STORY_MIN:
            continue
        examples = history.top_examples(("story", story_id))
        head = examples[0].text if examples else "обсуждаемый сюжет"
        out.append(
            PlanSuggestion(
                id=stable_id("story", story_id),
                kind="story",
                title=f"Ответ на обсуждаемый сюжет: «{_short(head, 70)}»",
                reason=f"Похожие сообщения повторяются: {n} за 7 дней",
                evidence={"messages_7d": n, "story_id": story_id},
                examples=examples,
                key_points=["позиция администрации", "факты и сроки", "что делать жителям"],
                score=round(1.5 * n, 2),
                sector=history.story_sector.get(story_id),
            )
        )
    return out


def _incidents(
    store: Store, profile: Profile, since: datetime, now: datetime, tz: tzinfo
) -> list[PlanSuggestion]:
    out: list[PlanSuggestion] = []
    query = IncidentQuery(status=sorted(OPEN_STATUSES), since=since)
    for incident in iter_incidents(store, query):
        overdue = is_overdue(incident, now)
        if incident.priority == Priority.normal and not overdue:
            continue
        weight = {Priority.critical: 3.0, Priority.high: 2.0}.get(incident.priority, 1.0)
        score = min(len(incident.post_ids), INCIDENT_MESSAGES_CAP) * weight * (1.5 if overdue else 1.0)
        recipient = profile.recipient(incident.recipient) if incident.recipient else None
        who = recipient.name if recipient else "ответственный не назначен"
        due = (
            incident.final_answer_due
            if incident.status == IncidentStatus.interim
            else incident.first_answer_due
        )
        due_text = due.astimezone(tz).strftime("%d.%m %H:%M") if due else "не задан"
        state = "срок ответа истёк" if overdue else f"срок ответа {due_text}"
        messages = count_words(len(incident.post_ids), "обращение", "обращения", "обращений")
        level = PRIORITY_NAMES[incident.priority]
        out.append(
            PlanSuggestion(
                id=stable_id("incident", incident.id),
                kind="incident",
                title=f"Разъяснение: {incident.title}",
                reason=f"Открытый инцидент, {messages}, приоритет {level}, {state}",
                evidence={
                    "incident_id": incident.id,
                    "messages": len(incident.post_ids),
                    "priority": incident.priority.value,
                    "overdue": int(overdue),
                },
                key_points=_incident_points(incident, who, due_text),
                score=round(score, 2),
                sector=incident.sector,
                territory=incident.territory,
            )
        )
    return out


def _incident_points(incident: Incident, who: str, due_text: str) -> list[str]:
    return [
        f"что случилось и где: {incident.place or incident.title}",
        f"кто отвечает: {who}",
        "что уже сделано и когда решат",
        f"срок ответа: {due_text}",
    ]


def _silent(history: _History, profile: Profile) -> list[PlanSuggestion]:
    out: list[PlanSuggestion] = []
    for sector, n in history.sector_week.items():
        if n < profile.indicators.plan_silent_min_count or history.official_sector_week.get(sector, 0):
            continue
        out.append(
            PlanSuggestion(
                id=stable_id("silent", sector),
                kind="silent_sector",
                title=f"{_clean(sector)}: рассказать, что делается",
                reason=f"Жители написали {count_words(n, 'сообщение', 'сообщения', 'сообщений')} за 7 дней, "
                "а страницы — ни одной публикации по сектору",
                evidence={"messages_7d": n, "page_posts_7d": 0},
                examples=history.top_examples(sector),
                key_points=["плановые работы и их сроки", "ответы на частые вопросы", "контакты служб"],
                score=float(n),
                sector=sector,
            )
        )
    return out


def _event_start(event: PlannedEvent, tz: tzinfo) -> datetime:
    return event.start if event.start.tzinfo else event.start.replace(tzinfo=tz)


def _events(profile: Profile, week_start: datetime, week_end: datetime, tz: tzinfo) -> list[PlanSuggestion]:
    out: list[PlanSuggestion] = []
    for event in profile.events:
        start = _event_start(event, tz)
        end = (event.end if event.end is None or event.end.tzinfo else event.end.replace(tzinfo=tz)) or start
        when = start.astimezone(tz).strftime("%d.%m в %H:%M")
        if week_start < start <= week_end + timedelta(days=7):
            out.append(
                PlanSuggestion(
                    id=stable_id("event-before", event.title, start.isoformat()),
                    kind="event",
                    title=f"Анонс: {event.title}",
                    reason=f"Запланировано {when}",
                    evidence={"event_start": start.isoformat()},
                    key_points=[
                        "что, где и когда",
                        "для кого и как попасть",
                        event.description or "контакты",
                    ],
                    score=EVENT_SCORE,
                    sector=event.sector,
                    territory=event.territory,
                    page_ids=list(event.pages),
                    not_after=start,
                )
            )
        if week_start <= end < week_end:
            out.append(
                PlanSuggestion(
                    id=stable_id("event-after", event.title, start.isoformat()),
                    kind="event",
                    title=f"Итоги: {event.title}",
                    reason=f"Мероприятие прошло {when}",
                    evidence={"event_start": start.isoformat()},
                    key_points=["что получилось, цифры и фото", "что дальше"],
                    score=EVENT_SCORE * 0.8,
                    sector=event.sector,
                    territory=event.territory,
                    page_ids=list(event.pages),
                    not_before=end,
                )
            )
    return out


def _clean(text: str | None) -> str:
    return " ".join((text or "").replace("★", "").split())


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def suggestions(
    store: Store,
    profile: Profile,
    history: _History,
    now: datetime,
    week_start: datetime,
    week_end: datetime,
    tz: tzinfo,
) -> list[PlanSuggestion]:
    """Return every suggestion, highest score first."""
    since = now - timedelta(days=profile.indicators.plan_history_days)
    items = [
        *_concerns(history, profile),
        *_stories(history),
        *_incidents(store, profile, since, now, tz),
        *_silent(history, profile),
        *_events(profile, week_start, week_end, tz),
    ]
    return interleave(items)


def interleave(items: Sequence[PlanSuggestion]) -> list[PlanSuggestion]:
    """Return suggestions ranked by need: the best of each kind in turn (events first), each kind by score."""
    order: list[str] = ["event", "incident", "concern", "silent_sector", "story"]
    by_kind = {
        kind: sorted((s for s in items if s.kind == kind), key=lambda s: (-s.score, s.id)) for kind in order
    }
    out: list[PlanSuggestion] = []
    while any(by_kind.values()):
        for kind in order:
            if by_kind[kind]:
                out.append(by_kind[kind].pop(0))
    return out


# Slots -------------------------------------------------------------------------------------------


def slot_days(norm: int) -> list[tuple[int, int]]:
    """Return (weekday, hour rank) of each slot of a page with this weekly norm."""
    if norm <= 0:
        return []
    if norm in DAY_PATTERNS:
        return [(d, 0) for d in DAY_PATTERNS[norm]]
    out = [(d, 0) for d in range(7)]
    extra = norm - 7
    rank = 1
    while extra > 0:
        for d in range(7):
            if extra <= 0:
                break
            out.append((d, rank))
            extra -= 1
        rank += 1
    return sorted(out)


def _fits(suggestion: PlanSuggestion, page: PagePlan, at: datetime) -> bool:
    if suggestion.page_ids and page.page_id not in suggestion.page_ids:
        return False
    if suggestion.not_before is not None and at < suggestion.not_before:
        return False
    if suggestion.not_after is not None and at > suggestion.not_after:
        return False
    if page.sector is not None and suggestion.sector != page.sector:
        return False
    return not (page.territory is not None and suggestion.territory not in (None, page.territory))


def _assign(slots: list[PlanSlot], pages: dict[str, PagePlan], items: Sequence[PlanSuggestion]) -> None:
    rank = {s.id: i for i, s in enumerate(items)}
    used: Counter[str] = Counter()
    on_page: dict[str, set[str]] = {}
    for slot in sorted(slots, key=lambda s: (s.at, s.page_id)):
        page = pages[slot.page_id]
        taken = on_page.setdefault(slot.page_id, set())
        candidates = [s for s in items if s.id not in taken and _fits(s, page, slot.at)]
        if not candidates:
            continue
        best = min(candidates, key=lambda s: (used[s.id], rank[s.id]))
        slot.suggestion = best
        slot.title = best.title
        used[best.id] += 1
        taken.add(best.id)


def _local_label(moment: datetime, tz: tzinfo) -> str:
    names = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
    local = moment.astimezone(tz)
    return f"{names[local.weekday()]} {local:%d.%m %H:%M}"


def _apply_decisions(
    plan_slots: list[PlanSlot], decisions: Sequence[PlanDecision], items: Sequence[PlanSuggestion], tz: tzinfo
) -> None:
    by_slot = {d.slot_id: d for d in decisions}
    by_id = {s.id: s for s in items}
    for slot in plan_slots:
        decision = by_slot.get(slot.id)
        if decision is None:
            continue
        slot.decided_by, slot.decided_at, slot.comment = decision.by, decision.at, decision.comment
        if decision.suggestion_id:
            chosen = by_id.get(decision.suggestion_id)
            if chosen is not None:
                slot.suggestion = chosen
            slot.title = decision.title or (chosen.title if chosen else slot.title)
        if decision.action == PlanAction.drop:
            slot.status = "dropped"
        elif decision.action == PlanAction.move and decision.moved_to is not None:
            slot.status = "moved"
            slot.at = decision.moved_to
            slot.local_time = _local_label(decision.moved_to, tz)
        else:
            slot.status = "accepted"


def build_plan(store: Store, profile: Profile, now: datetime, week: date | None = None) -> ContentPlan:
    """Return the content plan of `week` (a Monday; default the coming week) as seen at `now`."""
    tz = ZoneInfo(profile.timezone)
    monday = week or next_week(now, tz)
    monday = monday - timedelta(days=monday.weekday())
    week_start = datetime.combine(monday, time(0), tzinfo=tz)
    week_end = week_start + timedelta(days=7)
    history_until = min(now, week_start)
    history = _read_history(
        store, history_until - timedelta(days=profile.indicators.plan_history_days), history_until, tz
    )
    items = suggestions(store, profile, history, now, week_start, week_end, tz)
    pages: dict[str, PagePlan] = {}
    slots: list[PlanSlot] = []
    for page in official_pages(profile, store.list_pages()):
        hours, source = _page_hours(page, history)
        plan = PagePlan(
            page_id=page.id,
            name=page.name,
            norm_per_week=page_norm(page, profile),
            best_hours=hours,
            hours_source=source,
            sector=_specialisation(history.page_sectors.get(page.id)),
            territory=_specialisation(history.page_territories.get(page.id)),
        )
        pages[page.id] = plan
        for index, (weekday, rank) in enumerate(slot_days(plan.norm_per_week)):
            hour = hours[min(rank, len(hours) - 1)]
            at = datetime.combine(monday + timedelta(days=weekday), time(hour), tzinfo=tz)
            slots.append(
                PlanSlot(
                    id=stable_id("slot", page.id, monday.isoformat(), index),
                    page_id=page.id,
                    page_name=page.name,
                    network=page.network,
                    at=at.astimezone(ZoneInfo("UTC")),
                    local_time=_local_label(at, tz),
                    planned_at=at.astimezone(ZoneInfo("UTC")),
                    title="свободная тема: полезная информация по профилю страницы",
                )
            )
    _assign(slots, pages, items)
    _apply_decisions(slots, store.list_plan_decisions(monday.isoformat()), items, tz)
    slots.sort(key=lambda s: (s.at, s.page_id))
    return ContentPlan(
        week=monday.isoformat(),
        week_start=week_start,
        week_end=week_end,
        timezone=profile.timezone,
        generated_at=now,
        pages=list(pages.values()),
        slots=slots,
        suggestions=items[:SUGGESTIONS_LISTED],
    )


def decide(
    store: Store,
    profile: Profile,
    plan: ContentPlan,
    slot_id: str,
    action: PlanAction,
    *,
    by: str,
    moved_to: datetime | None = None,
    suggestion_id: str | None = None,
    comment: str = "",
    at: datetime | None = None,
) -> PlanDecision:
    """Store the information lead's decision about a slot of `plan`; raise PlanError when it cannot be."""
    slot = next((s for s in plan.slots if s.id == slot_id), None)
    if slot is None:
        raise PlanError("такого слота нет в плане этой недели")
    if action == PlanAction.move:
        if moved_to is None:
            raise PlanError("для переноса укажите новое время (moved_to)")
        if moved_to.tzinfo is None:
            moved_to = moved_to.replace(tzinfo=ZoneInfo(profile.timezone))
        if not plan.week_start <= moved_to < plan.week_end:
            raise PlanError("новое время должно быть внутри планируемой недели")
    title = None
    if suggestion_id is not None:
        chosen = next((s for s in plan.suggestions if s.id == suggestion_id), None)
        if chosen is None:
            raise PlanError("такой темы нет среди предложений недели")
        title = chosen.title
    elif slot.suggestion is not None:
        suggestion_id, title = slot.suggestion.id, slot.suggestion.title
    decision = PlanDecision(
        slot_id=slot_id,
        week=plan.week,
        page_id=slot.page_id,
        action=action,
        moved_to=moved_to if action == PlanAction.move else None,
        suggestion_id=suggestion_id,
        title=title,
        comment=comment,
        by=by,
        at=at or utcnow(),
    )
    store.save_plan_decision(decision)
    return decision


# Exports -----------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "Неделя",
    "Страница",
    "Сеть",
    "Дата и время",
    "Статус",
    "Тема",
    "Основание",
    "Тезисы",
    "Тип",
)


def export_rows(plan: ContentPlan) -> list[list[str]]:
    """Return the plan as table rows (header first), one per slot."""
    tz = ZoneInfo(plan.timezone)
    rows: list[list[str]] = [list(EXPORT_COLUMNS)]
    for slot in plan.slots:
        s = slot.suggestion
        rows.append(
            [
                plan.week,
                slot.page_name,
                slot.network,
                slot.at.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
                STATUS_TITLES[slot.status],
                slot.title,
                s.reason if s else "",
                "; ".join(s.key_points) if s else "",
                KIND_TITLES[s.kind] if s else "",
            ]
        )
    return rows


def plan_csv(plan: ContentPlan) -> str:
    """Return the plan as CSV (UTF-8 text, «;» separated, as Excel in Russia expects)."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(csv_rows(export_rows(plan)))
    return out.getvalue()


def plan_xlsx(plan: ContentPlan) -> bytes:
    """Return the plan as an XLSX workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = f"План {plan.week}"
    for row in export_rows(plan):
        append_xlsx_row(sheet, row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFGHI", (12, 40, 8, 18, 12, 60, 60, 60, 16), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def plan_ics(plan: ContentPlan, duration_min: int = 30) -> bytes:
    """Return the plan's slots that are not dropped as an iCalendar file."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//Infopole//content plan//RU")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Контент-план {plan.week}")
    for slot in plan.slots:
        if slot.status == "dropped":
            continue
        event = Event()
        event.add("uid", f"{slot.id}@infopole")
        event.add("dtstamp", plan.generated_at)
        event.add("dtstart", slot.at)
        event.add("dtend", slot.at + timedelta(minutes=duration_min))
        event.add("summary", f"[{slot.page_name}] {slot.title}")
        s = slot.suggestion
        lines = [f"Статус: {STATUS_TITLES[slot.status]}"]
        if s is not None:
            lines += [f"Основание: {s.reason}", "Тезисы: " + "; ".join(s.key_points)]
        event.add("description", "\n".join(lines))
        calendar.add_component(event)
    return bytes(calendar.to_ical())
