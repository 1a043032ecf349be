"""Redis (the broker) killed and restarted during ingest: nothing acknowledged is lost, nothing doubles.

Given a real redis-server with its append-only file, a worker process group, the scheduler and a
loopback webhook that refuses every alert (503) until the broker's first restart, when demo items are
sent the way a collector sends them (a chunk counts as handed over once the broker accepted it) and the
stream itself decides when Redis dies — after a set share of the chunks is acknowledged, with one
acknowledged chunk still waiting for the workers, (the first time) once alerts have been refused and
wait in the delivery log, (later) once the workers have stored posts since the last restart — and the
producer's next chunk is refused while the broker is down, then:

- every kill landed during ingest: chunks were still unsent, one was waiting for the workers, and the
  workers had resumed storing after each restart;
- every acknowledged post is in the store exactly once (ids and hourly rollups);
- the alerts that waited across the first outage, and every alert stored since, reached the webhook
  exactly once, after the restart.

The producer drives the kills itself (no thread races ingest), so they land during ingest however fast
the workers are; nothing is paced by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis

from crawlers.demo.generator import generate
from crawlers.demo.mapping import map_demo_item
from index.models import DeliveryStatus
from index.sqlite import SqliteStore
from index.store import AlertQuery, DeliveryQuery, PostQuery
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

pytestmark = pytest.mark.timeout(scale(600, 3600))

#: Items per ingest message (what a collector chunk looks like).
BATCH = 50
#: The queue whose backlog shows that an acknowledged chunk still waits for the workers.
INGEST_QUEUE = "infopole-ingest"


def stored_alert_ids(store: SqliteStore) -> set[str]:
    """Return the ids of every stored alert."""
    return {a.id for a in store.query_alerts(AlertQuery(limit=100_000)).items}


def waiting_in_log(store: SqliteStore, alert_ids: set[str]) -> set[str]:
    """Return those of `alert_ids` with a webhook delivery still pending in the delivery log."""
    pending = store.query_deliveries(DeliveryQuery(status=[DeliveryStatus.pending], limit=100_000)).items
    return {d.alert_id for d in pending if d.alert_id in alert_ids}


def stored_more_than(store: SqliteStore, count: int) -> Callable[[], bool]:
    """Return a check that the store holds more than `count` posts."""
    return lambda: store.count_posts(PostQuery()) > count


def delivered_and_settled(
    store: SqliteStore, webhook: WebhookReceiver, quiet_s: float = 6.0
) -> Callable[[], bool]:
    """Return a check that every stored alert was delivered and none was stored for `quiet_s` seconds.

    An escalation tick stores an incident's due steps at the first tick after the incident exists (the
    demo's deadlines are long past on the wall clock), so a few quiet ticks mean the set is final.
    """
    seen: set[str] = set()
    changed = [time.monotonic()]

    def check() -> bool:
        alerts = stored_alert_ids(store)
        if alerts != seen:
            seen.clear()
            seen.update(alerts)
            changed[0] = time.monotonic()
            return False
        return webhook.delivered() >= alerts and time.monotonic() - changed[0] >= quiet_s

    return check


def test_broker_killed_during_ingest_loses_and_doubles_nothing(
    tmp_path: Path, redis_server: RedisServer, webhook: WebhookReceiver
) -> None:
    items = generate(seed=7)[0][: scale(1500, 10000)]
    chunks = [items[start : start + BATCH] for start in range(0, len(items), BATCH)]
    kills = scale(2, 5)
    # Kill n (0-based) once (n + 1) / (kills + 1) of the chunks are acknowledged; the first kill also
    # waits for refused alerts (the demo's first alert comes with its 12th chunk).
    kill_after = [max(15, len(chunks) * (n + 1) // (kills + 1)) for n in range(kills)]
    assert kill_after == sorted(set(kill_after)) and kill_after[-1] < len(chunks)
    env = child_env(
        tmp_path,
        redis_server.url,
        NOTIFY__WEBHOOK_URL=webhook.url,
        # Delivery retries wait 1-5 s (not minutes), and the escalation tick that sweeps them comes
        # every 2 s, so alerts refused before an outage go out within seconds of the webhook's recovery.
        NOTIFY__RETRY_BASE_S="1",
        NOTIFY__RETRY_MAX_S="5",
        INFOPOLE_ESCALATE_PERIOD_S="2",
        INFOPOLE_REDELIVER_PERIOD_S="2",
        # The demo profile's sources are fictional: the stream clock makes the scheduler plan no
        # collection (no network); no replay time is saved, so it reads wall time.
        INFOPOLE_CLOCK="stream",
    )
    store = SqliteStore(tmp_path / "infopole.sqlite3")
    webhook.failing = True  # from the start until the broker's first restart
    workers = WorkerGroup(tmp_path, env)
    workers.start()
    scheduler = launch(env, "scheduler", log_file=tmp_path / "scheduler.log")
    producer = Producer(redis_server.url)
    outages: list[dict[str, Any]] = []
    held_alerts: set[str] = set()
    restarted_at = 0.0
    try:
        sent = 0
        for n, threshold in enumerate(kill_after):
            while sent < threshold:
                producer.send_acknowledged("ingest", "demo", chunks[sent])
                sent += 1
            if n == 0:
                # Alerts refused by the webhook, waiting in the delivery log, when the broker dies.
                def refused_and_waiting() -> bool:
                    stored = stored_alert_ids(store)
                    return webhook.refused > 0 and bool(waiting_in_log(store, stored))

                wait_until(refused_and_waiting, 180, "an alert refused by the webhook before the outage")
            else:
                # The workers are back at work after the last restart: this kill cuts into their ingest.
                wait_until(stored_more_than(store, outages[-1]["stored"]), 180, "ingest to resume")
            # One acknowledged chunk at least still waits for the workers: the kill lands mid-ingest.
            while producer.pending([INGEST_QUEUE]) == 0:
                assert sent < len(chunks), "the stream ran out before a kill could land during ingest"
                producer.send_acknowledged("ingest", "demo", chunks[sent])
                sent += 1
            outage: dict[str, Any] = {
                "acknowledged": sent,
                "waiting": producer.pending([INGEST_QUEUE]),
                "stored": store.count_posts(PostQuery()),
            }
            if n == 0:
                held_alerts = waiting_in_log(store, stored_alert_ids(store))
                outage["held_alerts"] = len(held_alerts)
                outage["delivered_before"] = len(webhook.delivered())
            redis_server.kill()
            # The producer's next chunk is refused while the broker is down (a collector keeps it).
            refusals = 0
            down_until = time.monotonic() + 1.0 + n % 3
            while refusals == 0 or time.monotonic() < down_until:
                with pytest.raises((redis.ConnectionError, OSError)):
                    producer.send("ingest", "demo", chunks[sent])
                refusals += 1
                time.sleep(0.2)
            outage["refusals"] = refusals
            outages.append(outage)
            redis_server.start()
            if n == 0:
                restarted_at = time.monotonic()
                webhook.failing = False
            producer.send_acknowledged("ingest", "demo", chunks[sent])
            sent += 1
        while sent < len(chunks):
            producer.send_acknowledged("ingest", "demo", chunks[sent])
            sent += 1
        producer.drain(timeout_s=scale(300, 900))
        # The scheduler keeps running: its escalation tick also sweeps deliveries left waiting (a flush
        # lock held by a run the outage cut off lapses, then the next sweep sends what queued behind it).
        wait_until(delivered_and_settled(store, webhook), 180, "every stored alert to be delivered")
    finally:
        kill_group(scheduler)
        workers.stop()
        producer.close()

    print(f"outages: {outages}; alerts: {len(stored_alert_ids(store))}, refused: {webhook.refused}")
    # Every kill landed during ingest, with alerts held back before the first.
    assert len(outages) == kills, outages
    for outage in outages:
        assert outage["acknowledged"] < len(chunks) and outage["waiting"] > 0, outages
        assert outage["refusals"] > 0, outages
    assert all(a["stored"] < b["stored"] for a, b in pairwise(outages)), outages
    assert outages[0]["held_alerts"] > 0 and outages[0]["delivered_before"] == 0, outages

    # Posts: every acknowledged one stored once, counted once.
    expected = {map_demo_item(item, b"k").id for item in items}
    stored = store.query_posts(PostQuery(limit=len(items) + 10)).items
    assert len(stored) == len(expected) and {p.id for p in stored} == expected
    first, last = min(p.published_at for p in stored), max(p.published_at for p in stored)
    rows = store.counts(first - timedelta(hours=1), last + timedelta(hours=1))
    assert sum(r.count for r in rows) == len(expected), "a redelivered batch was counted twice"

    # Alerts: each delivered exactly once; those held across the first outage only after the restart.
    alerts = stored_alert_ids(store)
    assert webhook.delivered() == alerts
    assert not webhook.twice(), f"alerts delivered twice: {webhook.twice()}"
    first_delivery: dict[str, float] = {}
    for at, event, alert_id in webhook.events:
        if event == "delivered":
            first_delivery.setdefault(alert_id, at)
    assert held_alerts <= alerts
    assert all(first_delivery[a] > restarted_at for a in held_alerts)
    assert webhook.refused > 0
    store.close()
