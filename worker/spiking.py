"""Volume spikes of a freshly stored batch: every series it touched, one alert per episode and family.

Series (risk.spikes.series_keys): overall; sector everywhere and per source; sector × territory and per
source. A place's series and its per-source series are one family (their spike hours make one episode and
one alert, whichever fires first); a sector-wide episode folds into an alerted place of that sector, and
the overall series into any sector's episode (risk.spikes.already_alerted), so one burst makes one alert.
An hour dominated by a single thread is re-judged with that thread counted once (a discussion is not a
spike). Every spike hour of the batch is judged as soon as its posts are stored, so the alert leaves
within seconds of the post that tips the count. Beside the one-hour test, the level-shift CUSUM of
risk.spikes (`level_shifts`) watches each place's and sector's own series for a slow rise that no single
hour shows; its alarms chained within LEVEL_SHIFT_EPISODE_GAP_HOURS are one episode and one alert.

A run's cost does not grow with the posts of the hour: counts come from the store's hourly rollups (the
earlier hours read once an hour per process, `_History`), each series' baseline is fitted once an hour
(`_Baselines`), nothing is tested while no batch hour is above its expectation, and the posts of a spike
hour are read (at most HOUR_READ_LIMIT, the newest) for its thread check and its alert only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from index.models import Alert, AlertKind, Post, Tone, as_utc
from index.store import AlertQuery, CountRow, PostQuery
from risk import alerts as alert_texts
from risk.spikes import (
    ALL,
    EPISODE_GAP_HOURS,
    EpisodeMark,
    HourlyBaseline,
    LevelShift,
    SeriesKey,
    SpikeAssessment,
    already_alerted,
    assess_baseline,
    discount_one_thread,
    episode_start,
    hourly_baseline,
    level_shifts,
    series_keys,
    severity,
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
#: Posts of one series and hour read for the explanation and the thread check (the newest).
HOUR_READ_LIMIT = 1000
#: A thread check read for a spike hour is reused until the hour's count grows by this share.
THREAD_RECHECK_GROWTH = 0.2
#: Series baselines kept per process (about 17 KB each at 28 days).
MAX_BASELINES = 512
#: Level-shift alarms of one series this close (hours) are one episode (the CUSUM restarts after each).
LEVEL_SHIFT_EPISODE_GAP_HOURS = 24
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
    shift: LevelShift | None = None  # set when the CUSUM found a slow rise or level shift


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


@dataclass(frozen=True)
class _Counts:
    """The hourly counts a run judges: every hour from `since` to the run's last, per series."""

    since: datetime
    hours: int
    overall: np.ndarray
    cells: dict[_Family, dict[str | None, np.ndarray]]  # family → source (None: all sources) → counts

    def position(self, hour: datetime) -> int:
        """Return the index of `hour` in the series."""
        return int((hour - self.since) // timedelta(hours=1))


_Cells = dict[_Family, dict[str | None, np.ndarray]]


def _cells(rows: Sequence[CountRow], since: datetime, hours: int) -> _Cells:
    """Return the zero-filled hourly counts of every sector family and source in `rows` from `since`."""
    step = timedelta(hours=1)
    cells: _Cells = {}
    positions: dict[datetime, int] = {}
    for r in rows:
        if not r.sector:
            continue
        found = positions.get(r.bucket)
        i = positions[r.bucket] = int((as_utc(r.bucket) - since) // step) if found is None else found
        if not 0 <= i < hours:
            continue
        for family in ((r.sector, ALL), (r.sector, r.territory)) if r.territory else ((r.sector, ALL),):
            series = cells.setdefault(family, {})
            for source in (None, r.source):
                counts = series.get(source)
                if counts is None:
                    counts = series[source] = np.zeros(hours)
                counts[i] += r.count
    return cells


class _History:
    """The sector series' counts of the hours before the live one, read from the store once an hour.

    A run reads the per-series rollups of the live hour only, and those of the earlier hours again only
    when the hourly totals before the live hour changed (a late post) or the live hour moved on. Kept per
    process, shared by its threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: object = None  # the store the counts are of (held: another store never matches)
        self._key: tuple[datetime, datetime, bytes] | None = None
        self._cells: _Cells = {}
        self.reads = 0  # times the earlier hours were read, for tests and profiling

    def cells(self, rt: Runtime, since: datetime, cut: datetime, overall: np.ndarray) -> _Cells:
        """Return the counts of every sector series from `since` to the hour `cut` (excluded)."""
        hours = int((cut - since) // timedelta(hours=1))
        digest = hashlib.blake2b(overall[:hours].tobytes(), digest_size=16).digest()
        key = (since, cut, digest)
        with self._lock:
            if rt.store is self._store and key == self._key:
                return self._cells
        cells = _cells(rt.store.counts(since, cut, by=("sector", "territory", "source")), since, hours)
        with self._lock:
            self.reads += 1
            self._store, self._key, self._cells = rt.store, key, cells
        return cells


_HISTORY = _History()


def _counts(
    rt: Runtime, totals: Sequence[CountRow], since: datetime, until: datetime, families: set[_Family]
) -> _Counts:
    """Return the zero-filled hourly counts of the overall series and of every series of `families`.

    The hours before the last one come from the per-process history (_History), the last from the store.
    """
    hours = int((until - since) // timedelta(hours=1))
    overall = np.zeros(hours)
    for r in totals:
        i = int((as_utc(r.bucket) - since) // timedelta(hours=1))
        if 0 <= i < hours:
            overall[i] += r.count
    cut = until - timedelta(hours=1)
    past = _HISTORY.cells(rt, since, cut, overall)
    live = _cells(rt.store.counts(cut, until, by=("sector", "territory", "source")), cut, 1)
    cells: _Cells = {}
    for family in families:
        before, now = past.get(family, {}), live.get(family, {})
        if not before and not now:
            continue
        zeros_before, zeros_now = np.zeros(hours - 1), np.zeros(1)
        cells[family] = {
            source: np.concatenate([before.get(source, zeros_before), now.get(source, zeros_now)])
            for source in {*before, *now}
        }
    return _Counts(since, hours, overall, cells)


def _family_series(counts: _Counts, family: _Family) -> dict[SeriesKey, np.ndarray]:
    """Return the hourly series of a family: its own and one per source seen in it."""
    sector, territory = family
    if sector is None:
        return {SeriesKey(None): counts.overall}
    return {SeriesKey(sector, territory, source): c for source, c in counts.cells.get(family, {}).items()}


class _Baselines:
    """Series baselines fitted up to the run's last hour, reused while the hours before it do not change.

    A baseline rests only on the hours before the one it judges, so within an hour every run reuses it
    (the live hour's own count may grow); a new hour or a late post in an earlier hour refits it. Kept
    per process (least recently used first out), shared by the process's threads.
    """

    def __init__(self, size: int = MAX_BASELINES) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[SeriesKey, tuple[bytes, HourlyBaseline]] = OrderedDict()
        self.fits = 0  # baselines fitted (not reused), for tests and profiling

    def get(self, key: SeriesKey, since: datetime, counts: np.ndarray, tz: str) -> HourlyBaseline:
        """Return the baseline of `key` from `since` up to the last hour of `counts`."""
        digest = hashlib.blake2b(
            f"{since.isoformat()}|{len(counts)}|{tz}|".encode() + counts[:-1].tobytes(), digest_size=16
        ).digest()
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] == digest:
                self._items.move_to_end(key)
                return found[1]
        baseline = hourly_baseline(counts, since, tz=tz)
        with self._lock:
            self.fits += 1
            self._items[key] = (digest, baseline)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return baseline


_BASELINES = _Baselines()


class _HourPosts:
    """The newest posts of one series and hour (at most HOUR_READ_LIMIT), read once per batch."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.store = rt.store
        self._cache: dict[tuple[SeriesKey, datetime], list[Post]] = {}

    def __call__(self, key: SeriesKey, hour: datetime) -> list[Post]:
        """Return the citizens' posts of `key` in the hour starting at `hour` (the newest ones)."""
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


class _ThreadChecks:
    """Thread sizes of spike hours, reused across runs until the hour's count grows by THREAD_RECHECK_GROWTH.

    A spike hour stays a spike for every run of the hour; reading its posts each time would make every
    run pay for the hour's size. Kept per process for the recent hours only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: object = None  # the store the checks are of (another store: forget them)
        self._items: dict[tuple[SeriesKey, datetime], tuple[int, list[int]]] = {}

    def sizes(self, key: SeriesKey, hour: datetime, observed: int, hour_posts: _HourPosts) -> list[int]:
        """Return the thread sizes of `key`'s hour, reading its posts only when the count grew enough."""
        with self._lock:
            if hour_posts.store is not self._store:
                self._store = hour_posts.store
                self._items.clear()
            found = self._items.get((key, hour))
        if found is not None and observed <= found[0] * (1.0 + THREAD_RECHECK_GROWTH):
            return found[1]
        sizes = _thread_sizes(hour_posts(key, hour))
        with self._lock:
            oldest = hour - timedelta(hours=EPISODE_LOOKBACK_HOURS)
            for stale in [k for k in self._items if k[1] < oldest]:
                del self._items[stale]
            self._items[(key, hour)] = (observed, sizes)
        return sizes


_THREADS = _ThreadChecks()


def _thread_sizes(posts: Sequence[Post]) -> list[int]:
    """Return how many of `posts` each thread holds (a post outside threads is its own)."""
    return list(Counter(p.thread_id or p.id for p in posts).values())


def _shift_candidate(
    key: SeriesKey, shifts: Sequence[LevelShift], hour_counts: np.ndarray, baseline: HourlyBaseline
) -> _Candidate:
    """Return the candidate of the last level-shift alarm: its episode runs from the first chained alarm."""
    last = shifts[-1]
    first = last
    for earlier in reversed(shifts[:-1]):
        if first.hour - earlier.hour > timedelta(hours=LEVEL_SHIFT_EPISODE_GAP_HOURS):
            break
        first = earlier
    at = int((last.hour - baseline.first) // timedelta(hours=1))
    observed, expected = int(hour_counts[at]), float(baseline.expected[at])
    assessment = SpikeAssessment(
        hour=last.hour,
        observed=observed,
        expected=expected,
        p_value=last.p_value,
        is_spike=True,
        severity=max(severity(observed, expected), severity(last.observed, last.expected)),
        dispersion=float(baseline.phi[at]),
        history_hours=at,
    )
    return _Candidate(key, last.hour, first.since, assessment, assessment, shift=last)


def _family_candidates(
    rt: Runtime,
    counts: _Counts,
    family: _Family,
    batch_hours: set[datetime],
    hour_posts: _HourPosts,
) -> list[_Candidate]:
    """Return the family's spike hours among `batch_hours` with their episode starts, and its level shift."""
    lookback = sorted(
        {h - timedelta(hours=k) for h in batch_hours for k in range(EPISODE_LOOKBACK_HOURS + 1)}
    )
    risk = rt.settings.risk
    judged: dict[SeriesKey, dict[datetime, SpikeAssessment]] = {}
    raw: dict[tuple[SeriesKey, datetime], SpikeAssessment] = {}
    batch_at = [counts.position(h) for h in sorted(batch_hours)]
    shifted: list[_Candidate] = []
    eligible: list[tuple[SeriesKey, np.ndarray, HourlyBaseline]] = []
    for key, series in _family_series(counts, family).items():
        if max(float(series[i]) for i in batch_at) < risk.spike_min_count:
            continue  # no batch hour can be a spike: the series is not judged at all
        baseline = _BASELINES.get(key, counts.since, series, rt.profile.timezone)
        eligible.append((key, series, baseline))
        if key.source is None:  # a slow rise or level shift of the family's own series (CUSUM)
            shifts = level_shifts(baseline, series, min_count=risk.spike_min_count)
            recent = min(batch_hours) - timedelta(hours=EPISODE_GAP_HOURS)
            if shifts and shifts[-1].hour >= recent:
                shifted.append(_shift_candidate(key, shifts, series, baseline))
    # A spike needs more posts than expected: while no batch hour of any series has (a live hour is
    # mostly below its expectation until it ends), nothing is tested.
    if not any(
        series[i] >= risk.spike_min_count and series[i] > baseline.expected[i]
        for _, series, baseline in eligible
        for i in batch_at
        if i < len(baseline.expected)
    ):
        return shifted
    for key, series, baseline in eligible:
        assessed = assess_baseline(
            baseline, series, lookback, min_count=risk.spike_min_count, p_value=risk.spike_p_value
        )
        for hour, assessment in assessed.items():
            if assessment.is_spike and hour in batch_hours:
                raw[(key, hour)] = assessment
                sizes = _THREADS.sizes(key, hour, assessment.observed, hour_posts)
                assessed[hour] = discount_one_thread(
                    assessment, sizes, min_count=risk.spike_min_count, p_value=risk.spike_p_value
                )
        judged[key] = assessed
    if not judged:
        return shifted
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
    return out + shifted


def detect_spikes(rt: Runtime, posts: Sequence[Post], now: datetime, marks: list[EpisodeMark]) -> list[Alert]:
    """Return the alerts of the new spike episodes the batch revealed; append their marks to `marks`.

    `marks` holds the episodes already alerted (recent_marks); the caller stores the alerts. A burst
    (one hour's tail test) and a level shift (the CUSUM of hourly excesses) both make spike episodes.
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
    counts = _counts(rt, totals, since, last, set(touched))
    hour_posts = _HourPosts(rt)
    candidates: list[_Candidate] = []
    for family, batch_hours in touched.items():
        candidates += _family_candidates(rt, counts, family, batch_hours, hour_posts)
    alerts: list[Alert] = []
    for cand in sorted(candidates, key=lambda c: (c.key.rank, c.hour, c.key, c.shift is not None)):
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
    if cand.shift is not None:
        explanation["detector"] = "level_shift"
        explanation["shift_since"] = cand.shift.since.isoformat()
        explanation["shift_observed"] = int(cand.shift.observed)
        explanation["shift_expected"] = round(cand.shift.expected, 1)
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
