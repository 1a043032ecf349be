"""The processing steps the actors run: ingest (map → understand → upsert), detect, escalate.

Each step is idempotent (deterministic ids, upserts, one alert per episode), so a message delivered
twice — after a worker was killed, say — changes nothing the second time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crawlers.registry import get_mapper
from index.models import Alert, AlertKind, Incident, IncidentStatus, Post, Priority, stable_id
from index.store import AlertQuery, PostQuery, VersionConflict
from risk import alerts as alert_texts
from risk.conflicts import assess_thread
from risk.incidents import (
    PriorityTally,
    attach_post,
    incident_id_for,
    needs_incident,
    open_incident,
)
from risk.spikes import EpisodeMark
from risk.stories import MAX_AGE_HOURS as STORY_MAX_AGE_HOURS
from risk.stories import MIN_POSTS as STORY_MIN_POSTS
from risk.stories import WINDOW_HOURS as STORY_WINDOW_HOURS
from risk.stories import assess_story
from worker.escalation import ESCALATION_LOCK as ESCALATION_LOCK  # the escalation run, for the actors
from worker.escalation import escalate_overdue as escalate_overdue
from worker.memory import release_free_memory
from worker.runtime import Runtime
from worker.spiking import detect_spikes, in_spike, recent_marks

log = logging.getLogger(__name__)

#: Optimistic-concurrency retries for one incident write.
INCIDENT_WRITE_RETRIES = 8
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
    if rt.deduper is not None:
        try:
            understood = rt.deduper.mark(understood)  # duplicate_of, story_id (state shared in Redis)
        except Exception:  # the posts matter more than their grouping: store them anyway
            log.exception("ingest %s: near-duplicate/story step failed, posts stored without it", source)
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
    started = time.thread_time()
    marks = recent_marks(rt, now)
    spiking = detect_spikes(rt, posts, now, marks)
    new_alerts = [a for a in spiking if rt.store.add_alert(a)]
    cpu = [time.thread_time()]
    new_alerts += [a for a in detect_conflicts(rt, posts, now) if rt.store.add_alert(a)]
    cpu.append(time.thread_time())
    new_alerts += [a for a in detect_stories(rt, posts, now, marks) if rt.store.add_alert(a)]
    cpu.append(time.thread_time())
    new_alerts += [a for a in update_incidents(rt, posts, now, marks) if rt.store.add_alert(a)]
    cpu.append(time.thread_time())
    log.info(
        "detection of %d posts: %d new alerts; thread CPU s: spikes %.2f, conflicts %.2f, stories %.2f, "
        "incidents %.2f",
        len(posts),
        len(new_alerts),
        *(b - a for a, b in zip([started, *cpu], cpu, strict=False)),
    )
    release_free_memory()  # what the run freed amid live chunks, back to the system (worker.memory)
    return new_alerts


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
        worst = [c for c in comments if c.id in set(assessment.worst_post_ids)]
        alerts.append(alert_texts.conflict_alert(assessment, root, page_name, now=now, worst=worst))
    return alerts


# Stories (резонанс) -------------------------------------------------------------------------------

#: How many posts of one story a резонанс check reads at most.
STORY_READ_LIMIT = 2000
#: A story found not resonating is read again once its latest window holds this share more messages
#: (at least one more), or this long after, in seconds (older messages leave the previous window).
STORY_RECHECK_GROWTH = 0.5
STORY_RECHECK_S = 600.0
#: Stories remembered per process at most; emptied when full of checks younger than STORY_RECHECK_S.
STORY_CHECKS_SIZE = 50_000
#: Remembered stories above which those checked STORY_RECHECK_S ago or more are forgotten (such a
#: check no longer spares a read); the mark is then twice what is left, at least this.
STORY_CHECKS_PRUNE_AT = 1_000


class _StoryChecks:
    """When each story was last read and how many messages its latest window held then (per process).

    A story stays resonating only by growing: more messages, authors, threads, networks in its latest
    window. Reading it at every run while it grows slowly made a run's cost grow with the stories' size;
    so did counting its whole window at every run: within STORY_RECHECK_S of a check only the messages
    published since the previous run are counted (one published earlier but stored late waits for the
    next full count).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: object = None  # the store the checks were of (another store: forget them)
        # story id -> (messages in the window at the check, check time (epoch s), the latest message
        # published counted since (UTC), messages counted since the check)
        self._last: dict[str, tuple[int, float, datetime, int]] = {}
        self._prune_at = STORY_CHECKS_PRUNE_AT

    def __len__(self) -> int:
        """Return how many stories are remembered."""
        return len(self._last)

    def due(
        self,
        store: object,
        story_id: str,
        moment: datetime,
        now: datetime,
        count: Callable[[datetime | None], int],
    ) -> bool:
        """Return whether the story, whose latest message was published at `moment`, should be read now.

        `count(after)`: the story's messages in its latest window published after `after` (None: all).
        A story with fewer than STORY_MIN_POSTS cannot resonate and is not due. If due, the check is noted.
        """
        at = now.timestamp()
        with self._lock:
            if store is not self._store:
                self._store = store
                self._last.clear()
            last = self._last.get(story_id)
        if last is not None and 0 <= at - last[1] < STORY_RECHECK_S:
            checked, when, through, added = last
            if moment <= through:
                return False
            added += count(through)
            if added < max(1, math.ceil(STORY_RECHECK_GROWTH * checked)):
                with self._lock:
                    self._last[story_id] = (checked, when, moment, added)
                return False
            in_window = checked + added
        else:
            in_window = count(None)
            if in_window < STORY_MIN_POSTS:
                return False
        with self._lock:
            if len(self._last) >= self._prune_at:
                self._last = {k: v for k, v in self._last.items() if 0 <= at - v[1] < STORY_RECHECK_S}
                if len(self._last) >= STORY_CHECKS_SIZE:
                    self._last.clear()
                self._prune_at = min(STORY_CHECKS_SIZE, max(STORY_CHECKS_PRUNE_AT, 2 * len(self._last)))
            self._last[story_id] = (in_window, at, moment, 0)
        return True


def _story_counter(rt: Runtime, story_id: str, moment: datetime) -> Callable[[datetime | None], int]:
    """Return count(after): the story's messages in the window up to `moment` published after `after`."""
    start = moment - timedelta(hours=STORY_WINDOW_HOURS)
    until = moment + timedelta(microseconds=1)

    def count(after: datetime | None) -> int:
        since = start if after is None else max(start, after + timedelta(microseconds=1))
        return rt.store.count_posts(PostQuery(story_id=story_id, since=since, until=until))

    return count


_STORY_CHECKS = _StoryChecks()


def detect_stories(
    rt: Runtime, posts: Sequence[Post], now: datetime, marks: Sequence[EpisodeMark] = ()
) -> list[Alert]:
    """Re-assess every story the batch's citizens' posts belong to; return резонанс alerts.

    A story most of whose latest messages fall in an alerted spike of their sector is that spike's
    (its alert already tells the head), and a story of the same sector and place as one alerted in the
    last STORY_FOLD_HOURS is the same event told in other words: neither makes another alert.
    """
    latest: dict[str, datetime] = {}
    for post in posts:
        if post.story_id and not post.is_official:
            latest[post.story_id] = max(latest.get(post.story_id, post.published_at), post.published_at)
    alerts: list[Alert] = []
    reach_back = timedelta(hours=STORY_MAX_AGE_HOURS + 2 * STORY_WINDOW_HOURS)
    told: list[Alert] | None = None
    for story_id, moment in sorted(latest.items()):
        # Cheap checks first (a run touches hundreds of stories): a story alerts once (its alert's id is
        # the story's), and one with fewer than MIN_POSTS messages of any kind in its latest window
        # cannot resonate; only the others are read, when they have grown (_StoryChecks).
        if rt.store.get_alert(stable_id("story", story_id)) is not None:
            continue
        if not _STORY_CHECKS.due(rt.store, story_id, moment, now, _story_counter(rt, story_id, moment)):
            continue
        page = rt.store.query_posts(
            PostQuery(
                story_id=story_id, since=moment - reach_back, limit=STORY_READ_LIMIT, newest_first=False
            )
        )
        assessment = assess_story(story_id, page.items, moment)
        if not assessment.is_resonance:
            continue
        window = [
            p
            for p in page.items
            if not p.is_official and p.published_at > moment - timedelta(hours=STORY_WINDOW_HOURS)
        ]
        if sum(1 for p in window if in_spike(p, marks)) * 2 >= len(window):
            continue
        if told is None:
            told = rt.store.query_alerts(
                AlertQuery(kind=[AlertKind.story], since=now - timedelta(days=2), limit=500)
            ).items
        fold = timedelta(hours=STORY_FOLD_HOURS)
        if any(
            (a.sector, a.territory) == (assessment.sector, assessment.territory)
            and a.event_at is not None
            and assessment.last_at is not None
            and abs(a.event_at - assessment.last_at) <= fold
            and a.details.get("story_id") != story_id
            for a in [*told, *alerts]
        ):
            continue
        alerts.append(alert_texts.story_alert(assessment, now=now, tz=rt.profile.timezone))
    return alerts


#: A resonating story this close (hours) to an alerted one of the same sector and place is the same event.
STORY_FOLD_HOURS = 6


# Incidents ----------------------------------------------------------------------------------------


#: Attached messages read to judge the priority of an incident without a current priority basis.
ATTACHED_READ_LIMIT = 500
#: How many replies up a follow-up is traced to an incident's message.
FOLLOW_UP_DEPTH = 3
#: Merged incidents followed to the one that holds the messages.
MERGE_CHAIN_LIMIT = 5


def update_incidents(
    rt: Runtime, posts: Sequence[Post], now: datetime, marks: Sequence[EpisodeMark] = ()
) -> list[Alert]:
    """Open or extend one incident per problem and place; return alerts for critical incidents.

    A complaint goes to the incident of its problem and place; a repost to its original's incident; a
    citizen's reply in an answered incident's thread is attached as the citizen's reaction. A post in an
    alerted spike of its sector raises the priority (`marks`: the alerted spike episodes). Each incident
    the batch touches is read and written once, with its messages attached in publication order.
    """
    attaching: dict[str, list[tuple[Post, bool]]] = {}
    placed: dict[str, str] = {}  # this batch's post id -> the incident it goes to
    for post in sorted(posts, key=lambda p: p.published_at):
        target: str | None = None
        if needs_incident(post):
            target = incident_id_for(post)
        elif post.duplicate_of:
            target = placed.get(post.duplicate_of)
            if target is None:
                original = rt.store.find_incident_for_post(post.duplicate_of)
                target = original.id if original else None
        elif not post.is_official and post.parent_id:
            answered = _answered_incident_of_reply(rt, post, placed)
            target = answered.id if answered else None
        if target is None:
            continue
        placed[post.id] = target
        attaching.setdefault(target, []).append((post, in_spike(post, marks)))
    alerts: list[Alert] = []
    for target, messages in attaching.items():
        incident = _write_incident(rt, target, messages, now)
        if incident is not None and incident.priority == Priority.critical:
            alerts.append(alert_texts.incident_alert(incident, tz=rt.profile.timezone, now=now))
    return alerts


def _answered_incident_of_reply(rt: Runtime, post: Post, placed: Mapping[str, str]) -> Incident | None:
    """Return the answered incident whose message a reply follows up (up the reply chain), or None.

    `placed` maps the posts of the batch being attached (not yet written) to their incidents.
    """
    parent_id = post.parent_id
    for _ in range(FOLLOW_UP_DEPTH):
        if not parent_id:
            return None
        if parent_id in placed:
            incident = rt.store.get_incident(placed[parent_id])
            if incident is None:
                return None  # opened by this batch: not answered yet
        else:
            incident = rt.store.find_incident_for_post(parent_id)
        if incident is not None:
            answered = incident.first_answered_at
            return incident if answered is not None and answered < post.published_at else None
        parent = rt.store.get_post(parent_id)
        parent_id = parent.parent_id if parent else None
    return None


def _priority_tally(rt: Runtime, incident: Incident) -> PriorityTally | None:
    """Return the tally of the incident's messages its priority is judged on; None for a critical one.

    From its priority basis: its ≤ CRITICAL_AUTHORS author messages are read. Without a current basis
    (an incident from before bases were kept, or split, merged or scrubbed since): the latest
    ATTACHED_READ_LIMIT messages, once; the incident then keeps the basis.
    """
    if incident.priority == Priority.critical:
        return None  # the priority is only ever raised: a critical incident's messages need not be read
    basis = incident.current_priority_basis()
    if basis is not None:
        return PriorityTally.resume(basis, load_posts(rt, basis.author_posts))
    return PriorityTally.of(load_posts(rt, incident.post_ids[-ATTACHED_READ_LIMIT:]))


def _write_incident(
    rt: Runtime, incident_id: str, messages: Sequence[tuple[Post, bool]], now: datetime
) -> Incident | None:
    """Create or extend an incident with optimistic concurrency; return it as it stands with the posts.

    `messages`: (post, whether it falls in an alerted spike), in publication order; a new incident is
    opened by the first. One read and one write whatever their number (re-done on a concurrent change).
    A hand-merged incident is followed to the one it was merged into.
    """
    for _ in range(INCIDENT_WRITE_RETRIES):
        current = rt.store.get_incident(incident_id)
        for _ in range(MERGE_CHAIN_LIMIT):
            if current is None or not current.merged_into:
                break
            current = rt.store.get_incident(current.merged_into)
        try:
            if current is None:
                (first, first_in_spike), *rest = messages
                updated = open_incident(first, rt.profile, now, in_spike=first_in_spike)
            else:
                known = set(current.post_ids)
                rest = [(p, spike) for p, spike in messages if p.id not in known]
                if not rest:
                    return current  # a redelivered batch: the caller re-derives its alert (stored once)
                updated = current
            tally = _priority_tally(rt, updated) if rest else None
            for post, spike in rest:
                updated = attach_post(updated, post, rt.profile, now, tally=tally, in_spike=spike)
            return rt.store.save_incident(
                updated, expected_version=None if current is None else current.version
            )
        except VersionConflict:
            continue
    log.error("incident %s: gave up after %d concurrent writes", incident_id, INCIDENT_WRITE_RETRIES)
    raise VersionConflict(f"incident {incident_id} is being changed by too many writers")
