"""Scheduler restarted: no periodic job runs twice for the same slot.

Given the real scheduler process (`python -m worker.scheduler`) on a real Redis with no worker
running, when it is SIGKILLed or stopped at random moments and started again at once — sometimes
while the previous one is still alive, as after a botched deploy — then every escalation slot and
every collection slot was enqueued exactly once.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.faults.conftest import scale
from tests.faults.harness import RedisServer, child_env, kill_group, launch, queued_messages, wait_until

pytestmark = pytest.mark.timeout(scale(600, 3600))

#: Escalation period of the scenario (s): many slots in a short run.
PERIOD_S = 1


def _claimed(client: redis.Redis) -> int:
    """Return how many escalation slots were claimed so far."""
    return len(client.keys("infopole:slot:escalate:*"))


def _wait_for_claims(client: redis.Redis, more: int, what: str) -> None:
    """Wait until `more` new escalation slots are claimed."""
    before = _claimed(client)
    wait_until(lambda: _claimed(client) >= before + more, 60, what)


def test_restarted_scheduler_never_enqueues_a_slot_twice(tmp_path: Path, redis_server: RedisServer) -> None:
    env = child_env(tmp_path, redis_server.url, INFOPOLE_ESCALATE_PERIOD_S=str(PERIOD_S))
    client = redis.Redis.from_url(redis_server.url)
    rng = random.Random(8)
    restarts = scale(3, 20)
    overlaps = 0
    current = launch(env, "scheduler")
    try:
        for n in range(restarts):
            # Let this one start (imports take seconds) and claim a slot, then cut it at a random moment.
            _wait_for_claims(client, 1, "the scheduler to claim a slot")
            time.sleep(rng.uniform(0.0, 2.0))
            if n % 3 == 2:
                # A second scheduler starts before the first one is gone (a botched deploy).
                extra = launch(env, "scheduler")
                _wait_for_claims(client, 4, "slots while two schedulers run")
                kill_group(current, signal.SIGKILL)
                current = extra
                overlaps += 1
                continue
            kill_group(current, signal.SIGKILL if n % 2 else signal.SIGTERM)
            current = launch(env, "scheduler")
        _wait_for_claims(client, 2, "the last scheduler to claim slots")
    finally:
        kill_group(current, signal.SIGTERM)
        client.close()

    detect_queue = queued_messages(redis_server.url, "infopole-detect")
    escalations = Counter(m.args[0] for m in detect_queue if m.actor_name == "escalate")
    assert len(escalations) >= restarts
    twice = {slot: n for slot, n in escalations.items() if n > 1}
    assert not twice, f"escalation slots enqueued more than once: {twice}"

    collects = Counter(tuple(m.args) for m in queued_messages(redis_server.url, "infopole-collect"))
    assert collects, "the web collector (enabled without credentials) was never scheduled"
    assert max(collects.values()) == 1, f"a collection slot was enqueued twice: {collects}"
    assert overlaps >= 1
