"""Monitoring indicators for a period and a slice: volumes, shares, tension, incidents, recipients' rating.

Every formula is written down in docs/indicators.md. Volumes of slices the rollups hold (sector,
territory, source) come from `Store.counts`; everything that needs a post's own fields (kind, tone,
topic, page, the routed recipient, the incident a message belongs to) comes from one ordered scan of
the period's posts (`scan_posts`), bounded by the store's own filters. Thresholds come from
`Profile.indicators` (IndicatorNorms).
"""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from itertools import chain

from pydantic import BaseModel, Field

from index.models import Incident, Kind, Post, Priority, Tone, as_utc
from index.profile import Profile
from index.store import CountField, CountRow, FacetField, IncidentQuery, PostQuery, Store
from risk.deadlines import calendar_for
from risk.incidents import OPEN_STATUSES, open_deadline, route

#: Posts read per store call during a scan.
SCAN_BATCH = 2000
#: Incidents read per store call.
INCIDENT_BATCH = 500
#: The most posts one scan reads (beyond it the per-post figures are marked as truncated).
MAX_SCAN_POSTS = 300_000
#: A territory with up to this many parts is read one place at a time (see `SliceFilter.store_queries`).
MAX_TERRITORY_QUERIES = 64
#: Threads read per period to judge satisfaction after answers.
MAX_SATISFACTION_THREADS = 300
#: Example posts kept per sector and per topic, and resonant publications kept.
EXAMPLES_KEPT = 3
RESONANT_KEPT = 10
#: Topics listed in the indicators.
TOPICS_LISTED = 20

#: Russian names of kinds and tones for tables and texts.
KIND_NAMES: dict[str, str] = {
    Kind.complaint.value: "жалобы",
    Kind.question.value: "вопросы",
    Kind.suggestion.value: "предложения",
    Kind.gratitude.value: "благодарности",
    Kind.information.value: "информация",
}
TONE_NAMES: dict[str, str] = {
    Tone.negative.value: "негативная",
    Tone.neutral.value: "нейтральная",
    Tone.positive.value: "позитивная",
}


# Slices ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """Which messages and incidents an indicator covers; every given field must match (AND)."""

    sector: str | None = None
    topic: str | None = None
    territory: str | None = None  # the territory and everything under it in the profile's tree
    source: str | None = None
    recipient: str | None = None  # messages the routing rules give to it; incidents assigned to it
    page_id: str | None = None  # messages on this official page (its posts and the comments under them)

    def rollup_ready(self) -> bool:
        """Return whether volumes of this slice can be read from the rollups alone."""
        return self.topic is None and self.recipient is None and self.page_id is None

    def label(self, profile: Profile) -> str:
        """Return a Russian description of the slice ("сектор ЖКХ, территория Северный район")."""
        parts: list[str] = []
        if self.sector:
            parts.append(f"сектор «{self.sector}»")
        if self.topic:
            parts.append(f"тема «{self.topic}»")
        if self.territory:
            node = profile.territory(self.territory)
            parts.append(f"территория «{node.name if node else self.territory}»")
        if self.source:
            parts.append(f"источник {self.source}")
        if self.recipient:
            recipient = profile.recipient(self.recipient)
            parts.append(f"исполнитель «{recipient.name if recipient else self.recipient}»")
        if self.page_id:
            page = next((p for p in profile.pages if p.id == self.page_id), None)
            parts.append(f"страница «{page.name if page else self.page_id}»")
        return ", ".join(parts) or "все сообщения"


def territory_ids(profile: Profile, territory: str | None) -> frozenset[str] | None:
    """Return the territory and every territory under it (None: no territory filter)."""
    if territory is None:
        return None
    node = profile.territory(territory)
    if node is None:
        return frozenset({territory})
    out: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        out.add(current.id)
        stack.extend(current.children)
    return frozenset(out)


@dataclass(frozen=True)
class SliceFilter:
    """A slice resolved against the profile, ready to test posts and incidents."""

    slice: Slice
    profile: Profile
    territories: frozenset[str] | None

    @classmethod
    def of(cls, sl: Slice, profile: Profile) -> SliceFilter:
        """Resolve `sl` against `profile`."""
        return cls(sl, profile, territory_ids(profile, sl.territory))

    def store_query(self, since: datetime, until: datetime, territory: str | None = None) -> PostQuery:
        """Return the narrowest PostQuery the store can run for this slice (the rest is `post_matches`)."""
        single = (
            next(iter(self.territories))
            if self.territories is not None and len(self.territories) == 1
            else territory
        )
        return PostQuery(
            since=since,
            until=until,
            sector=self.slice.sector,
            territory=single,
            source=self.slice.source,
            page_id=self.slice.page_id,
            newest_first=False,
        )

    def store_queries(self, since: datetime, until: datetime) -> list[PostQuery]:
        """Return store queries that together read the slice: one per territory of a territory with parts.

        The store filters one territory at a time; a district with its settlements is read as one query
        per place instead of every post of the period (on a million posts a month of one district reads
        thousands of posts, not the whole city).
        """
        if self.territories is not None and 1 < len(self.territories) <= MAX_TERRITORY_QUERIES:
            return [self.store_query(since, until, t) for t in sorted(self.territories)]
        return [self.store_query(since, until)]

    def post_matches(self, post: Post) -> bool:
        """Return whether a post belongs to the slice."""
        sl = self.slice
        if sl.sector is not None and post.sector != sl.sector:
            return False
        if sl.topic is not None and post.topic != sl.topic:
            return False
        if self.territories is not None and post.territory not in self.territories:
            return False
        if sl.source is not None and post.source != sl.source:
            return False
        if sl.page_id is not None and post.page_id != sl.page_id:
            return False
        return not (
            sl.recipient is not None
            and (post.is_official or not post.sector or route(post, self.profile) != sl.recipient)
        )

    def incident_matches(self, incident: Incident, post_ids: frozenset[str] | None) -> bool:
        """Return whether an incident belongs to the slice (source and page: through its messages)."""
        sl = self.slice
        if sl.sector is not None and incident.sector != sl.sector:
            return False
        if sl.topic is not None and incident.topic != sl.topic:
            return False
        if self.territories is not None and incident.territory not in self.territories:
            return False
        if sl.recipient is not None and incident.recipient != sl.recipient:
            return False
        if (sl.source is not None or sl.page_id is not None) and post_ids is not None:
            return any(pid in post_ids for pid in incident.post_ids)
        return True

    def row_matches(self, row: CountRow) -> bool:
        """Return whether a rollup row (by sector, territory, source) belongs to a rollup-ready slice."""
        sl = self.slice
        if sl.sector is not None and row.sector != sl.sector:
            return False
        if self.territories is not None and row.territory not in self.territories:
            return False
        return sl.source is None or row.source == sl.source


# Reading the store -------------------------------------------------------------------------------


def iter_posts(store: Store, query: PostQuery, batch: int = SCAN_BATCH) -> Iterator[Post]:
    """Yield every post matching `query` oldest first, reading pages by publication time (keyset)."""
    cursor = query.since
    offset = 0  # posts already yielded that were published exactly at `cursor`
    while True:
        page = store.query_posts(
            PostQuery(
                text=query.text,
                since=cursor,
                until=query.until,
                sector=query.sector,
                territory=query.territory,
                source=query.source,
                kind=query.kind,
                tone=query.tone,
                page_id=query.page_id,
                thread_id=query.thread_id,
                story_id=query.story_id,
                ids=query.ids,
                limit=batch,
                offset=offset,
                newest_first=False,
            )
        )
        yield from page.items
        if len(page.items) < batch:
            return
        last = page.items[-1].published_at
        if cursor is not None and last == cursor:
            offset += len(page.items)
        else:
            cursor = last
            offset = sum(1 for p in page.items if p.published_at == last)


def iter_incidents(store: Store, query: IncidentQuery) -> Iterator[Incident]:
    """Yield every incident matching `query`, page by page."""
    offset = 0
    while True:
        page = store.query_incidents(
            IncidentQuery(
                status=query.status,
                recipient=query.recipient,
                sector=query.sector,
                territory=query.territory,
                since=query.since,
                until=query.until,
                overdue_at=query.overdue_at,
                limit=INCIDENT_BATCH,
                offset=offset,
            )
        )
        yield from page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return


def whole_hours(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """Return [since, until) widened to whole UTC hours, the granularity of the count rollups."""
    start = as_utc(since).replace(minute=0, second=0, microsecond=0)
    end = as_utc(until)
    if end != end.replace(minute=0, second=0, microsecond=0):
        end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return start, end


def local_days(since: datetime, until: datetime, tz: tzinfo) -> list[date]:
    """Return every local calendar day touched by [since, until), in order."""
    first = since.astimezone(tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def change_pct(current: int, previous: int) -> float | None:
    """Return the change from `previous` to `current` in percent (one decimal), None when previous is 0."""
    if not previous:
        return None
    return round(100.0 * (current - previous) / previous, 1)


def share(part: int, whole: int, digits: int = 4) -> float | None:
    """Return part / whole rounded, or None when whole is 0."""
    return round(part / whole, digits) if whole else None


# The scan ----------------------------------------------------------------------------------------


def reach_of(post: Post) -> int:
    """Return a post's reach: views when known, else the page's followers, else 0."""
    return post.metrics.reach()


def engagement_of(post: Post) -> int:
    """Return a post's reactions: likes + reposts + comments."""
    m = post.metrics
    return int((m.likes or 0) + (m.reposts or 0) + (m.comments or 0))


class _Top:
    """The k posts with the largest reach (ties: older first), kept in a heap."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._heap: list[tuple[int, int, float, str, Post]] = []

    def add(self, post: Post) -> None:
        """Offer a post."""
        key = (reach_of(post), engagement_of(post), -post.published_at.timestamp(), post.id, post)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, key)
        elif key[:4] > self._heap[0][:4]:
            heapq.heapreplace(self._heap, key)

    def posts(self) -> list[Post]:
        """Return the kept posts, largest reach first."""
        return [item[-1] for item in sorted(self._heap, key=lambda t: t[:4], reverse=True)]


@dataclass
class PeriodScan:
    """What one pass over the posts of a period and slice found."""

    since: datetime
    until: datetime
    total: int = 0
    official: int = 0
    tension_hits: int = 0  # messages belonging to incidents of the tension priorities
    by_kind: Counter[str | None] = field(default_factory=Counter)
    by_tone: Counter[str | None] = field(default_factory=Counter)
    by_sector: Counter[str | None] = field(default_factory=Counter)
    by_topic: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    by_territory: Counter[str | None] = field(default_factory=Counter)
    by_source: Counter[str | None] = field(default_factory=Counter)
    by_page: Counter[str | None] = field(default_factory=Counter)
    by_day: Counter[date] = field(default_factory=Counter)
    by_story: Counter[str] = field(default_factory=Counter)
    negative_by_sector: Counter[str | None] = field(default_factory=Counter)
    post_ids: set[str] = field(default_factory=set)
    truncated: bool = False
    examples_by_sector: dict[str | None, _Top] = field(default_factory=dict)
    examples_by_topic: dict[tuple[str | None, str | None], _Top] = field(default_factory=dict)
    examples_by_story: dict[str, _Top] = field(default_factory=dict)
    resonant: _Top = field(default_factory=lambda: _Top(RESONANT_KEPT))

    def examples(self, sector: str | None, topic: str | None = None, *, k: int = EXAMPLES_KEPT) -> list[Post]:
        """Return example posts of a sector (or of one of its topics), largest reach first."""
        top = self.examples_by_topic.get((sector, topic)) if topic else self.examples_by_sector.get(sector)
        return top.posts()[:k] if top else []


def _is_example(post: Post) -> bool:
    """Return whether a post can illustrate what citizens say: a citizen's message with text."""
    return not post.is_official and bool(post.text.strip()) and post.duplicate_of is None


def scan_posts(
    store: Store,
    since: datetime,
    until: datetime,
    flt: SliceFilter,
    tz: tzinfo,
    *,
    tension_ids: frozenset[str] = frozenset(),
    keep_examples: bool = True,
    keep_ids: bool = False,
    max_posts: int = MAX_SCAN_POSTS,
) -> PeriodScan:
    """Read the posts of [since, until) in the slice once and count everything the indicators need.

    When neither examples nor ids are wanted and the slice is rollup-ready (sector, territory, source),
    the counts are made inside the store (`count_in_store`) and no post is read.
    """
    if not keep_examples and not keep_ids and flt.slice.rollup_ready():
        return count_in_store(store, since, until, flt, tension_ids=tension_ids)
    scan = PeriodScan(since=since, until=until)
    read = 0
    for post in chain.from_iterable(iter_posts(store, q) for q in flt.store_queries(since, until)):
        read += 1
        if read > max_posts:
            scan.truncated = True
            break
        if not flt.post_matches(post):
            continue
        scan.total += 1
        scan.official += post.is_official
        scan.tension_hits += post.id in tension_ids
        scan.by_kind[post.kind.value if post.kind else None] += 1
        scan.by_tone[post.tone.value if post.tone else None] += 1
        scan.by_sector[post.sector] += 1
        scan.by_topic[(post.sector, post.topic)] += 1
        scan.by_territory[post.territory] += 1
        scan.by_source[post.source] += 1
        scan.by_page[post.page_id] += 1
        scan.by_day[post.published_at.astimezone(tz).date()] += 1
        if post.tone == Tone.negative:
            scan.negative_by_sector[post.sector] += 1
        if post.story_id and not post.is_official:
            scan.by_story[post.story_id] += 1
        if keep_ids:
            scan.post_ids.add(post.id)
        if keep_examples:
            scan.resonant.add(post)
            if _is_example(post):
                scan.examples_by_sector.setdefault(post.sector, _Top(EXAMPLES_KEPT)).add(post)
                if post.topic:
                    key = (post.sector, post.topic)
                    scan.examples_by_topic.setdefault(key, _Top(EXAMPLES_KEPT)).add(post)
                if post.story_id:
                    scan.examples_by_story.setdefault(post.story_id, _Top(EXAMPLES_KEPT)).add(post)
    return scan


#: The fields one period's counts are grouped by in the store (see `count_in_store`).
_COUNT_FACETS: tuple[FacetField, ...] = (
    "is_official",
    "kind",
    "tone",
    "sector",
    "topic",
    "territory",
    "source",
    "page_id",
    "story_id",
)


def count_in_store(
    store: Store,
    since: datetime,
    until: datetime,
    flt: SliceFilter,
    *,
    tension_ids: frozenset[str] = frozenset(),
) -> PeriodScan:
    """Return the counts of `scan_posts` for a rollup-ready slice, grouped inside the store.

    The same figures as reading every post (without examples, ids and days): a few GROUP BY queries
    (aggregations in Elasticsearch) per territory instead of one parsed post per message: one grouping by
    every field at once (one pass over the period's rows) and one for the tension messages.
    """
    scan = PeriodScan(since=since, until=until)

    def inside(values: dict[str, str | bool | None]) -> bool:
        return flt.territories is None or values.get("territory") in flt.territories

    for query in flt.store_queries(since, until):
        for row in store.post_facets(query, _COUNT_FACETS):
            v, n = row.values, row.count
            if not inside(v):
                continue
            sector, tone = _text(v["sector"]), _text(v["tone"])
            scan.total += n
            scan.official += n if v["is_official"] else 0
            scan.by_kind[_text(v["kind"])] += n
            scan.by_tone[tone] += n
            scan.by_sector[sector] += n
            scan.by_topic[(sector, _text(v["topic"]))] += n
            scan.by_territory[_text(v["territory"])] += n
            scan.by_source[_text(v["source"])] += n
            scan.by_page[_text(v["page_id"])] += n
            if tone == Tone.negative.value:
                scan.negative_by_sector[sector] += n
            story = _text(v["story_id"])
            if story and not v["is_official"]:
                scan.by_story[story] += n
        if tension_ids:
            hits = store.post_facets(replace(query, ids=sorted(tension_ids)), ("territory",))
            scan.tension_hits += sum(row.count for row in hits if inside(row.values))
    return scan


def _text(value: str | bool | None) -> str | None:
    """Return a facet value as text (None stays None)."""
    return None if value is None else str(value)


# Result models -----------------------------------------------------------------------------------


class CountItem(BaseModel):
    """A number of messages for one value of a slice (None: not determined)."""

    key: str | None
    count: int


class ShareItem(BaseModel):
    """A number of messages for one value and its share of the period's total."""

    key: str | None
    count: int
    share: float | None = Field(description="Доля от всех сообщений периода (0..1)")


class ChangeItem(BaseModel):
    """A number of messages for one value, the previous period's and the change."""

    key: str | None
    count: int
    previous: int
    change_pct: float | None = Field(description="Изменение в процентах; нет, если раньше было 0")
    share: float | None = Field(default=None, description="Доля от всех сообщений периода (0..1)")


class TopicItem(BaseModel):
    """A topic within its sector, with the previous period's count and the change."""

    sector: str | None
    topic: str | None
    count: int
    previous: int
    change_pct: float | None
    share: float | None


class DayCount(BaseModel):
    """A number of messages on one local day."""

    day: date
    count: int


class VolumeIndicators(BaseModel):
    """Message volume in the period and its change against the previous period of equal length."""

    total: int
    previous_total: int
    change: int
    change_pct: float | None = Field(description="Изменение в процентах; нет, если раньше было 0")
    by_sector: list[CountItem]
    by_territory: list[CountItem]
    by_day: list[DayCount]
    by_source: list[CountItem] = Field(default_factory=list)
    from_rollups: bool = Field(default=True, description="Объёмы взяты из почасовых агрегатов")


class TensionIndex(BaseModel):
    """Social-tension index: messages of high and critical incidents over all messages."""

    index: float | None = Field(description="(высокие + критические) / всего, 0..1")
    high_critical: int
    total: int
    previous_index: float | None
    change_pp: float | None = Field(description="Изменение в процентных пунктах")


class Satisfaction(BaseModel):
    """Citizens' reaction after the first answer, per incident."""

    satisfied: int
    dissatisfied: int
    share: float | None = Field(description="Довольные / (довольные + недовольные)")


class IncidentIndicators(BaseModel):
    """Incidents opened in the period and how they were answered."""

    opened: int
    answered: int = Field(description="Получили первый ответ")
    answered_on_time: int = Field(description="Первый ответ не позже срока")
    overdue: int = Field(description="Открыты, и срок ответа уже истёк")
    open: int = Field(description="Ещё открыты")
    share_answered_on_time: float | None = Field(description="Доля открытых за период, отвеченных в срок")
    share_overdue: float | None = Field(default=None, description="Доля просроченных на текущий момент")
    first_answer_avg_hours: float | None = Field(
        default=None, description="Среднее время до первого ответа, рабочие часы"
    )
    first_answer_median_hours: float | None = Field(
        default=None, description="Медиана времени до первого ответа, рабочие часы"
    )
    final_answered: int = Field(default=0, description="Получили окончательный ответ")
    share_final: float | None = Field(default=None, description="Доля с окончательным ответом")
    by_priority: dict[str, int] = Field(default_factory=dict)
    satisfaction: Satisfaction | None = None


class RecipientRating(BaseModel):
    """One responsible recipient in the rating: count, timeliness and completeness of answers."""

    recipient: str
    name: str
    incidents: int
    answered: int
    answered_on_time: int
    overdue: int
    final_answered: int
    first_answer_avg_hours: float | None
    first_answer_median_hours: float | None
    timeliness: float | None = Field(description="Отвечено в срок / инцидентов")
    completeness: float | None = Field(description="С окончательным ответом / инцидентов")
    score: float | None = Field(description="Балл 0..100 (веса из профиля); нет, если не оценивается")
    rated: bool = Field(description="Оценивается: инцидентов не меньше порога")
    rank: int | None = None


class SliceModel(BaseModel):
    """The slice the indicators were computed for."""

    sector: str | None = None
    topic: str | None = None
    territory: str | None = None
    source: str | None = None
    recipient: str | None = None
    page_id: str | None = None
    label: str = "все сообщения"


class Indicators(BaseModel):
    """Monitoring indicators for a period [since, until) and a slice."""

    since: datetime
    until: datetime
    previous_since: datetime
    now: datetime
    timezone: str
    slice: SliceModel = Field(default_factory=SliceModel)
    volume: VolumeIndicators
    kinds: list[ShareItem] = Field(default_factory=list)
    tones: list[ShareItem] = Field(default_factory=list)
    negative_share: float | None = None
    topics: list[TopicItem] = Field(default_factory=list)
    pages: list[CountItem] = Field(default_factory=list)
    tension: TensionIndex | None = None
    incidents: IncidentIndicators
    recipients: list[RecipientRating] = Field(default_factory=list)
    scanned: int = Field(default=0, description="Сколько сообщений прочитано для долей и тем")
    truncated: bool = Field(default=False, description="Прочитаны не все сообщения периода")


# Volumes -----------------------------------------------------------------------------------------


def _ranked(counter: Counter[str | None]) -> list[CountItem]:
    """Return counter items largest first, ties by key (None last)."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [CountItem(key=k, count=v) for k, v in items if v]


def _shares(counter: Counter[str | None], total: int, order: Sequence[str]) -> list[ShareItem]:
    """Return a share per known value in `order`, then None (not determined) when present."""
    keys: list[str | None] = [*order, *sorted(k for k in counter if k is not None and k not in order)]
    out = [ShareItem(key=k, count=counter.get(k, 0), share=share(counter.get(k, 0), total)) for k in keys]
    if counter.get(None):
        out.append(ShareItem(key=None, count=counter[None], share=share(counter[None], total)))
    return out


def rollup_rows(store: Store, since: datetime, until: datetime, flt: SliceFilter) -> list[CountRow]:
    """Return hourly rollup rows by sector, territory and source of a rollup-ready slice."""
    by: tuple[CountField, ...] = ("sector", "territory", "source")
    return [r for r in store.counts(since, until, by=by, bucket="hour") if flt.row_matches(r)]


def volume_from_rows(
    rows: Iterable[CountRow], previous_total: int, since: datetime, until: datetime, tz: tzinfo
) -> VolumeIndicators:
    """Return the volume indicators from hourly rollup rows of the period."""
    total = 0
    sectors: Counter[str | None] = Counter()
    territories: Counter[str | None] = Counter()
    sources: Counter[str | None] = Counter()
    days: Counter[date] = Counter()
    for row in rows:
        total += row.count
        sectors[row.sector] += row.count
        territories[row.territory] += row.count
        sources[row.source] += row.count
        days[row.bucket.astimezone(tz).date()] += row.count
    return VolumeIndicators(
        total=total,
        previous_total=previous_total,
        change=total - previous_total,
        change_pct=change_pct(total, previous_total),
        by_sector=_ranked(sectors),
        by_territory=_ranked(territories),
        by_day=[DayCount(day=d, count=days.get(d, 0)) for d in local_days(since, until, tz)],
        by_source=_ranked(sources),
        from_rollups=True,
    )


def volume_from_scan(
    scan: PeriodScan, previous: PeriodScan, since: datetime, until: datetime, tz: tzinfo
) -> VolumeIndicators:
    """Return the volume indicators from a scan (slices the rollups do not hold)."""
    return VolumeIndicators(
        total=scan.total,
        previous_total=previous.total,
        change=scan.total - previous.total,
        change_pct=change_pct(scan.total, previous.total),
        by_sector=_ranked(scan.by_sector),
        by_territory=_ranked(scan.by_territory),
        by_day=[DayCount(day=d, count=scan.by_day.get(d, 0)) for d in local_days(since, until, tz)],
        by_source=_ranked(scan.by_source),
        from_rollups=False,
    )


def topic_items(scan: PeriodScan, previous: PeriodScan, limit: int = TOPICS_LISTED) -> list[TopicItem]:
    """Return the largest topics (messages with a topic) with their change, largest first."""
    ranked = sorted(
        ((key, n) for key, n in scan.by_topic.items() if key[1] is not None),
        key=lambda kv: (-kv[1], kv[0][0] or "", kv[0][1] or ""),
    )
    return [
        TopicItem(
            sector=sector,
            topic=topic,
            count=n,
            previous=previous.by_topic.get((sector, topic), 0),
            change_pct=change_pct(n, previous.by_topic.get((sector, topic), 0)),
            share=share(n, scan.total),
        )
        for (sector, topic), n in ranked[:limit]
    ]


# Incidents ---------------------------------------------------------------------------------------


def answered_on_time(incident: Incident) -> bool:
    """Return whether the first answer came no later than its deadline (no deadline: any answer)."""
    if incident.first_answered_at is None:
        return False
    due = incident.first_answer_due
    return due is None or incident.first_answered_at <= due


def is_overdue(incident: Incident, now: datetime) -> bool:
    """Return whether the deadline the incident's status waits for passed before `now`."""
    deadline = open_deadline(incident)
    return deadline is not None and deadline[1] < now


def first_answer_hours(incident: Incident, profile: Profile) -> float | None:
    """Return the working hours from the first message to the first answer, on the recipient's calendar."""
    if incident.first_answered_at is None:
        return None
    calendar = calendar_for(profile, incident.recipient)
    return max(0.0, calendar.working_hours_between(incident.created_at, incident.first_answered_at))


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _mean(values: Sequence[float]) -> float | None:
    return _round(statistics.fmean(values)) if values else None


def _median(values: Sequence[float]) -> float | None:
    return _round(statistics.median(values)) if values else None


def incident_figures(
    incidents: Sequence[Incident],
    now: datetime,
    profile: Profile,
    satisfaction: Satisfaction | None = None,
) -> IncidentIndicators:
    """Return the incident indicators over `incidents` (those opened in the period and slice)."""
    opened = len(incidents)
    hours = [h for i in incidents if (h := first_answer_hours(i, profile)) is not None]
    on_time = sum(answered_on_time(i) for i in incidents)
    overdue = sum(is_overdue(i, now) for i in incidents)
    final = sum(i.final_answered_at is not None for i in incidents)
    priorities = Counter(i.priority.value for i in incidents)
    return IncidentIndicators(
        opened=opened,
        answered=sum(i.first_answered_at is not None for i in incidents),
        answered_on_time=on_time,
        overdue=overdue,
        open=sum(i.status in OPEN_STATUSES for i in incidents),
        share_answered_on_time=share(on_time, opened),
        share_overdue=share(overdue, opened),
        first_answer_avg_hours=_mean(hours),
        first_answer_median_hours=_median(hours),
        final_answered=final,
        share_final=share(final, opened),
        by_priority={p.value: priorities.get(p.value, 0) for p in Priority},
        satisfaction=satisfaction,
    )


def recipient_rating(incidents: Sequence[Incident], now: datetime, profile: Profile) -> list[RecipientRating]:
    """Return the rating of responsible recipients over the period's incidents (rated: ≥ the minimum).

    score = 100 × (w_timeliness × timeliness + w_completeness × completeness) / (sum of weights); rated
    recipients are ranked by score, then by count; the others follow unranked, by count.
    """
    norms = profile.indicators
    groups: dict[str, list[Incident]] = {}
    for incident in incidents:
        if incident.recipient:
            groups.setdefault(incident.recipient, []).append(incident)
    w_time = norms.rating_weights.get("timeliness", 0.5)
    w_full = norms.rating_weights.get("completeness", 0.5)
    weight = (w_time + w_full) or 1.0
    rows: list[RecipientRating] = []
    for recipient_id, items in groups.items():
        figures = incident_figures(items, now, profile)
        n = len(items)
        timeliness = share(figures.answered_on_time, n)
        completeness = share(figures.final_answered, n)
        rated = n >= norms.rating_min_incidents
        score = (
            round(100.0 * (w_time * (timeliness or 0.0) + w_full * (completeness or 0.0)) / weight, 1)
            if rated
            else None
        )
        recipient = profile.recipient(recipient_id)
        rows.append(
            RecipientRating(
                recipient=recipient_id,
                name=recipient.name if recipient else recipient_id,
                incidents=n,
                answered=figures.answered,
                answered_on_time=figures.answered_on_time,
                overdue=figures.overdue,
                final_answered=figures.final_answered,
                first_answer_avg_hours=figures.first_answer_avg_hours,
                first_answer_median_hours=figures.first_answer_median_hours,
                timeliness=timeliness,
                completeness=completeness,
                score=score,
                rated=rated,
            )
        )
    rows.sort(key=lambda r: (not r.rated, -(r.score or 0.0), -r.incidents, r.recipient))
    for rank, row in enumerate((r for r in rows if r.rated), start=1):
        row.rank = rank
    return rows


def _reaction(post: Post) -> int:
    """Return +1 for a satisfied reaction (gratitude, positive), −1 for a dissatisfied one, else 0."""
    if post.kind == Kind.gratitude or post.tone == Tone.positive:
        return 1
    if post.kind == Kind.complaint or post.tone == Tone.negative:
        return -1
    return 0


def satisfaction_after_answers(store: Store, incidents: Sequence[Incident]) -> Satisfaction:
    """Return how citizens reacted after the first answer of each answered incident.

    An incident counts as dissatisfied when it was reopened; otherwise its reactions are the citizens'
    messages attached after the first answer and the citizens' replies to an official message in its
    threads after the first answer: gratitude or positive tone +1, complaint or negative tone −1. The sum
    decides (0 or no reactions: unknown, not counted).
    """
    answered = [i for i in incidents if i.first_answered_at is not None]
    ids = [pid for i in answered for pid in i.post_ids]
    posts: dict[str, Post] = {}
    for start in range(0, len(ids), SCAN_BATCH):
        chunk = ids[start : start + SCAN_BATCH]
        posts.update((p.id, p) for p in store.query_posts(PostQuery(ids=chunk, limit=len(chunk))).items)
    threads_read = 0
    satisfied = dissatisfied = 0
    for incident in answered:
        answered_at = incident.first_answered_at
        assert answered_at is not None
        if any(entry.action == "переоткрыт" for entry in incident.audit):
            dissatisfied += 1
            continue
        score = 0
        own = [posts[pid] for pid in incident.post_ids if pid in posts]
        score += sum(_reaction(p) for p in own if p.published_at > answered_at)
        for thread_id in sorted({p.thread_id for p in own if p.thread_id}):
            if threads_read >= MAX_SATISFACTION_THREADS:
                break
            threads_read += 1
            thread = store.query_posts(PostQuery(thread_id=thread_id, since=answered_at, limit=500)).items
            official = {p.id for p in thread if p.is_official}
            score += sum(
                _reaction(p)
                for p in thread
                if not p.is_official and p.parent_id in official and p.id not in incident.post_ids
            )
        if score > 0:
            satisfied += 1
        elif score < 0:
            dissatisfied += 1
    return Satisfaction(
        satisfied=satisfied, dissatisfied=dissatisfied, share=share(satisfied, satisfied + dissatisfied)
    )


def tension_post_ids(
    store: Store, since: datetime, until: datetime, profile: Profile
) -> tuple[frozenset[str], list[Incident]]:
    """Return the ids of messages in incidents of the tension priorities opened in the look-back window,
    and every incident opened from `since` minus the look-back to `until`."""
    lookback = timedelta(days=profile.indicators.incident_lookback_days)
    incidents = list(iter_incidents(store, IncidentQuery(since=since - lookback, until=until)))
    levels = set(profile.indicators.tension_priorities)
    ids = frozenset(pid for i in incidents if i.priority.value in levels for pid in i.post_ids)
    return ids, incidents


def tension_index(scan: PeriodScan, previous: PeriodScan) -> TensionIndex:
    """Return the social-tension index of the period and its change in percentage points."""
    index = share(scan.tension_hits, scan.total)
    before = share(previous.tension_hits, previous.total)
    change = round(100.0 * (index - before), 1) if index is not None and before is not None else None
    return TensionIndex(
        index=index,
        high_critical=scan.tension_hits,
        total=scan.total,
        previous_index=before,
        change_pp=change,
    )


# Everything together -----------------------------------------------------------------------------


@dataclass
class PeriodData:
    """The raw material of the indicators and the reports of one period and slice."""

    since: datetime
    until: datetime
    previous_since: datetime
    flt: SliceFilter
    scan: PeriodScan
    previous: PeriodScan
    incidents: list[Incident]  # opened in the period, in the slice
    rows: list[CountRow] | None  # hourly rollup rows of the period (rollup-ready slices)
    previous_rollup_total: int | None


def collect_period(
    store: Store,
    profile: Profile,
    since: datetime,
    until: datetime,
    tz: tzinfo,
    sl: Slice | None = None,
    *,
    keep_examples: bool = True,
) -> PeriodData:
    """Read what the period [since, until) (widened to whole hours) and the previous one hold."""
    since, until = whole_hours(since, until)
    previous_since = since - (until - since)
    flt = SliceFilter.of(sl or Slice(), profile)
    tension_ids, recent = tension_post_ids(store, previous_since, until, profile)
    needs_ids = flt.slice.source is not None or flt.slice.page_id is not None
    scan = scan_posts(
        store, since, until, flt, tz, tension_ids=tension_ids, keep_examples=keep_examples, keep_ids=needs_ids
    )
    previous = scan_posts(store, previous_since, since, flt, tz, tension_ids=tension_ids, keep_examples=False)
    post_ids = frozenset(scan.post_ids) if needs_ids else None
    incidents = [i for i in recent if since <= i.created_at < until and flt.incident_matches(i, post_ids)]
    rows: list[CountRow] | None = None
    previous_total: int | None = None
    if flt.slice.rollup_ready():
        rows = rollup_rows(store, since, until, flt)
        previous_total = sum(r.count for r in rollup_rows(store, previous_since, since, flt))
    return PeriodData(since, until, previous_since, flt, scan, previous, incidents, rows, previous_total)


def indicators_from(
    data: PeriodData, store: Store, profile: Profile, now: datetime, tz: tzinfo
) -> Indicators:
    """Return the indicators of collected period data."""
    scan, previous, flt = data.scan, data.previous, data.flt
    if data.rows is not None and data.previous_rollup_total is not None:
        volume = volume_from_rows(data.rows, data.previous_rollup_total, data.since, data.until, tz)
    else:
        volume = volume_from_scan(scan, previous, data.since, data.until, tz)
    kinds = _shares(scan.by_kind, scan.total, [k.value for k in Kind])
    tones = _shares(scan.by_tone, scan.total, [t.value for t in Tone])
    sl = flt.slice
    return Indicators(
        since=data.since,
        until=data.until,
        previous_since=data.previous_since,
        now=now,
        timezone=str(tz),
        slice=SliceModel(
            sector=sl.sector,
            topic=sl.topic,
            territory=sl.territory,
            source=sl.source,
            recipient=sl.recipient,
            page_id=sl.page_id,
            label=sl.label(profile),
        ),
        volume=volume,
        kinds=kinds,
        tones=tones,
        negative_share=share(scan.by_tone.get(Tone.negative.value, 0), scan.total),
        topics=topic_items(scan, previous),
        pages=_ranked(Counter({k: v for k, v in scan.by_page.items() if k is not None})),
        tension=tension_index(scan, previous),
        incidents=incident_figures(
            data.incidents, now, profile, satisfaction_after_answers(store, data.incidents)
        ),
        recipients=recipient_rating(data.incidents, now, profile),
        scanned=scan.total,
        truncated=scan.truncated,
    )


def compute_indicators(
    store: Store,
    profile: Profile,
    since: datetime,
    until: datetime,
    now: datetime,
    tz: tzinfo,
    sl: Slice | None = None,
) -> Indicators:
    """Return every indicator for [since, until) (widened to whole hours) and the slice, as seen at `now`."""
    data = collect_period(store, profile, since, until, tz, sl, keep_examples=False)
    return indicators_from(data, store, profile, as_utc(now), tz)
