"""Volume spikes of a freshly stored batch: every series it touched, one alert per episode and family.

Series (risk.spikes.series_keys): overall; sector everywhere and per source; sector × territory and per
source. A place's series and its per-source series are one family (their spike hours make one episode and
one alert, whichever fires first); a sector-wide episode folds into an alerted place of that sector, and
the overall series into any sector's episode (risk.spikes.already_alerted), so one burst makes one alert.
An hour dominated by a single thread is re-judged with that thread counted once (a discussion is not a
spike). Every spike hour of the batch is judged as soon as its posts are stored, so the alert leaves
within seconds of the post that tips the count.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from index.models import Alert, AlertKind, Post, Tone, as_utc
from index.store import AlertQuery, CountRow, PostQuery
from risk import alerts as alert_texts
from risk.spikes import (
    ALL,
    EPISODE_GAP_HOURS,
    EpisodeMark,
    SeriesKey,
    SpikeAssessment,
    already_alerted,
    assess_hours,
    discount_one_thread,
    episode_start,
    series_keys,
)
from worker.runtime import Runtime

log = logging.getLogger(__name__)

#: How much history a spike baseline looks at, in days.
BASELINE_DAYS = 28
#: How far back an episode is followed to find where it started, in hours.
EPISODE_LOOKBACK_HOURS = 24
#: Alerts created this long ago or later are the episodes a new spike may belong to, in days.
RECENT_ALERTS_DAYS = 2
#: A post belongs to a spike alerted at most this long before its hour, in hours.
SPIKE_MEMBERSHIP_HOURS = 6
#: Posts of one series and hour read for the explanation and the thread check.
HOUR_READ_LIMIT = 2000
#: Example posts an alert quotes, and posts it lists.
EXAMPLES = 5
ALERT_POSTS = 50

_Family = tuple[str | None, str]


@dataclass(frozen=True)
class _Candidate:
    """A family's spike hour that may become an alert."""

    key: SeriesKey  # the series that fired (the family's own when it fired, else the likeliest source)
    hour: datetime
    start: datetime
    assessment: SpikeAssessment  # as judged (a dominating thread counted once)
    shown: SpikeAssessment  # the hour's real count, as the head is told


def _hour(value: datetime) -> datetime:
    """Return the UTC start of the hour of `value`."""
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def mark_of(alert: Alert) -> EpisodeMark | None:
    """Return the episode a spike alert stands for, or None for an alert without an episode."""
    start = alert.details.get("episode_start")
    if alert.kind != AlertKind.spike or not isinstance(start, str) or alert.event_at is None:
        return None
    return EpisodeMark(
        sector=alert.sector,
        territory=alert.territory or ALL,
        start=as_utc(datetime.fromisoformat(start)),
        hour=as_utc(alert.event_at),
    )


def recent_marks(rt: Runtime, now: datetime) -> list[EpisodeMark]:
    """Return the episodes of the spike alerts created in the last RECENT_ALERTS_DAYS."""
    page = rt.store.query_alerts(
        AlertQuery(kind=[AlertKind.spike], since=now - timedelta(days=RECENT_ALERTS_DAYS), limit=1000)
    )
    return [m for m in map(mark_of, page.items) if m is not None]


def in_spike(post: Post, marks: Sequence[EpisodeMark]) -> bool:
    """Return whether a post falls in an alerted spike of its sector (its place's or the sector-wide one)."""
    if not post.sector:
        return False
    hour = _hour(post.published_at)
    reach = timedelta(hours=SPIKE_MEMBERSHIP_HOURS)
    return any(
        m.sector == post.sector and m.territory in (post.territory, ALL) and m.start <= hour <= m.hour + reach
        for m in marks
    )


def _series(rows: Sequence[CountRow], totals: Sequence[CountRow], since: datetime, until: datetime) -> Any:
    """Return the cell counts as a DataFrame (bucket, sector, territory, source, count) and the totals."""
    cells = pd.DataFrame(
        [(as_utc(r.bucket), r.sector, r.territory or ALL, r.source, r.count) for r in rows if r.sector],
        columns=["bucket", "sector", "territory", "source", "count"],
    )
    index = pd.date_range(since, until - timedelta(hours=1), freq="h")
    overall = pd.Series({as_utc(r.bucket): r.count for r in totals}, dtype="int64").reindex(
        index, fill_value=0
    )
    return cells, overall, index


def _family_series(
    cells: pd.DataFrame, overall: pd.Series, index: pd.DatetimeIndex, family: _Family
) -> dict[SeriesKey, pd.Series]:
    """Return the zero-filled hourly series of a family: its own and one per source seen in it."""
    sector, territory = family
    if sector is None:
        return {SeriesKey(None): overall}
    sub = cells[cells["sector"] == sector]
    if territory != ALL:
        sub = sub[sub["territory"] == territory]
    if sub.empty:
        return {}
    out = {SeriesKey(sector, territory): sub.groupby("bucket")["count"].sum().reindex(index, fill_value=0)}
    for source, part in sub.groupby("source"):
        out[SeriesKey(sector, territory, str(source))] = (
            part.groupby("bucket")["count"].sum().reindex(index, fill_value=0)
        )
    return out


class _HourPosts:
    """The posts of one series and hour, read once per batch."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._cache: dict[tuple[SeriesKey, datetime], list[Post]] = {}

    def __call__(self, key: SeriesKey, hour: datetime) -> list[Post]:
        """Return the citizens' posts of `key` in the hour starting at `hour`."""
        cached = self._cache.get((key, hour))
        if cached is None:
            query = PostQuery(
                sector=key.sector,
                territory=None if key.territory == ALL else key.territory,
                source=key.source,
                since=hour,
                until=hour + timedelta(hours=1),
                limit=HOUR_READ_LIMIT,
            )
            cached = [p for p in self._rt.store.query_posts(query).items if not p.is_official]
            self._cache[(key, hour)] = cached
        return cached


def _thread_sizes(posts: Sequence[Post]) -> list[int]:
    """Return how many of `posts` each thread holds (a post outside threads is its own)."""
    return list(Counter(p.thread_id or p.id for p in posts).values())


def _family_candidates(
    rt: Runtime,
    family_series: dict[SeriesKey, pd.Series],
    batch_hours: set[datetime],
    hour_posts: _HourPosts,
) -> list[_Candidate]:
    """Return the family's spike hours among `batch_hours`, each with its episode start."""
    lookback = sorted(
        {h - timedelta(hours=k) for h in batch_hours for k in range(EPISODE_LOOKBACK_HOURS + 1)}
    )
    risk = rt.settings.risk
    judged: dict[SeriesKey, dict[datetime, SpikeAssessment]] = {}
    raw: dict[tuple[SeriesKey, datetime], SpikeAssessment] = {}
    batch_index = pd.DatetimeIndex(sorted(batch_hours))
    for key, series in family_series.items():
        if series.reindex(batch_index, fill_value=0).max() < risk.spike_min_count:
            continue  # no batch hour can be a spike: the series is not judged at all
        assessed = assess_hours(
            series,
            lookback,
            min_count=risk.spike_min_count,
            p_value=risk.spike_p_value,
            tz=rt.profile.timezone,
        )
        for hour, assessment in assessed.items():
            if assessment.is_spike and hour in batch_hours:
                raw[(key, hour)] = assessment
                assessed[hour] = discount_one_thread(
                    assessment,
                    _thread_sizes(hour_posts(key, hour)),
                    min_count=risk.spike_min_count,
                    p_value=risk.spike_p_value,
                )
        judged[key] = assessed
    if not judged:
        return []
    spike_hours = sorted({h for assessed in judged.values() for h, a in assessed.items() if a.is_spike})
    out: list[_Candidate] = []
    for hour in sorted(batch_hours):
        firing = [(key, judged[key][hour]) for key in judged if judged[key][hour].is_spike]
        if not firing:
            continue
        # The family's own series speaks for it; else the source whose spike is the least likely.
        key, assessment = min(firing, key=lambda kv: (kv[0].source is not None, kv[1].p_value))
        start = episode_start(hour, [h for h in spike_hours if h < hour], gap_hours=EPISODE_GAP_HOURS)
        out.append(_Candidate(key, hour, start, assessment, raw.get((key, hour), assessment)))
    return out


def detect_spikes(rt: Runtime, posts: Sequence[Post], now: datetime, marks: list[EpisodeMark]) -> list[Alert]:
    """Return the alerts of the new spike episodes the batch revealed; append their marks to `marks`.

    `marks` holds the episodes already alerted (recent_marks); the caller stores the alerts.
    """
    touched: dict[_Family, set[datetime]] = defaultdict(set)
    for post in posts:
        for key in series_keys(post):
            touched[key.family].add(_hour(post.published_at))
    if not touched:
        return []
    hours = [h for hs in touched.values() for h in hs]
    first = min(hours) - timedelta(days=BASELINE_DAYS, hours=EPISODE_LOOKBACK_HOURS)
    last = max(hours) + timedelta(hours=1)
    totals = rt.store.counts(first, last)
    if not totals:
        return []
    # Every series starts when the store began to see posts at all: a quiet series has a history of zeros.
    since = min(as_utc(r.bucket) for r in totals)
    cells, overall, index = _series(
        rt.store.counts(first, last, by=("sector", "territory", "source")), totals, since, last
    )
    hour_posts = _HourPosts(rt)
    candidates: list[_Candidate] = []
    for family, batch_hours in touched.items():
        candidates += _family_candidates(
            rt, _family_series(cells, overall, index, family), batch_hours, hour_posts
        )
    alerts: list[Alert] = []
    for cand in sorted(candidates, key=lambda c: (c.key.rank, c.hour, c.key)):
        if already_alerted(cand.key, cand.start, cand.hour, marks):
            continue
        alerts.append(_spike_alert(rt, cand, hour_posts, now))
        marks.append(EpisodeMark(cand.key.sector, cand.key.territory, cand.start, cand.hour))
    return alerts


def _share(posts: Sequence[Post], predicate: Any) -> float:
    """Return the share of `posts` matching `predicate`, rounded (0 for none)."""
    return round(sum(1 for p in posts if predicate(p)) / len(posts), 3) if posts else 0.0


def explain(posts: Sequence[Post], *, sectors: bool = False) -> dict[str, Any]:
    """Return what drove an hour: topics, places, sources, stories, authors, examples, negativity, reach."""
    ranked = sorted(posts, key=lambda p: (p.metrics.reach(), p.published_at), reverse=True)
    stories = Counter(p.story_id for p in posts if p.story_id).most_common(3)
    out: dict[str, Any] = {
        "topics": Counter(p.topic for p in posts if p.topic).most_common(5),
        "places": Counter(pl.name for p in posts for pl in p.places).most_common(5),
        "sources": Counter(p.source for p in posts).most_common(5),
        "stories": stories,
        "authors": len({p.author_id or p.id for p in posts}),
        "threads": len({p.thread_id or p.id for p in posts}),
        "examples": [{"id": p.id, "text": p.text[:280], "url": p.url} for p in ranked[:EXAMPLES]],
        "negative_share": _share(posts, lambda p: p.tone == Tone.negative),
        "reach": sum(p.metrics.reach() for p in posts),
    }
    if stories and stories[0][1] >= 0.3 * len(posts):
        out["story_id"] = stories[0][0]
    if sectors:
        out["sectors"] = Counter(p.sector for p in posts if p.sector).most_common(5)
    return out


def _spike_alert(rt: Runtime, cand: _Candidate, hour_posts: _HourPosts, now: datetime) -> Alert:
    """Build the alert of one episode with its explanation."""
    family_key = SeriesKey(cand.key.sector, cand.key.territory)
    posts = hour_posts(family_key, cand.hour)
    if cand.key.source is not None:
        posts = [p for p in posts if p.source == cand.key.source] or posts
    territory = None if cand.key.territory == ALL else cand.key.territory
    node = rt.profile.territory(territory) if territory else None
    key: dict[str, str | None] = {
        "sector": cand.key.sector,
        "territory": territory,
        "source": cand.key.source,
    }
    explanation = explain(posts, sectors=cand.key.sector is None)
    explanation["series"] = {**key, "rank": cand.key.rank}
    if cand.assessment.observed != cand.shown.observed:
        explanation["one_thread_discounted"] = cand.shown.observed - cand.assessment.observed + 1
    shown = replace(cand.shown, p_value=cand.assessment.p_value)
    return alert_texts.spike_alert(
        key,
        shown,
        cand.start,
        [p.id for p in posts[:ALERT_POSTS]],
        node.name if node else None,
        explanation,
        now=now,
        tz=rt.profile.timezone,
    )
