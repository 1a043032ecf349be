"""The analyst's search: words and filters over a period, found messages by day, slices from the rollups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from api.chart import Chart, HBarChart, column_chart, hbar_chart
from api.search import TOTAL_CAP, to_fulltext
from api.views.common import (
    FormError,
    Period,
    day_start,
    form_int,
    local_time,
    parse_period,
    shown_author,
    shown_text,
    url_with,
)
from api.views.labels import KIND_LABELS, TONE_LABELS, UNKNOWN, source_name
from index.models import Kind, Post, Tone
from index.profile import Profile
from index.store import CountRow, PostQuery, Store

#: Messages per result page.
RESULT_ROWS = 50
#: Longest query text (characters).
MAX_QUERY_CHARS = 500
#: Longest message text shown in the result list (characters); the post page shows it whole.
SNIPPET_CHARS = 600
#: Bars per slice chart.
SLICE_BARS = 12
#: Per-day counts with text, kind or tone filters are counted query by query up to this many days.
MAX_COUNTED_DAYS = 62

#: The filter fields of the search form.
FILTER_FIELDS = ("q", "sector", "territory", "source", "kind", "tone", "since", "until")


@dataclass
class SearchFilters:
    """What the search form asked for."""

    q: str = ""
    sector: str | None = None
    territory: str | None = None
    source: str | None = None
    kind: str | None = None
    tone: str | None = None
    offset: int = 0

    def params(self, period: Period) -> dict[str, str | int | None]:
        """Return the query parameters of these filters and the period (for links)."""
        return {
            "q": self.q or None,
            "sector": self.sector,
            "territory": self.territory,
            "source": self.source,
            "kind": self.kind,
            "tone": self.tone,
            "since": period.first_day.isoformat(),
            "until": period.last_day.isoformat(),
        }


def parse_search(params: Mapping[str, str]) -> SearchFilters:
    """Return the search filters; raise FormError for an unknown kind or tone or a too long query."""
    q = (params.get("q") or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise FormError(f"запрос длиннее {MAX_QUERY_CHARS} символов")
    kind = params.get("kind") or None
    if kind is not None and kind not in {k.value for k in Kind}:
        raise FormError("неизвестный тип сообщения")
    tone = params.get("tone") or None
    if tone is not None and tone not in {t.value for t in Tone}:
        raise FormError("неизвестная тональность")
    return SearchFilters(
        q=q,
        sector=params.get("sector") or None,
        territory=params.get("territory") or None,
        source=params.get("source") or None,
        kind=kind,
        tone=tone,
        offset=form_int(params.get("offset"), "сдвиг", default=0),
    )


@dataclass(frozen=True)
class PostRow:
    """One found message."""

    id: str
    at: str
    source: str
    author: str
    sector: str
    topic: str
    territory: str
    kind: str
    tone: str
    text: str
    cut: bool
    comment: bool
    official: bool
    url: str | None


@dataclass
class SearchPage:
    """The search page: the form's options, the results, the by-day chart and the slices."""

    filters: SearchFilters
    period: Period
    rows: list[PostRow] = field(default_factory=list)
    total: int = 0
    total_exact: bool = True  # False: more than `total` found (the full-text count stops there)
    no_words: bool = False  # the query had no searchable words
    by_day: Chart | None = None
    slices: list[tuple[str, HBarChart]] = field(default_factory=list)
    slice_note: str = ""
    sector_options: list[str] = field(default_factory=list)
    territory_options: list[tuple[str, str]] = field(default_factory=list)
    source_options: list[tuple[str, str]] = field(default_factory=list)
    kind_options: list[tuple[str, str]] = field(default_factory=list)
    tone_options: list[tuple[str, str]] = field(default_factory=list)
    prev_href: str | None = None
    next_href: str | None = None


def territory_name(profile: Profile, territory: str | None) -> str:
    """Return a territory's name from the profile (its id when unknown)."""
    if not territory:
        return UNKNOWN
    node = profile.territory(territory)
    return node.name if node else territory


def post_row(post: Post, profile: Profile, tz: tzinfo, reveal: bool) -> PostRow:
    """Return the result row of a message (contacts masked unless `reveal`)."""
    text = shown_text(post.text, reveal)
    return PostRow(
        id=post.id,
        at=local_time(post.published_at, tz),
        source=source_name(post.source),
        author=shown_author(post.author_id, post.author_name, reveal, post.is_official),
        sector=post.sector or UNKNOWN,
        topic=post.topic or "",
        territory=territory_name(profile, post.territory),
        kind=KIND_LABELS.get(post.kind.value, post.kind.value) if post.kind else UNKNOWN,
        tone=TONE_LABELS.get(post.tone.value, post.tone.value) if post.tone else UNKNOWN,
        text=text[:SNIPPET_CHARS],
        cut=len(text) > SNIPPET_CHARS,
        comment=post.parent_id is not None,
        official=post.is_official,
        url=post.url if post.url and post.url.startswith(("https://", "http://")) else None,
    )


def _query(flt: SearchFilters, text: str | None, since: datetime, until: datetime) -> PostQuery:
    return PostQuery(
        text=text,
        since=since,
        until=until,
        sector=flt.sector,
        territory=flt.territory,
        source=flt.source,
        kind=flt.kind,
        tone=flt.tone,
        limit=RESULT_ROWS,
        offset=flt.offset,
        total_cap=TOTAL_CAP if text else None,
    )


def _days(period: Period) -> list[date]:
    return [period.first_day + timedelta(days=i) for i in range(period.days)]


def search_page(
    store: Store, profile: Profile, params: Mapping[str, str], now: datetime, tz: tzinfo, reveal: bool
) -> SearchPage:
    """Run the search of `params` and lay out the page; raise FormError for bad parameters."""
    flt = parse_search(params)
    period = parse_period(params, now, tz)
    page = SearchPage(filters=flt, period=period)
    text = to_fulltext(flt.q)
    page.no_words = bool(flt.q) and not text
    rows = store.counts(period.since, period.until, by=("sector", "territory", "source"), bucket="hour")
    rows = [
        r
        for r in rows
        if (flt.sector is None or r.sector == flt.sector)
        and (flt.territory is None or r.territory == flt.territory)
        and (flt.source is None or r.source == flt.source)
    ]
    if not page.no_words:
        found = store.query_posts(_query(flt, text, period.since, period.until))
        page.rows = [post_row(p, profile, tz, reveal) for p in found.items]
        page.total = found.total
        page.total_exact = found.total_exact
        page.by_day = _by_day(store, flt, text, period, rows, tz)
    base = flt.params(period)
    page.slices = _slices(rows, profile, base)
    page.slice_note = (
        "Срезы по периоду и выбранным сектору, территории и источнику (без учёта текста, типа и тональности)."
        if (text or flt.kind or flt.tone)
        else "Срезы по найденному."
    )
    sectors = sorted({r.sector for r in store.counts(period.since, period.until, by=("sector",)) if r.sector})
    if flt.sector and flt.sector not in sectors:
        sectors.append(flt.sector)
    page.sector_options = sectors
    page.territory_options = [(t.id, t.name) for t in profile.walk()]
    page.source_options = [(k, source_name(k)) for k in ("vk", "tg", "ok", "web", "im", "pos", "demo")]
    page.kind_options = list(KIND_LABELS.items())
    page.tone_options = list(TONE_LABELS.items())
    if flt.offset > 0:
        page.prev_href = url_with("/ui/search", {**base, "offset": max(flt.offset - RESULT_ROWS, 0)})
    if flt.offset + RESULT_ROWS < page.total:
        page.next_href = url_with("/ui/search", {**base, "offset": flt.offset + RESULT_ROWS})
    return page


def _by_day(
    store: Store, flt: SearchFilters, text: str | None, period: Period, rows: list[CountRow], tz: tzinfo
) -> Chart | None:
    """Return found messages per local day: from the rollups, or counted per day for text/kind/tone."""
    days = _days(period)
    counts: Counter[date] = Counter()
    if text or flt.kind or flt.tone:
        if len(days) > MAX_COUNTED_DAYS:
            return None
        for day in days:
            q = _query(flt, text, day_start(day, tz), day_start(day + timedelta(days=1), tz))
            counts[day] = store.count_posts(q)
    else:
        for row in rows:
            counts[row.bucket.astimezone(tz).date()] += row.count
    labels = [f"{d:%d.%m}" for d in days]
    return column_chart(labels, [counts.get(d, 0) for d in days], titles=None)


def _slices(
    rows: list[CountRow], profile: Profile, base: dict[str, str | int | None]
) -> list[tuple[str, HBarChart]]:
    """Return ranked bar charts by sector, territory and source, each bar a link that narrows the search."""
    out: list[tuple[str, HBarChart]] = []
    for fld, title in (
        ("sector", "По секторам"),
        ("territory", "По территориям"),
        ("source", "По источникам"),
    ):
        counter: Counter[str | None] = Counter()
        for row in rows:
            counter[getattr(row, fld)] += row.count
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))[:SLICE_BARS]
        labels: list[tuple[str, int]] = []
        hrefs: list[str | None] = []
        for key, n in ranked:
            if fld == "territory":
                label = territory_name(profile, key)
            elif fld == "source":
                label = source_name(key)
            else:
                label = key or UNKNOWN
            labels.append((label, n))
            hrefs.append(url_with("/ui/search", {**base, fld: key}) if key else None)
        out.append((title, hbar_chart(labels, hrefs=hrefs)))
    return out
