"""The dramatiq broker: Redis at REDIS__URL, shared by the API, the workers and the scheduler."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

#: How long a worker may stay silent before its unacknowledged messages are requeued (ms).
HEARTBEAT_TIMEOUT_MS = int(os.environ.get("INFOPOLE_BROKER_HEARTBEAT_MS", "15000"))
#: Per-million chance that a broker command also runs queue maintenance (requeue of dead workers).
MAINTENANCE_CHANCE = int(os.environ.get("INFOPOLE_BROKER_MAINTENANCE_CHANCE", "20000"))


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


def make_broker(url: str) -> RedisBroker:
    """Build a Redis broker with the middleware the actors rely on (no Prometheus)."""
    middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries()]
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=url,
        middleware=middleware,
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


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
