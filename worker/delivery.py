"""Alert delivery bookkeeping in Redis: queued, being sent, delivered — so every stored alert goes out once.

The store is the outbox: an alert exists once it is stored. Queuing its delivery is a second step that
a crash or a broker outage can cut off (the alert is stored, `notify.send` never happened, and a retry
of the detection does not re-create an alert that already exists). So:

- `mark_queued` records that a notify message was accepted by the broker (kept QUEUED_TTL_S);
- `undelivered` lists recent stored alerts that are neither delivered nor queued, and the periodic
  `redeliver` job queues them again;
- the notify actor skips an alert already delivered and holds a short `claim_sending` lock while it
  sends, so two notify messages for one alert (the normal path and a re-queue) deliver it once.

A notify message run again after `mark_delivered` was missed sends nothing twice either: each delivery
is claimed and marked sent per channel and recipient in worker.notify.delivery (at most once for
Telegram and e-mail; a webhook repeat carries the same delivery id for its receiver to drop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from redis import Redis

from index.store import AlertQuery, Store

#: How long a queued notify message counts as pending before the alert is queued again (s).
QUEUED_TTL_S = 3600
#: How long a delivery is remembered (s); alerts older than this are never re-queued anyway.
DELIVERED_TTL_S = 30 * 24 * 3600
#: How far back `undelivered` looks (alerts created earlier are not re-queued).
LOOKBACK = timedelta(days=2)
#: Alerts read per page by `undelivered`.
PAGE = 500

_PREFIX = "infopole:alert"


def _key(state: str, alert_id: str) -> str:
    return f"{_PREFIX}:{state}:{alert_id}"


def mark_queued(client: Redis, alert_id: str) -> None:
    """Record that a notify message for the alert is in the queue."""
    client.set(_key("queued", alert_id), "1", ex=QUEUED_TTL_S)


def queue_delivery(client: Redis, send: Callable[[str], object], alert_id: str) -> None:
    """Send the notify message, then record it as queued (raises if the broker refused it)."""
    send(alert_id)
    mark_queued(client, alert_id)


def is_delivered(client: Redis, alert_id: str) -> bool:
    """Return whether the alert was delivered already."""
    return bool(client.exists(_key("delivered", alert_id)))


def mark_delivered(client: Redis, alert_id: str) -> None:
    """Record the alert as delivered (and no longer queued)."""
    pipe = client.pipeline()
    pipe.set(_key("delivered", alert_id), "1", ex=DELIVERED_TTL_S)
    pipe.delete(_key("queued", alert_id))
    pipe.execute()


def claim_sending(client: Redis, alert_id: str, ttl_ms: int) -> bool:
    """Take the alert's sending lock for `ttl_ms` ms; return False if another worker holds it."""
    return bool(client.set(_key("sending", alert_id), "1", nx=True, px=ttl_ms))


def release_sending(client: Redis, alert_id: str) -> None:
    """Release the alert's sending lock."""
    client.delete(_key("sending", alert_id))


def _pending_flags(client: Redis, alert_ids: Sequence[str]) -> list[bool]:
    """Return, per alert, whether it is delivered or queued already."""
    pipe = client.pipeline()
    for alert_id in alert_ids:
        pipe.exists(_key("delivered", alert_id), _key("queued", alert_id))
    return [bool(count) for count in pipe.execute()]


def undelivered(store: Store, client: Redis, now: datetime, lookback: timedelta = LOOKBACK) -> list[str]:
    """Return ids of unacknowledged alerts created since `now - lookback`, neither delivered nor queued."""
    found: list[str] = []
    offset = 0
    while True:
        query = AlertQuery(acknowledged=False, since=now - lookback, limit=PAGE, offset=offset)
        page = store.query_alerts(query)
        ids = [alert.id for alert in page.items]
        if ids:
            flags = _pending_flags(client, ids)
            found += [alert_id for alert_id, done in zip(ids, flags, strict=True) if not done]
        offset += len(ids)
        if not ids or offset >= page.total:
            return found
