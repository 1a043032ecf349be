"""A worker SIGKILLed at random points, many times: the store matches the truth, nothing is sent twice.

Given the demo stream sent to the ingest actor, the scheduler's periodic escalation ticks and a slow
loopback webhook, when the worker process group is SIGKILLed again and again — at random moments
(enriching, writing, detecting) and at moments when an alert is on its way to the webhook — and
started again each time, then:

- the store holds exactly the posts of a reference run in this process (same ids, same understanding,
  hourly rollups counting each once);
- every incident holds exactly the posts of the reference run's incident, each post once;
- no incident transition is lost: every escalation level an incident reached has its audit entry once
  and is told in an overdue alert once per audience, and no step that is due is left unapplied;
- every stored alert reached the webhook, and no delivery the webhook completed was repeated (a
  request cut off by the kill is repeated, as at-least-once delivery must; its body carries the alert
  id so a receiver can tell).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo.generator import generate
from index.models import Incident, Post
from index.profile import load_profile
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery, PostQuery
from infopole.settings import Settings
from risk.alerts import told_steps
from risk.deadlines import calendar_for
from risk.incidents import due_escalations, incident_id_for, needs_incident, sla_for
from tests.faults.conftest import scale
from tests.faults.harness import (
    Producer,
    RedisServer,
    WebhookReceiver,
    WorkerGroup,
    child_env,
    kill_group,
    launch,
    wait_until,
)
from worker.clock import save_stream_time

pytestmark = pytest.mark.timeout(scale(900, 3600))

#: Items per ingest message.
BATCH = 50
#: Post fields that differ between runs by design: when it was collected, and what came first among
#: near-duplicates and stories (first-come buckets: the processing order decides).
VOLATILE = {"collected_at", "duplicate_of", "story_id"}


def reference_run(
    items: list[dict[str, Any]], data_dir: Path, now: datetime
) -> tuple[dict[str, Post], list[Incident]]:
    """Ingest and build incidents in this process, batch by batch, without faults; return the result."""
    from worker.pipeline import ingest_items, load_posts, update_incidents
    from worker.runtime import build_runtime

    settings = Settings(data_dir=data_dir)
    rt = build_runtime(settings)
    try:
        for start in range(0, len(items), BATCH):
            result = ingest_items(rt, "demo", items[start : start + BATCH])
            update_incidents(rt, load_posts(rt, result.post_ids), now)
        posts = {p.id: p for p in rt.store.query_posts(PostQuery(limit=len(items) + 10)).items}
        incidents = rt.store.query_incidents(IncidentQuery(limit=100_000)).items
    finally:
        rt.store.close()
    return posts, incidents


def understanding(post: Post) -> dict[str, Any]:
    """Return what the pipeline made of a post, without the fields that differ between runs."""
    return post.model_dump(exclude=VOLATILE)


def test_worker_killed_at_random_points_keeps_the_store_true(
    tmp_path: Path, redis_server: RedisServer, tmp_path_factory: Any
) -> None:
    items = generate(seed=7)[0][: scale(1200, 12000)]
    kills = scale(4, 16)
    webhook = WebhookReceiver(delay_s=0.05).start()
    env = child_env(
        tmp_path,
        redis_server.url,
        NOTIFY__WEBHOOK_URL=webhook.url,
        INFOPOLE_CLOCK="stream",
        INFOPOLE_ESCALATE_PERIOD_S="3",
        INFOPOLE_REDELIVER_PERIOD_S="5",
    )
    store = SqliteStore(tmp_path / "infopole.sqlite3")
    # The demo's stream clock, stopped at the last item: the earlier complaints are overdue by then.
    now = datetime.fromtimestamp(items[-1]["date"], UTC)
    save_stream_time(store, len(items), now, len(items))
    # The reference first, so it runs the same code the workers are about to import.
    expected_posts, expected_incidents = reference_run(items, tmp_path_factory.mktemp("reference"), now)
    workers = WorkerGroup(tmp_path, env)
    workers.start()
    scheduler = launch(env, "scheduler", log_file=tmp_path / "scheduler.log")
    producer = Producer(redis_server.url)
    rng = random.Random(2024)
    killed_during: list[str] = []
    kill_times: list[float] = []
    try:
        for start in range(0, len(items), BATCH):
            producer.send("ingest", "demo", items[start : start + BATCH])
        for n in range(kills):
            if n % 2:
                # While an alert is on its way: the webhook holds the next request until the sender is dead.
                webhook.gate.clear()
                wait_until(lambda: webhook.in_flight > 0, 120, "an alert delivery in flight", 0.005)
                killed_during.append("delivery")
            else:
                time.sleep(rng.uniform(2.0, 6.0))  # the workers import for ~3 s, then work
                killed_during.append("random")
            kill_times.append(time.monotonic())
            workers.kill()
            webhook.gate.set()
            workers.start()
        producer.drain(timeout_s=scale(300, 1800))
        # Escalation after the last kill: every due step gets applied.
        producer.send("escalate", "final")
        producer.drain(timeout_s=120)
        stored_alerts = {a.id for a in store.query_alerts(AlertQuery(limit=100_000)).items}
        wait_until(lambda: webhook.delivered() >= stored_alerts, 120, "every stored alert to be delivered")
    finally:
        kill_group(scheduler)
        workers.stop()
        producer.close()
        webhook.stop()

    # Posts: the same set, understood the same way, counted once.
    stored = {p.id: p for p in store.query_posts(PostQuery(limit=len(items) + 10)).items}
    assert stored.keys() == expected_posts.keys()
    differing = [
        pid for pid, post in stored.items() if understanding(post) != understanding(expected_posts[pid])
    ]
    assert not differing, f"{len(differing)} posts differ from the reference run, e.g. {differing[:3]}"
    first = min(p.published_at for p in stored.values())
    last = max(p.published_at for p in stored.values())
    rows = store.counts(first - timedelta(hours=1), last + timedelta(hours=1))
    assert sum(r.count for r in rows) == len(stored)

    # Order-dependent links still point at stored posts, never at the post itself.
    for post in stored.values():
        assert post.duplicate_of is None or post.duplicate_of in stored, post.id
        assert post.duplicate_of != post.id, post.id
        assert post.story_id is None or post.story_id in stored, post.id

    # Incidents: every complaint is in the incident of its problem and place, once; the same problems
    # as the reference run (reposts follow their original, which is order-dependent, so they are left
    # out of the comparison but still counted once).
    incidents = {i.id: i for i in store.query_incidents(IncidentQuery(limit=100_000)).items}
    holders = Counter(pid for incident in incidents.values() for pid in incident.post_ids)
    assert max(holders.values()) == 1, "a post is attached to two incidents or twice to one"
    reference = {i.id: i for i in expected_incidents}
    complaints = [p for p in stored.values() if needs_incident(p)]
    assert complaints
    for post in complaints:
        target = incident_id_for(post)
        assert target in incidents and post.id in incidents[target].post_ids, f"{post.id} lost its incident"
        assert post.id in reference[target].post_ids
    assert {incident_id_for(p) for p in complaints} == {
        i for i, inc in reference.items() if any(needs_incident(expected_posts[p]) for p in inc.post_ids)
    }

    # No transition lost: each level reached is audited once and told once to each audience (a run's
    # steps go out as one alert per recipient and one digest for the head; risk.alerts.told_steps reads
    # which steps an alert tells of); nothing due is left.
    alerts = store.query_alerts(AlertQuery(limit=100_000)).items
    told = Counter((key[0], key[3], a.details.get("audience")) for a in alerts for key in told_steps(a))
    profile = load_profile(DEMO_PROFILE_PATH)
    escalated = 0
    for incident in incidents.values():
        levels = Counter(e.action for e in incident.audit if e.action.startswith("эскалация"))
        for level in range(1, incident.escalation_level + 1):
            assert levels[f"эскалация, уровень {level}"] == 1, f"{incident.id}: level {level} audit"
            tellings = [n for (iid, lvl, _), n in told.items() if (iid, lvl) == (incident.id, level)]
            assert tellings, f"{incident.id}: level {level} was never told"
            assert max(tellings) == 1, f"{incident.id}: level {level} told twice to one audience"
        calendar = calendar_for(profile, incident.recipient)
        due = due_escalations(incident, now, sla_for(profile, incident.recipient), calendar)
        assert not due, f"{incident.id}: a due escalation was never applied"
        escalated += incident.escalation_level > 0
    assert escalated, "the scenario escalated no incident at all"

    # Delivery: everything stored went out; nothing the webhook completed was repeated.
    assert webhook.delivered() >= {a.id for a in alerts}
    twice = webhook.twice()
    history = [(round(t, 3), e, a) for t, e, a in webhook.events if a in twice]
    assert not twice, f"alerts delivered twice: {twice}; kills {kill_times} ({killed_during}): {history}"
    assert "delivery" in killed_during and webhook.interrupted > 0
    store.close()
