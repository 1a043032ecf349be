"""The dramatiq broker: Redis at REDIS__URL, shared by the API, the workers and the scheduler.

Enqueuing waits out a broker outage. dramatiq's Retries middleware re-enqueues a failed message and the
worker acks the original afterwards; if Redis is down at that moment, the re-enqueue fails (logged, not
raised) while the ack is retried until Redis is back — so the message was gone for good. The same held
for a message an actor sends (`detect_batch.send`) and for a collector's batch. `ResilientRedisBroker`
retries the enqueue command itself, reconnecting, for up to ENQUEUE_RETRY_S seconds with the same Redis
message id, so a retry whose first try did land writes the same entry again instead of a second message
(and a message that is processed twice anyway changes nothing: every step is idempotent).

A worker also forgets messages over an outage: dramatiq drops its consumer's prefetched messages and
its local queue of delayed ones (notify retries wait there) when the connection breaks, while Redis
keeps them in this worker's in-flight set — requeued only once the worker is seen dead, which a live
worker never is. So on a connection error the broker takes a new worker id: the old id stops beating,
and once its heartbeat is stale the queue maintenance requeues what it held (at-least-once again).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

#: How long a worker may stay silent before its unacknowledged messages are requeued (ms).
HEARTBEAT_TIMEOUT_MS = int(os.environ.get("INFOPOLE_BROKER_HEARTBEAT_MS", "15000"))
#: Per-million chance that a broker command also runs queue maintenance (requeue of dead workers).
MAINTENANCE_CHANCE = int(os.environ.get("INFOPOLE_BROKER_MAINTENANCE_CHANCE", "20000"))
#: How long an enqueue keeps retrying while the broker is unreachable (s).
ENQUEUE_RETRY_S = float(os.environ.get("INFOPOLE_ENQUEUE_RETRY_S", "300"))
#: Pauses between enqueue attempts (s): doubling from the first to the last.
ENQUEUE_PAUSE_S = (0.1, 2.0)

log = logging.getLogger(__name__)


class BrokerNotConfigured(RuntimeError):
    """No Redis URL is configured for a process that needs the broker."""


def redis_url() -> str:
    """Return the broker URL from REDIS__URL; raise BrokerNotConfigured if it is empty."""
    url = os.environ.get("REDIS__URL", "")
    if not url:
        raise BrokerNotConfigured(
            "брокер не настроен: задайте REDIS__URL "
            "(или запустите `infopole run`, он поднимет встроенный Redis)"
        )
    return url


class ResilientRedisBroker(RedisBroker):
    """A Redis broker whose enqueue command is retried (same message id) while Redis is unreachable."""

    enqueue_retry_s: float = ENQUEUE_RETRY_S

    def _dispatch(self, command: str) -> Callable[..., Any]:
        """Return the command's script call; a connection error makes this worker take a new id."""
        call: Callable[..., Any] = super()._dispatch(command)  # type: ignore[no-untyped-call]

        def dispatch(*args: Any) -> Any:
            try:
                return call(*args)
            except (redis.ConnectionError, redis.TimeoutError):
                self._new_identity()
                raise

        return dispatch

    def _new_identity(self) -> None:
        """Take a new worker id, so the messages held under the old one are requeued once it is stale."""
        old, self.broker_id = self.broker_id, str(uuid.uuid4())
        log.warning("broker connection lost: worker %s continues as %s", old, self.broker_id)

    def do_enqueue(self, queue_name: str, redis_message_id: str, data: bytes) -> Any:
        """Store and queue one message; on a connection error reconnect and try again until the deadline."""
        deadline = time.monotonic() + self.enqueue_retry_s
        pause = ENQUEUE_PAUSE_S[0]
        while True:
            try:
                return self._dispatch("enqueue")(queue_name, redis_message_id, data)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("брокер недоступен, сообщение %s ждёт отправки: %s", redis_message_id, exc)
                time.sleep(pause)
                pause = min(pause * 2, ENQUEUE_PAUSE_S[1])


def make_broker(url: str, enqueue_retry_s: float = ENQUEUE_RETRY_S) -> RedisBroker:
    """Build a Redis broker with the middleware the actors rely on (no Prometheus).

    Its enqueue waits up to `enqueue_retry_s` seconds for an unreachable broker (0: fail at once).
    """
    middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries()]
    broker = ResilientRedisBroker(  # type: ignore[no-untyped-call]
        url=url,
        middleware=middleware,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )
    broker.enqueue_retry_s = enqueue_retry_s
    return broker


def setup_broker() -> RedisBroker:
    """Create the broker from the environment and make it dramatiq's global broker."""
    broker = make_broker(redis_url())
    dramatiq.set_broker(broker)
    return broker


def rebind_actors(url: str) -> RedisBroker:
    """Point every declared actor at a new broker for `url` (a process that outlives its broker)."""
    old = dramatiq.get_broker()
    broker = make_broker(url)
    for name in old.get_declared_actors():
        actor = old.get_actor(name)
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    return broker
