"""Redis (the broker) killed and restarted during ingest: nothing acknowledged is lost, nothing doubles.

Given a real redis-server with its append-only file, a worker process group, the scheduler and a
loopback webhook, when demo items are sent the way a collector sends them (a batch counts as handed
over once the broker accepted it) and Redis is SIGKILLed and started again several times while the
workers ingest, detect and notify — once while the webhook is down, so alerts are waiting in the
queue — then every acknowledged post is in the store exactly once (ids and hourly rollups) and every
stored alert reached the webhook exactly once after recovery.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from crawlers.demo.generator import generate
from crawlers.demo.mapping import map_demo_item
from index.sqlite import SqliteStore
from index.store import AlertQuery, PostQuery
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


def test_broker_killed_during_ingest_loses_and_doubles_nothing(
    tmp_path: Path, redis_server: RedisServer, webhook: WebhookReceiver
) -> None:
    items = generate(seed=7)[0][: scale(1500, 10000)]
    kills = scale(2, 5)
    env = child_env(
        tmp_path,
        redis_server.url,
        NOTIFY__WEBHOOK_URL=webhook.url,
        INFOPOLE_REDELIVER_PERIOD_S="2",
        INFOPOLE_ESCALATE_PERIOD_S="3600",
    )
    store = SqliteStore(tmp_path / "infopole.sqlite3")
    workers = WorkerGroup(tmp_path, env)
    workers.start()
    scheduler = launch(env, "scheduler", log_file=tmp_path / "scheduler.log")
    producer = Producer(redis_server.url)
    done = threading.Event()
    outages: list[int] = []

    def break_the_broker() -> None:
        step = len(items) // (kills + 1)
        for n in range(kills):
            threshold = step * (n + 1)
            while store.count_posts(PostQuery()) < threshold:
                if done.is_set():
                    return
                time.sleep(0.1)
            if n == 0:
                # Alerts pile up in the notify queue (retries waiting out a back-off), then the broker dies.
                webhook.failing = True
                deadline = time.monotonic() + 120
                while webhook.refused == 0 and time.monotonic() < deadline and not done.is_set():
                    time.sleep(0.1)
            outages.append(store.count_posts(PostQuery()))
            redis_server.kill()
            time.sleep(1.0 + n % 3)
            redis_server.start()
            webhook.failing = False

    breaker = threading.Thread(target=break_the_broker, daemon=True)
    breaker.start()
    try:
        retried = 0
        for start in range(0, len(items), BATCH):
            retried += producer.send_acknowledged("ingest", "demo", items[start : start + BATCH]) - 1
            time.sleep(0.05)
        breaker.join(timeout=600)
        assert not breaker.is_alive(), "the workers stopped making progress"
        done.set()
        producer.drain(timeout_s=scale(300, 900))
        stored_alerts = {a.id for a in store.query_alerts(AlertQuery(limit=100_000)).items}
        wait_until(lambda: webhook.delivered() >= stored_alerts, 120, "every stored alert to be delivered")
    finally:
        done.set()
        kill_group(scheduler)
        workers.stop()
        producer.close()

    assert len(outages) == kills and all(n < len(items) for n in outages), outages
    expected = {map_demo_item(item, b"k").id for item in items}
    stored = store.query_posts(PostQuery(limit=len(items) + 10)).items
    assert len(stored) == len(expected) and {p.id for p in stored} == expected
    first, last = min(p.published_at for p in stored), max(p.published_at for p in stored)
    rows = store.counts(first - timedelta(hours=1), last + timedelta(hours=1))
    assert sum(r.count for r in rows) == len(expected), "a redelivered batch was counted twice"
    assert stored_alerts, "the stream raised no alert at all"
    assert webhook.delivered() == stored_alerts
    assert not webhook.twice(), f"alerts delivered twice: {webhook.twice()}"
    assert webhook.refused > 0, "the webhook outage did not hold any alert back"
    store.close()
