"""The processing steps the actors run: ingest (map → understand → upsert), detect, escalate.

Each step is idempotent (deterministic ids, upserts, one alert per episode), so a message delivered
twice — after a worker was killed, say — changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from crawlers.registry import get_mapper
from index.models import Alert, Incident, IncidentStatus, Post, as_utc
from index.store import CountRow, IncidentQuery, PostQuery, VersionConflict
from risk import alerts as alert_texts
from risk.conflicts import assess_thread
from risk.incidents import (
    apply_escalation,
    attach_post,
    due_escalations,
    incident_id_for,
    needs_incident,
    open_incident,
)
from risk.spikes import SpikeAssessment, assess_hours, episode_start
from worker.runtime import Runtime

log = logging.getLogger(__name__)

#: How much history a spike baseline looks at.
BASELINE_DAYS = 28
#: How far back an episode is followed to find where it started (hours).
EPISODE_LOOKBACK_HOURS = 24
#: Gap between spike hours that still counts as the same episode (hours).
EPISODE_GAP_HOURS = 3
#: Optimistic-concurrency retries for one incident write.
INCIDENT_WRITE_RETRIES = 8
#: The key standing for "all territories" in a spike series.
ALL_TERRITORIES = "*"
#: Open statuses whose deadlines run.
OPEN_STATUSES = (IncidentStatus.new, IncidentStatus.assigned, IncidentStatus.interim)


@dataclass
class IngestResult:
    """What one ingest batch did."""

    post_ids: list[str] = field(default_factory=list)
    new: int = 0
    rejected: list[str] = field(default_factory=list)  # Russian reasons, one per bad item


def ingest_items(rt: Runtime, source: str, items: Sequence[dict[str, Any]]) -> IngestResult:
    """Map raw items of `source`, understand them and upsert them; bad items are reported, not fatal."""
    mapper = get_mapper(source)
    key = rt.settings.pseudonym_key
    posts: list[Post] = []
    result = IngestResult()
    for index, raw in enumerate(items):
        try:
            posts.append(mapper(raw, key))
        except (ValueError, TypeError, KeyError) as exc:
            result.rejected.append(f"элемент {index} источника {source} отклонён: {exc}")
    if result.rejected:
        log.warning("ingest %s: %d rejected: %s", source, len(result.rejected), result.rejected[:3])
    understood = rt.understander.understand_many(posts)
    result.new = rt.store.upsert_posts(understood)
    result.post_ids = [p.id for p in understood]
    return result


def load_posts(rt: Runtime, post_ids: Sequence[str]) -> list[Post]:
    """Read posts by id from the store (missing ids are skipped)."""
    if not post_ids:
        return []
    page = rt.store.query_posts(PostQuery(ids=list(post_ids), limit=len(post_ids)))
    return page.items


def detect(rt: Runtime, posts: Sequence[Post], now: datetime) -> list[Alert]:
    """Run every detector on a freshly stored batch; return the alerts that are new."""
    spiking = detect_spikes(rt, posts, now)
    new_alerts = [a for a in spiking if rt.store.add_alert(a)]
    new_alerts += [a for a in detect_conflicts(rt, posts, now) if rt.store.add_alert(a)]
    new_alerts += [a for a in update_incidents(rt, posts, now) if rt.store.add_alert(a)]
    return new_alerts


# Spikes -------------------------------------------------------------------------------------------


def _hour(value: datetime) -> datetime:
    return as_utc(value).replace(minute=0, second=0, microsecond=0)


def _series_frame(
    rows: Sequence[CountRow], all_territories: bool, observed_since: datetime, until: datetime
) -> dict[tuple[str, str], pd.Series]:
    """Group count rows into zero-filled hourly series keyed by (sector, territory).

    Every series starts at `observed_since` — when the store began to see posts at all — so a quiet
    series has a history of zeros rather than none (a village's first complaint is judged against
    the hours it was silent, not against nothing).
    """
    buckets: dict[tuple[str, str], dict[datetime, int]] = defaultdict(dict)
    for row in rows:
        if row.sector is None:
            continue
        territory = ALL_TERRITORIES if all_territories else row.territory
        if territory is None:
            continue
        buckets[(row.sector, territory)][as_utc(row.bucket)] = row.count
    index = pd.date_range(observed_since, until - timedelta(hours=1), freq="h")
    return {
        key: pd.Series(values, dtype="int64").reindex(index, fill_value=0) for key, values in buckets.items()
    }


def detect_spikes(rt: Runtime, posts: Sequence[Post], now: datetime) -> list[Alert]:
    """Check each (sector × territory) and (sector × all) hour the batch touched for a volume spike."""
    touched: dict[tuple[str, str], set[datetime]] = defaultdict(set)
    for post in posts:
        if post.sector is None or post.is_official:
            continue
        hour = _hour(post.published_at)
        touched[(post.sector, ALL_TERRITORIES)].add(hour)
        if post.territory:
            touched[(post.sector, post.territory)].add(hour)
    if not touched:
        return []
    hours = [h for hs in touched.values() for h in hs]
    first = min(hours) - timedelta(days=BASELINE_DAYS, hours=EPISODE_LOOKBACK_HOURS)
    last = max(hours) + timedelta(hours=1)
    place_rows = rt.store.counts(first, last, by=("sector", "territory"))
    sector_rows = rt.store.counts(first, last, by=("sector",))
    observed = [as_utc(r.bucket) for r in rt.store.counts(first, last)]
    if not observed:
        return []
    since = min(observed)
    by_place = _series_frame(place_rows, False, since, last)
    by_sector = _series_frame(sector_rows, True, since, last)
    alerts: list[Alert] = []
    for (sector, territory), batch_hours in sorted(touched.items()):
        series = (by_sector if territory == ALL_TERRITORIES else by_place).get((sector, territory))
        if series is None:
            continue
        lookback = {h - timedelta(hours=k) for h in batch_hours for k in range(EPISODE_LOOKBACK_HOURS + 1)}
        assessed = assess_hours(
            series,
            sorted(lookback),
            min_count=rt.settings.risk.spike_min_count,
            p_value=rt.settings.risk.spike_p_value,
            tz=rt.profile.timezone,
        )
        spike_hours = sorted(h for h, a in assessed.items() if a.is_spike)
        for hour in sorted(batch_hours):
            if not assessed[hour].is_spike:
                continue
            previous = [h for h in spike_hours if h < hour]
            start = episode_start(hour, previous, gap_hours=EPISODE_GAP_HOURS)
            alerts.append(_spike_alert(rt, sector, territory, hour, start, assessed[hour], now))
    return alerts


def _spike_alert(
    rt: Runtime,
    sector: str,
    territory: str,
    hour: datetime,
    start: datetime,
    assessment: SpikeAssessment,
    now: datetime,
) -> Alert:
    """Build the spike alert with its explanation: topics, places, sources and example posts."""
    query = PostQuery(
        sector=sector,
        territory=None if territory == ALL_TERRITORIES else territory,
        since=hour,
        until=hour + timedelta(hours=1),
        limit=500,
    )
    posts = rt.store.query_posts(query).items
    explanation = {
        "topics": Counter(p.topic for p in posts if p.topic).most_common(5),
        "places": Counter(pl.name for p in posts for pl in p.places).most_common(5),
        "sources": Counter(p.source for p in posts).most_common(5),
        "examples": [{"id": p.id, "text": p.text[:280]} for p in sorted(posts, key=_reach, reverse=True)[:5]],
        "negative_share": _share(posts, lambda p: p.tone == "negative"),
        "reach": sum(_reach(p) for p in posts),
    }
    node = None if territory == ALL_TERRITORIES else rt.profile.territory(territory)
    territory_name = node.name if node else None
    key: dict[str, str | None] = {
        "sector": sector,
        "territory": None if territory == ALL_TERRITORIES else territory,
        "source": None,
    }
    return alert_texts.spike_alert(
        key, assessment, start, [p.id for p in posts[:50]], territory_name, explanation, now=now
    )


def _reach(post: Post) -> int:
    return post.metrics.reach()


def _share(posts: Sequence[Post], predicate: Any) -> float:
    return round(sum(1 for p in posts if predicate(p)) / len(posts), 3) if posts else 0.0


# Conflicts ----------------------------------------------------------------------------------------

#: How many comments of one thread a conflict check reads at most.
THREAD_READ_LIMIT = 2000


def detect_conflicts(rt: Runtime, posts: Sequence[Post], now: datetime) -> list[Alert]:
    """Re-assess every thread that received comments in this batch."""
    threads = {p.thread_id for p in posts if p.parent_id and p.thread_id}
    alerts: list[Alert] = []
    for thread_id in sorted(threads):
        root = rt.store.get_post(thread_id)
        page = rt.store.query_posts(
            PostQuery(thread_id=thread_id, limit=THREAD_READ_LIMIT, newest_first=False)
        )
        comments = [p for p in page.items if p.id != thread_id]
        assessment = assess_thread(
            root,
            comments,
            min_comments=rt.settings.risk.conflict_min_comments,
            min_authors=rt.settings.risk.conflict_min_authors,
        )
        if not assessment.is_conflict:
            continue
        page_name = None
        if root and root.page_id:
            page_name = next((pg.name for pg in rt.profile.pages if pg.id == root.page_id), None)
        alerts.append(alert_texts.conflict_alert(assessment, root, page_name, now=now))
    return alerts


# Incidents ----------------------------------------------------------------------------------------


def update_incidents(rt: Runtime, posts: Sequence[Post], now: datetime) -> list[Alert]:
    """Open or extend one incident per problem and place; return alerts for new critical incidents."""
    alerts: list[Alert] = []
    for post in sorted(posts, key=lambda p: p.published_at):
        target: str | None = None
        if needs_incident(post):
            target = incident_id_for(post)
        elif post.duplicate_of:
            original = rt.store.find_incident_for_post(post.duplicate_of)
            target = original.id if original else None
        if target is None:
            continue
        incident = _write_incident(rt, target, post, now)
        if incident is not None and incident.priority == "critical" and incident.version == 1:
            alerts.append(alert_texts.incident_alert(incident, tz=rt.profile.timezone, now=now))
    return alerts


def _write_incident(rt: Runtime, incident_id: str, post: Post, now: datetime) -> Incident | None:
    """Create or extend an incident with optimistic concurrency; return what was written."""
    for _ in range(INCIDENT_WRITE_RETRIES):
        current = rt.store.get_incident(incident_id)
        try:
            if current is None:
                return rt.store.save_incident(open_incident(post, rt.profile, now), expected_version=None)
            if post.id in current.post_ids:
                return None
            updated = attach_post(current, post, rt.profile, now)
            return rt.store.save_incident(updated, expected_version=current.version)
        except VersionConflict:
            continue
    log.error("incident %s: gave up after %d concurrent writes", incident_id, INCIDENT_WRITE_RETRIES)
    raise VersionConflict(f"incident {incident_id} is being changed by too many writers")


def escalate_overdue(rt: Runtime, now: datetime) -> list[Alert]:
    """Apply every due warning and escalation step to open incidents; return the new alerts."""
    horizon = now + timedelta(hours=rt.profile.sla.warn_before_hours)
    alerts: list[Alert] = []
    offset = 0
    while True:
        page = rt.store.query_incidents(
            IncidentQuery(status=list(OPEN_STATUSES), overdue_at=horizon, limit=200, offset=offset)
        )
        for incident in page.items:
            for step in due_escalations(incident, now, rt.profile.sla):
                try:
                    saved = rt.store.save_incident(
                        apply_escalation(incident, step, now), expected_version=incident.version
                    )
                except VersionConflict:
                    break  # someone changed it; the next run re-reads it
                incident = saved
                alert = alert_texts.overdue_alert(saved, step, tz=rt.profile.timezone, now=now)
                if rt.store.add_alert(alert):
                    alerts.append(alert)
        offset += len(page.items)
        if offset >= page.total or not page.items:
            return alerts
