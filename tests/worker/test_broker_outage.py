"""Enqueue waits out a broker restart (same message id, stored once) and the worker takes a new id."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq import Message

from tests.faults.harness import RedisServer, queued_messages
from worker.broker import make_broker


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


def test_without_a_retry_window_enqueue_fails_at_once(server: RedisServer) -> None:
    broker = make_broker(server.url, enqueue_retry_s=0)
    broker.declare_queue("infopole-ingest")
    server.kill()
    with pytest.raises(redis.ConnectionError):
        broker.enqueue(message(1))
    broker.close()
